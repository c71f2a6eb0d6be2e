"""The ``sclic`` command line: serve, demo, database, users, tokens."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from backend.agreement.cli import agreement_app
from backend.core.config import get_settings
from backend.ingest.cli import ingest_command
from backend.models import Role

app = typer.Typer(help="sclic: datasets of miscompressions.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for researchers' scripts.", no_args_is_help=True)
codecs_app = typer.Typer(help="The codec registry.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(codecs_app, name="codecs")
app.command("ingest")(ingest_command)
app.add_typer(agreement_app, name="agreement", help="Inter-labeler agreement on grid units.")

console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
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
        raise _fail("user names are 1–64 letters, digits, '.', '_' or '-'")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise _fail("the password must not be empty")
    with Session(get_engine()) as session:
        try:
            user = create_user(session, name, password, role)
        except UserExistsError as exc:
            raise _fail(str(exc)) from None
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
            raise _fail(f"no user {user!r}")
        token = create_api_token(session, row, name)
    typer.echo(token)


@codecs_app.command("list")
def codecs_list() -> None:
    """Every registered codec, its settings, and what is missing for the unavailable ones."""
    from rich.table import Table

    from workers.codecs.registry import registry_table

    weights_dir = get_settings().effective_weights_dir
    rows = registry_table(weights_dir)
    table = Table(title=f"codecs (weights folder: {weights_dir})")
    for column in ("id", "paper", "name", "family", "low", "high", "available"):
        table.add_column(column, overflow="fold")
    for row in rows:
        ok = "[green]yes[/green]" if row["available"] else "[red]no[/red]"
        table.add_row(
            row["id"], row["paper"] or "-", row["name"], row["family"], row["low"], row["high"], ok
        )
    out = Console()
    out.print(table)
    for row in rows:
        out.print(f"[bold]{row['id']}[/bold] source: {row['source']}", soft_wrap=True)
        if row["note"]:
            out.print(f"[bold]{row['id']}[/bold] note: {row['note']}", soft_wrap=True)
        if not row["available"]:
            out.print(f"[bold]{row['id']}[/bold] missing: {row['missing']}", soft_wrap=True)


@app.command()
def compress(
    images: Annotated[list[Path], typer.Argument(help="PNG images (8-bit RGB)")],
    codec: Annotated[str, typer.Option("--codec", help="codec id, see `sclic codecs list`")],
    setting: Annotated[str, typer.Option("--setting", help="low or high")] = "low",
    out: Annotated[Path, typer.Option(help="output folder")] = Path("compressed"),
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda; default: cuda if present")
    ] = None,
) -> None:
    """Compress images one-off (no database): prints bpp and quality per image."""
    from workers.allocator import keep_freed_memory
    from workers.codecs.errors import CodecError
    from workers.codecs.pipeline import run_one
    from workers.codecs.registry import get_entry

    keep_freed_memory()

    try:
        get_entry(codec).setting(setting)
    except KeyError as exc:
        raise _fail(str(exc).strip("'\"")) from None
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        raise _fail(f"no such file: {', '.join(missing)}")
    weights_dir = get_settings().effective_weights_dir
    failed = 0
    with Progress(console=console) as progress:
        task = progress.add_task(f"codec {codec} {setting}", total=len(images))
        for path in images:
            try:
                r = run_one(codec, setting, path, out, device=device, weights_dir=weights_dir)
            except CodecError as exc:
                failed += 1
                progress.console.print(f"[red]{path}: {exc}[/red]")
            else:
                ms_ssim = f"{r['ms_ssim']:.4f}" if r["ms_ssim"] is not None else "n/a"
                psnr = f"{r['psnr']:.2f} dB" if r["psnr"] is not None else "lossless"
                typer.echo(
                    f"{path}\tbpp {r['bpp']:.4f}\tPSNR {psnr}\tSSIM {r['ssim']:.4f}"
                    f"\tMS-SSIM {ms_ssim}\t-> {r['reconstruction_path']}"
                )
            progress.advance(task)
    if failed:
        raise typer.Exit(code=1)


def _serve(host: str, port: int) -> None:
    # A fresh interpreter, so the web server never carries what the CLI imported (torch).
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "uvicorn",
            "backend.main:create_app",
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
    from backend.services.tasks import drain_local_tasks
    from workers.tasks import compress

    upgrade_head()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("demo data", total=None)
        with Session(get_engine()) as session:
            load_demo_data(
                session,
                password=settings.demo_password,
                run_job=compress.run,
                progress=lambda msg: progress.update(task, description=msg),
            )
        progress.update(task, description="making tiles")
        drain_local_tasks()
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
