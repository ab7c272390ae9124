"""What a scenario found: one row of the table per check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Check", "table"]


@dataclass(frozen=True)
class Check:
    """One thing a scenario checked, the figure it measured, and whether it held."""

    scenario: str
    checked: str
    figure: str
    ok: bool


def table(checks: Sequence[Check]) -> str:
    """The checks as one plain-text table, a header and a row each."""
    rows = [("scenario", "checked", "figure", "result")]
    rows += [(c.scenario, c.checked, c.figure, "pass" if c.ok else "FAIL") for c in checks]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
