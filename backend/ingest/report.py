"""The ingest report: one line per file, taken or refused, with the reason.

The paper (section 3.1) reports how many images were removed and why ("did not have three
channels or were corrupted"; appendix table 1: considered versus selected). Keeping a line per
file, with a stable reason code, lets an operator reproduce such counts and fix or re-export
the refused files. The report renders as text for the console, CSV for spreadsheets and JSON for
the API.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backend.ingest.prepare import PrepareOutcome
from backend.ingest.validate import Rejection

CSV_COLUMNS = ("source", "status", "reason_code", "message", "sha256", "width", "height", "notes")


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One file's result; ``reason_code`` is None for a taken file."""

    source: str
    taken: bool
    reason_code: str | None
    message: str
    sha256: str | None
    width: int | None = None
    height: int | None = None
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return "taken" if self.taken else "refused"


def line_for(source: str | Path, outcome: PrepareOutcome | Rejection) -> ReportLine:
    """The report line of one preparation outcome."""
    name = str(source)
    if isinstance(outcome, Rejection):
        return ReportLine(
            source=name,
            taken=False,
            reason_code=str(outcome.reason_code),
            message=outcome.message,
            sha256=outcome.sha256,
        )
    return ReportLine(
        source=name,
        taken=True,
        reason_code=None,
        message=f"prepared {outcome.width}×{outcome.height} PNG",
        sha256=outcome.sha256,
        width=outcome.width,
        height=outcome.height,
        notes=outcome.notes,
    )


@dataclass(slots=True)
class IngestReport:
    """Taken and refused files of one ingest, in the order they were processed."""

    lines: list[ReportLine] = field(default_factory=list)

    def add(self, source: str | Path, outcome: PrepareOutcome | Rejection) -> ReportLine:
        line = line_for(source, outcome)
        self.lines.append(line)
        return line

    @property
    def taken(self) -> list[ReportLine]:
        return [line for line in self.lines if line.taken]

    @property
    def refused(self) -> list[ReportLine]:
        return [line for line in self.lines if not line.taken]

    def counts(self) -> dict[str, Any]:
        """Totals and refusals per reason code (sorted by code), as the paper's table 1."""
        reasons = Counter(line.reason_code for line in self.refused)
        return {
            "considered": len(self.lines),
            "taken": len(self.taken),
            "refused": len(self.refused),
            "converted": sum(
                1 for line in self.taken if any(n.startswith("converted:") for n in line.notes)
            ),
            "refused_by_reason": {code: reasons[code] for code in sorted(reasons, key=str)},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "lines": [{**asdict(line), "status": line.status} for line in self.lines],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def to_csv(self) -> str:
        """One row per file; notes joined with ``; ``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for line in self.lines:
            writer.writerow(
                [
                    line.source,
                    line.status,
                    line.reason_code or "",
                    line.message,
                    line.sha256 or "",
                    "" if line.width is None else line.width,
                    "" if line.height is None else line.height,
                    "; ".join(line.notes),
                ]
            )
        return buffer.getvalue()

    def to_text(self) -> str:
        """A console summary: totals, refusals per reason, then one line per file."""
        counts = self.counts()
        out = [
            f"{counts['considered']} considered, {counts['taken']} taken "
            f"({counts['converted']} converted), {counts['refused']} refused"
        ]
        out += [f"  {code}: {n}" for code, n in counts["refused_by_reason"].items()]
        for line in self.lines:
            if line.taken:
                extra = f" [{'; '.join(line.notes)}]" if line.notes else ""
                out.append(f"taken    {line.source}: {line.message}{extra}")
            else:
                out.append(f"refused  {line.source}: {line.reason_code}: {line.message}")
        return "\n".join(out) + "\n"
