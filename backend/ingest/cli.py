"""``sclic ingest DIR --dataset NAME``: take a folder of source images into the platform.

Paper, section 3.1 and appendix 1.1: each source dataset (CLIC, DIV2K, RAISE) arrives as a
folder and is prepared the same way; RAISE was first resized to 40 % (``--scale 0.4``) and
converted from TIFF (``--convert`` also accepts grayscale, 16-bit and opaque RGBA files by
faithful conversion). The command prints one line per file, taken or refused with the reason,
and exits 0 whatever was refused: refusals are the expected outcome of preparation, not errors.
Running it again on the same folder stores nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

ingest_app = typer.Typer(help="Ingest source images.", no_args_is_help=True)
console = Console(stderr=True)


def ingest_command(
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
    """Prepare and store every PNG, JPEG and TIFF file in FOLDER as a source image."""
    from sqlmodel import Session

    from backend.core.db import get_engine
    from backend.services import ingest_db

    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            ds = ingest_db.dataset_for(session, dataset, scale)
        except ingest_db.IngestError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=2) from None
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


ingest_app.command("ingest")(ingest_command)


def main() -> None:
    ingest_app()


if __name__ == "__main__":
    main()
