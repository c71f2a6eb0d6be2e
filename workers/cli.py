"""The ``sclic`` program: the web side's commands (:mod:`backend.cli`) and the codecs'.

This is the composition root of the command line. It adds ``codecs list`` and ``compress``,
which need the codec registry, lets this process run tasks by name, and, when no REDIS_URL is
set, serves the app that runs them in-process and reports its codecs (:mod:`workers.embedded`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from backend.cli import app, console, fail, use_app_factory
from backend.core.config import get_settings
from workers import embedded

codecs_app = typer.Typer(help="The codec registry.", no_args_is_help=True)
app.add_typer(codecs_app, name="codecs")


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
    from workers.codecs.errors import CodecError
    from workers.codecs.pipeline import run_one
    from workers.codecs.registry import get_entry

    try:
        get_entry(codec).setting(setting)
    except KeyError as exc:
        raise fail(str(exc).strip("'\"")) from None
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        raise fail(f"no such file: {', '.join(missing)}")
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
                scores = r.scores
                assert scores is not None  # run_one measures unless told not to
                ms_ssim = f"{scores.ms_ssim:.4f}" if scores.ms_ssim is not None else "n/a"
                psnr = f"{scores.psnr:.2f} dB" if scores.psnr is not None else "lossless"
                typer.echo(
                    f"{path}\tbpp {r.bpp:.4f}\tPSNR {psnr}\tSSIM {scores.ssim:.4f}"
                    f"\tMS-SSIM {ms_ssim}\t-> {r.reconstruction_path}"
                )
            progress.advance(task)
    if failed:
        raise typer.Exit(code=1)


def compose() -> typer.Typer:
    """The whole command line: tasks run in this process by name, and ``serve``/``demo`` serve
    the embedded app when no REDIS_URL is set."""
    embedded.install_runner()
    if not get_settings().redis_url:
        use_app_factory(embedded.APP_FACTORY)
    return app


def main() -> None:
    compose()()


if __name__ == "__main__":
    main()
