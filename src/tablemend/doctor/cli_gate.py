"""``tablemend doctor gate``'s output: a table, JSON (with the database it checked) or GitHub annotations."""

from __future__ import annotations

from tablemend.clitools import OutputFormat, ReportFormat, render_json, render_rows
from tablemend.doctor.gate import GateResult


def render(result: GateResult, where: dict[str, str], fmt: ReportFormat) -> None:
    database = f"{where['host']}:{where['port']}/{where['dbname']}"
    if fmt is ReportFormat.json:
        render_json({"database": where, **result.as_dict()})
        return
    if fmt is ReportFormat.github:
        from tablemend import cli_annotations

        cli_annotations.gate(result, database)
        return
    verdict_rows = [{"constraint": v.constraint.name, "definition": v.constraint.definition,
                     "creatable": "n/a" if v.creatable is None else ("yes" if v.creatable else "NO"),
                     "blocking": v.groups, "note": v.note or ""} for v in result.verdicts]
    render_rows(verdict_rows, OutputFormat.table, title=f"doctor gate ({result.profile}, {database})")
    for v in result.verdicts:
        if not v.blockers:
            continue
        rows = [{"#": n, **r} for n, b in enumerate(v.blockers, 1) for r in b.rows]
        shown = f"first {len(v.blockers)} of {v.groups}" if v.groups > len(v.blockers) else str(v.groups)
        render_rows(rows, OutputFormat.table, title=f"{v.constraint.name}: {shown} blocking group(s)",
                    columns=("#", "row_id", "booking_id", "status", "window", "slot_id", "reason"))
