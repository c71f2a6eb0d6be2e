"""The ``sclic`` command line, web side: serve, demo, database, users, tokens, ingest, agreement.

The ``sclic`` program itself is :mod:`workers.cli`, the composition root: it adds the commands
that need the codecs and, when no REDIS_URL is set, points :func:`serve` and :func:`demo` at an
app that runs tasks in-process (:func:`use_app_factory`). Run alone, these commands never
import the workers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.agreement.cli import agreement_app
from backend.core.config import get_settings
from backend.models import Role

app = typer.Typer(help="sclic: datasets of miscompressions.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for researchers' scripts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(agreement_app, name="agreement", help="Inter-labeler agreement on grid units.")

console = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print the reason and give the exit (status 2) to raise."""
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision (alembic upgrade head)."""
    from backend.core.migrate import upgrade_head

    upgrade_head()
    console.print("database at the newest revision")


@users_app.command("create")
def users_create(
    name: str,
    role: Annotated[Role, typer.Option("--role", help="admin, labeler or researcher")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a user; the password comes from a prompt, or from stdin with --password-stdin."""
    import re

    from sqlmodel import Session

    from backend.core.db import get_engine
    from backend.services.auth import USERNAME_PATTERN, UserExistsError, create_user

    if not re.match(USERNAME_PATTERN, name):
        raise fail("user names are 1–64 letters, digits, '.', '_' or '-'")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise fail("the password must not be empty")
    with Session(get_engine()) as session:
        try:
            user = create_user(session, name, password, role)
        except UserExistsError as exc:
            raise fail(str(exc)) from None
    console.print(f"created {user.role.value} {user.username!r}")


@tokens_app.command("create")
def tokens_create(
    user: str, name: Annotated[str, typer.Option(help="what the token is for")] = ""
) -> None:
    """Create an API token for USER and print it once (only its hash is kept)."""
    from sqlmodel import Session, select

    from backend.core.db import get_engine
    from backend.models import User
    from backend.services.auth import create_api_token

    with Session(get_engine()) as session:
        row = session.exec(select(User).where(User.username == user)).first()
        if row is None:
            raise fail(f"no user {user!r}")
        token = create_api_token(session, row, name)
    typer.echo(token)


@app.command("ingest")
def ingest(
    folder: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, dir_okay=True, resolve_path=True, help="folder to scan"
        ),
    ],
    dataset: Annotated[str, typer.Option("--dataset", help="source dataset name, e.g. DIV2K")],
    scale: Annotated[
        float | None,
        typer.Option("--scale", min=0.0, max=1.0, help="resize first, e.g. 0.4 for RAISE"),
    ] = None,
    convert: Annotated[
        bool,
        typer.Option("--convert", help="convert grayscale, 16-bit and opaque RGBA faithfully"),
    ] = False,
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", help="descend into sub-folders")
    ] = True,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="also write the report as CSV to this file")
    ] = None,
) -> None:
    """Prepare and store every PNG, JPEG and TIFF file in FOLDER as a source image.

    Paper, section 3.1 and appendix 1.1: each source dataset (CLIC, DIV2K, RAISE) arrives as a
    folder and is prepared the same way; RAISE was first resized to 40 % (``--scale 0.4``) and
    converted from TIFF (``--convert`` also accepts grayscale, 16-bit and opaque RGBA files by
    faithful conversion). Prints one line per file, taken or refused with the reason, and exits
    0 whatever was refused: refusals are the expected outcome of preparation, not errors.
    Running it again on the same folder stores nothing twice.
    """
    from sqlmodel import Session

    from backend.core.db import get_engine
    from backend.services import ingest_db

    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            ds = ingest_db.dataset_for(session, dataset, scale)
        except ingest_db.IngestError as exc:
            raise fail(str(exc)) from None
        options = ingest_db.prepare_options(
            ds, ingest_db.IngestOptions(scale=scale, convert=convert, recursive=recursive)
        )
        files = ingest_db.folder_files(folder, recursive)
        with Progress(
            TextColumn("[bold]ingest[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(ds.name, total=len(files))
            report = ingest_db.ingest_files(
                session, ds, files, options, on_line=lambda _line: progress.advance(task)
            )
    # Plain lines, never wrapped to the terminal's width, so the report can be grepped.
    typer.echo(report.to_text(), nl=False)
    if csv_path is not None:
        csv_path.write_text(report.to_csv(), encoding="utf-8")
        console.print(f"report written to {csv_path}")


# The app uvicorn serves. The composition root (workers.cli) replaces it, when no REDIS_URL is
# set, with one that also runs the tasks in-process.
_app_factory = "backend.main:create_app"


def use_app_factory(path: str) -> None:
    """Serve the app ``module:function`` builds (``serve`` and ``demo``)."""
    global _app_factory
    _app_factory = path


def _serve(host: str, port: int) -> None:
    # A fresh interpreter, so the web server never carries what the CLI imported.
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "uvicorn",
            _app_factory,
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--no-access-log",
        ],
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: SCLIC_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default: SCLIC_PORT or 8000")] = None,
    migrate: Annotated[bool, typer.Option(help="run migrations first")] = True,
) -> None:
    """Serve the platform."""
    settings = get_settings()
    if migrate:
        db_upgrade()
    _serve(host or settings.host, port or settings.port)


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="default: SCLIC_PORT or 8000")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="default: SCLIC_DATA_DIR or ./data")
    ] = None,
    load_only: Annotated[bool, typer.Option(help="load demo data, do not serve")] = False,
) -> None:
    """Load demo data (real photographs, real codecs) and serve the platform in demo mode."""
    os.environ["SCLIC_DEMO_MODE"] = "1"
    if data_dir is not None:
        os.environ["SCLIC_DATA_DIR"] = str(data_dir.resolve())
    if port is not None:
        os.environ["SCLIC_PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    from sqlmodel import Session

    from backend.core.db import get_engine
    from backend.core.migrate import upgrade_head
    from backend.demo import DEMO_USERS, load_demo_data
    from backend.services import tasks

    if not tasks.local_runner_installed():
        raise fail("the demo runs its codecs in this process: start it with `sclic demo`")
    upgrade_head()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("demo data", total=None)
        with Session(get_engine()) as session:
            load_demo_data(
                session,
                password=settings.demo_password,
                run_job=lambda job_id: tasks.run_in_process("compress", job_id),
                progress=lambda msg: progress.update(task, description=msg),
            )
        progress.update(task, description="making tiles")
        tasks.drain_local_tasks()
    console.print(f"[bold]sclic demo[/bold] at http://{settings.host}:{settings.port}/")
    console.print(f"data folder: {settings.data_dir}")
    console.print(
        "accounts: "
        + ", ".join(f"{u} ({r.value})" for u, r in DEMO_USERS)
        + f"; password: {'$SCLIC_DEMO_PASSWORD' if 'SCLIC_DEMO_PASSWORD' in os.environ else 'demo'}"
    )
    if not load_only:
        _serve(settings.host, settings.port)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
