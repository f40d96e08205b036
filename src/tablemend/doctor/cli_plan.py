"""``tablemend doctor plan`` / ``repair``: showing a plan (streamed), the slow-repair notes, and reading and writing
reviewed-plan files (``plan --out`` / ``repair --plan``). CLI layer only."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import typer

from tablemend import db
from tablemend.clitools import (
    OutputFormat,
    console,
    dumps_line,
    dumps_plain,
    envelope,
    err_console,
    is_interactive,
    note_profile,
    render_json,
    render_rows,
)
from tablemend.doctor import access, costs, planfile, repairs
from tablemend.doctor.changes import RowChange
from tablemend.doctor.render.table import FINDING_COLUMNS, TABLE_LIMIT
from tablemend.doctor.rules import Context
from tablemend.errors import PlanFileInvalid, RepairRefused, UsageError


def scope_of(ctx: Context) -> str | None:
    """``restaurant R`` under an explicit --restaurant scope (said on stderr too), None for the whole database."""
    if ctx.scope_restaurant is None:
        return None
    err_console.print(f"note: {access.scope_note(ctx.scope_restaurant)}", highlight=False)
    return f"restaurant {ctx.scope_restaurant}"


def write_file(path: str, text: str) -> None:
    from pathlib import Path

    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def read_file(path: str) -> str:
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileInvalid(f"cannot read plan {path}: {getattr(exc, 'strerror', None) or exc}") from None


def repair_plan_file(dsn: str | None, path: str, *, yes: bool, timeouts: repairs.Timeouts,
                      fmt: OutputFormat) -> None:
    loaded = planfile.load(read_file(path), source=path)
    if not yes:
        if not is_interactive():
            raise RepairRefused("refusing to write without confirmation: stdin is not a terminal",
                                hint=f"review {path}, then pass --yes")
        render_rows([{"relation": c.relation, "op": c.op, "pk": c.pk} for c in planfile.changes_of(loaded)],
                    OutputFormat.table, title=f"{path}: planned row changes")
        if not typer.confirm(f"apply {len(loaded.changes)} row change(s)?", default=False):
            raise RepairRefused("not confirmed; nothing was changed")
    note_profile(loaded.profile)  # the JSON envelope's; apply refuses a database of another profile
    with db.connect(dsn, autocommit=True) as conn:
        repair_id = planfile.apply(conn, loaded, timeouts=timeouts)
    summary = {"repair_id": repair_id, "plan_sha256": loaded.sha256, "findings": [f.id for f in loaded.findings],
               "changes": len(loaded.changes)}
    if fmt is OutputFormat.json:
        render_json(summary)
        return
    console.print(f"repair {repair_id}: {len(loaded.changes)} row change(s) of plan {path} "
                  f"(sha256 {loaded.sha256})", highlight=False, soft_wrap=True)


def _change_row(change: RowChange, ids: Sequence[str]) -> dict[str, Any]:
    return {**change.as_row(), "findings": list(ids)}


def _change_rows(p: repairs.Plan) -> list[dict[str, Any]]:
    return [_change_row(change, ids) for change, ids in p.changes]


def _estimate_row(p: repairs.Plan) -> dict[str, Any] | None:
    e = p.estimate
    if e is None:
        return None
    return {"seconds": round(e.seconds, 1), "findings": e.findings,
            "without_indexes_s": [{"constraint": t.constraint, "relation": t.relation, "columns": list(t.columns),
                                   "adds_s": round(s, 1), "index_sql": t.index_sql} for t, s in e.traps]}


def warn_slow(p: repairs.Plan) -> None:
    """Say (stderr) when a repair will be slow and why, with the index that fixes it."""
    e = p.estimate
    if e is None:
        return
    if e.seconds >= _SLOW_S:
        err_console.print(f"note: estimated ~{e.seconds:,.0f}s for {e.findings} finding(s) "
                          f"(statement timeout auto: {costs.fitting_timeout(e.seconds)}s)", highlight=False)
    for trap, seconds in e.traps:
        if seconds >= _SLOW_S:
            err_console.print(f"note: the repair will be slow: foreign key {trap.constraint} on {trap.relation} "
                              f"({', '.join(trap.columns)}) has no index, adding ~{seconds:,.0f}s (TMD032); "
                              f"create it first with --create-indexes or: {trap.index_sql}", highlight=False,
                              soft_wrap=True)


#: an unindexed foreign key worth a note when it adds this many seconds to a repair
_SLOW_S = 10.0


def print_plan(p: repairs.Plan, fmt: OutputFormat) -> None:
    emit_plan(p, iter(p.changes), fmt)


def _json_list(out: TextIO, name: str, items: Iterable[str], *, last: bool = False) -> None:
    """``"name": [`` and one item a line (or ``[]``), as a member of the plan's JSON object."""
    out.write(f'  "{name}": [')
    n = 0
    for n, item in enumerate(items, start=1):
        out.write(("," if n > 1 else "") + "\n    " + item)
    out.write(("\n  ]" if n else "]") + ("\n" if last else ",\n"))


def emit_plan(p: repairs.Plan, changes: Iterable[tuple[RowChange, tuple[str, ...]]], fmt: OutputFormat) -> None:
    """Write the plan as its changes stream out of the database (JSON: every change; table: the first ones)."""
    if fmt is OutputFormat.json:
        # the envelope's result is the plan, its last member; one finding or change per line, each encoded by json's
        # C encoder (or by the database), written as it comes: an indented dump of 20,000 findings takes Python's
        # slow path (seconds at 500k bookings)
        lines = (changes.json_lines() if isinstance(changes, repairs.ChangeStream)
                 else (dumps_line(_change_row(change, ids)) for change, ids in changes))
        before, after = dumps_plain(envelope(None)).rsplit("null", 1)
        out = sys.stdout
        out.write(before + '{\n  "scope": ' + dumps_line(scope_of(p.context) or "database") + ",\n")
        _json_list(out, "apply", (dumps_line(f.as_row()) for f in p.selection.apply))
        _json_list(out, "skipped", (dumps_line({**f.as_row(), "reason": why}) for f, why in p.selection.skipped))
        out.write('  "estimate": ' + dumps_line(_estimate_row(p)) + ",\n")
        _json_list(out, "changes", lines, last=True)
        out.write("}" + after + "\n")
        out.flush()
        return
    render_rows([f.as_row() for f in p.selection.apply], fmt, title="findings to repair", columns=FINDING_COLUMNS)
    if p.selection.skipped:
        render_rows([{"id": f.id, "safety": f.safety.value, "reason": why, "detail": f.detail}
                     for f, why in p.selection.skipped], fmt, title="left alone")
    rows: list[dict[str, Any]] = []
    for change, ids in changes:
        if len(rows) == TABLE_LIMIT:
            break
        c = _change_row(change, ids)
        rows.append({"relation": c["relation"], "op": c["op"], "pk": c["pk"], "changed": ", ".join(c["changed"]),
                     "findings": ", ".join(c["findings"])})
    render_rows(rows, fmt, title="row changes")
    if p.count > len(rows):
        err_console.print(f"… and {p.count - len(rows)} more row change(s); use --format json for all of them")
