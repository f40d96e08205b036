"""The scan's readable table (the default format): the first findings, then how many more there are."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tablemend.clitools import OutputFormat, err_console, render_rows
from tablemend.doctor.rules import Finding, Level

#: what a finding's row shows in a table (JSON has every field)
FINDING_COLUMNS = ("id", "title", "category", "level", "safety", "detail")
#: rows a table shows before it says how many more there are
TABLE_LIMIT = 500


def scan(findings: Iterable[Finding], title: str) -> Level | None:
    rows: list[dict[str, Any]] = []
    worst: Level | None = None
    more = 0
    for f in findings:
        worst = f.level if worst is None or f.level.rank > worst.rank else worst
        if len(rows) < TABLE_LIMIT:
            rows.append(f.as_row())
        else:
            more += 1
    render_rows(rows, OutputFormat.table, title=title, columns=FINDING_COLUMNS)
    if more:
        err_console.print(f"… and {more} more finding(s); use --format json for all of them")
    return worst
