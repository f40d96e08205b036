"""``tablemend doctor gate``'s output: a table, JSON (the envelope), GitHub annotations, SARIF or JUnit XML."""

from __future__ import annotations

from tablemend.clitools import OutputFormat, ReportFormat, dumps_plain, render_json, render_rows, write_out
from tablemend.doctor.gate import GateResult
from tablemend.doctor.render import Report


def render(result: GateResult, report: Report, fmt: ReportFormat) -> None:
    if fmt is ReportFormat.json:
        render_json(result.as_dict(), profile=result.profile)
        return
    if fmt is ReportFormat.github:
        from tablemend.doctor.render import github

        github.gate(result, report)
        return
    if fmt is ReportFormat.sarif:
        from tablemend.doctor.render import sarif

        write_out(dumps_plain(sarif.gate(result, report)) + "\n")
        return
    if fmt is ReportFormat.junit:
        from tablemend.doctor.render import junit

        write_out(junit.gate(result, report))
        return
    verdict_rows = [{"constraint": v.constraint.name, "definition": v.constraint.definition,
                     "creatable": "n/a" if v.creatable is None else ("yes" if v.creatable else "NO"),
                     "blocking": v.groups, "note": v.note or ""} for v in result.verdicts]
    render_rows(verdict_rows, OutputFormat.table, title=f"doctor gate ({result.profile}, {report.where})")
    for v in result.verdicts:
        if not v.blockers:
            continue
        rows = [{"#": n, **r} for n, b in enumerate(v.blockers, 1) for r in b.rows]
        shown = f"first {len(v.blockers)} of {v.groups}" if v.groups > len(v.blockers) else str(v.groups)
        render_rows(rows, OutputFormat.table, title=f"{v.constraint.name}: {shown} blocking group(s)",
                    columns=("#", "row_id", "booking_id", "status", "window", "slot_id", "reason"))
