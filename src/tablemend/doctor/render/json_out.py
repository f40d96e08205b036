"""The scan's JSON (``--format json``): the envelope every command's JSON shares, with the findings as ``result``.

Findings are spooled (memory while small, then a temporary file) and written to stdout only when the scan has
finished, so an error half-way leaves no truncated document: stdout gets the error envelope instead.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable

from tablemend.clitools import dumps_plain, envelope
from tablemend.doctor.render import Report
from tablemend.doctor.rules import Finding, Level


def scan(findings: Iterable[Finding], report: Report) -> Level | None:
    """Write the envelope with every finding (its row: id, code, title, category, level, …); the worst level."""
    worst: Level | None = None
    head = dumps_plain(envelope([], profile=report.profile))
    before, after = head.rsplit("[]", 1)  # the result array is the envelope's last member
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8") as spool:
        spool.write(before + "[")
        for n, f in enumerate(findings):
            row = f.as_row() if report.scope is None else {**f.as_row(), "scope": report.scope}
            spool.write(("," if n else "") + "\n    " + dumps_plain(row).replace("\n", "\n    "))
            worst = f.level if worst is None or f.level.rank > worst.rank else worst
        spool.write(("\n  ]" if worst is not None else "]") + after + "\n")
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            sys.stdout.write(chunk)
    sys.stdout.flush()
    return worst
