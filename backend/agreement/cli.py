"""``sclic agreement``: the inter-labeler agreement measure from CSV files.

``compute`` prints one result per grid size, either as JSON (one object per grid size, the form
of :meth:`GridResult.to_dict`) or as a table laid out like the paper's Table 1: units per image,
total agreement, positive-only agreement and Krippendorff's α, each with its 95 % interval.
Input problems end with a one-line message and exit code 2, the code Click uses for usage errors.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backend.agreement.csvio import read_agreement_input
from backend.agreement.measure import GridResult, Interval, compute_agreement
from backend.agreement.units import DEFAULT_GRIDS, AgreementInputError, UnitRule

EXIT_INPUT_ERROR = 2

agreement_app = typer.Typer(
    help="Inter-labeler agreement on bounding boxes (paper, section 3.2.4).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


@agreement_app.callback()
def agreement() -> None:
    """Inter-labeler agreement on bounding boxes (paper, section 3.2.4)."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(EXIT_INPUT_ERROR)


def parse_grids(text: str) -> list[int]:
    """Grid sizes from a comma-separated list such as ``1,2,4,8,16``."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise AgreementInputError("--grid needs at least one grid size")
    grids: list[int] = []
    for part in parts:
        try:
            n = int(part)
        except ValueError:
            raise AgreementInputError(f"--grid: {part!r} is not an integer") from None
        if n < 1:
            raise AgreementInputError(f"--grid: grid sizes must be positive, got {n}")
        grids.append(n)
    return grids


def _percent(interval: Interval) -> tuple[str, str]:
    if not math.isfinite(interval.value):
        return ("–", "")
    return (f"{interval.value:.1f}", f"{interval.low:.2f} – {interval.high:.2f}")


def _alpha(interval: Interval) -> tuple[str, str]:
    value = f"{interval.value:.2f}" if math.isfinite(interval.value) else "undefined"
    if math.isfinite(interval.low) and math.isfinite(interval.high):
        return (value, f"{interval.low:.2f} – {interval.high:.2f}")
    return (value, "")


def results_table(results: list[GridResult], title: str) -> Table:
    """The paper's Table 1 layout for ``results``."""
    table = Table(title=title, title_justify="left")
    table.add_column("Units per image", justify="right")
    table.add_column("Total (%)", justify="right")
    table.add_column("95 % CI", justify="center", no_wrap=True)
    table.add_column("Positive only (%)", justify="right")
    table.add_column("95 % CI", justify="center", no_wrap=True)
    table.add_column("Krippendorff α", justify="right")
    table.add_column("95 % CI", justify="center", no_wrap=True)
    for result in results:
        table.add_row(
            str(result.units),
            *_percent(result.c_total),
            *_percent(result.c_pos),
            *_alpha(result.alpha),
        )
    return table


@agreement_app.command("compute")
def compute(
    boxes: Annotated[Path, typer.Option(help="BOXES.csv: image,labeler,x,y,w,h")],
    images: Annotated[Path, typer.Option(help="IMAGES.csv: image,width,height")],
    grid: Annotated[str, typer.Option(help="Grid sizes n (n × n units per image).")] = ",".join(
        str(n) for n in DEFAULT_GRIDS
    ),
    rule: Annotated[UnitRule, typer.Option(help="How a box marks a unit.")] = UnitRule.PAPER,
    labelers: Annotated[
        str | None,
        typer.Option(help="Comma-separated labelers, added to those in BOXES.csv."),
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for α's interval.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.JSON,
) -> None:
    """Measure agreement of the labelers' boxes on n × n grids of every image."""
    try:
        grids = parse_grids(grid)
        names = [n.strip() for n in labelers.split(",")] if labelers else []
        data = read_agreement_input(boxes, images, names)
        results = compute_agreement(
            data.images,
            data.boxes,
            data.labelers,
            grids=grids,
            rule=rule,
            bootstrap=bootstrap,
            seed=seed,
        )
    except AgreementInputError as exc:
        raise _fail(str(exc)) from None
    if output is OutputFormat.JSON:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2))
        return
    title = (
        f"Inter-labeler agreement: {len(data.labelers)} labelers, {len(data.images)} images, "
        f"rule {rule.value}; α interval from {bootstrap} bootstrap resamples, seed {seed}"
    )
    Console(width=120).print(results_table(results, title))
