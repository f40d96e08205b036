"""GitHub Actions annotations for the doctor's findings (``--format github``), as sqlfluff and squawk users plug
linters into CI: one workflow command per finding on stdout, ``::error title=TITLE::MESSAGE`` (``warning`` /
``notice`` for the lower levels), with GitHub's escaping: ``%``, CR and LF in the message; also ``:`` and ``,`` in a
property. Findings name no file, so the annotations attach to the run. The title is the check's code and title, the
message the finding id, category, safety, database and detail.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tablemend.doctor.gate import GateResult
from tablemend.doctor.render import Report
from tablemend.doctor.rules import Finding, Level

#: the workflow command for each finding level
COMMANDS = {Level.error: "error", Level.warning: "warning", Level.info: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(command: str, title: str, message: str) -> str:
    return f"::{command} title={escape_property(title)}::{escape_data(message)}"


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def stream(findings: Iterable[Finding], report: Report) -> Level | None:
    """Write one annotation per finding as it arrives; the worst level seen (None when there were none)."""
    worst: Level | None = None
    for f in findings:
        worst = f.level if worst is None or f.level.rank > worst.rank else worst
        rule = report.rule(f.code)
        title = f"{f.code} {rule.title}" if rule is not None else f.code
        category = f"{rule.category}, " if rule is not None else ""
        _write(annotation(COMMANDS[f.level], title,
                          f"{f.id} ({category}{f.safety.value}) in {report.where}: {f.detail}"))
    return worst


def gate(result: GateResult, report: Report) -> None:
    """One ``error`` annotation per constraint that cannot be created, naming its first blocking rows."""
    for v in result.verdicts:
        if v.creatable is not False:
            continue
        rows = ", ".join(str(r.get("row_id")) for b in v.blockers[:3] for r in b.rows)
        _write(annotation("error", f"gate {v.constraint.name}", f"{v.constraint.definition} cannot be created in "
                          f"{report.where}: {v.groups} blocking group(s); rows {rows or '-'}"))
