"""``tablemend doctor plan --out`` / ``repair --plan``: reading and writing reviewed-plan files (CLI layer only)."""

from __future__ import annotations

import typer

from tablemend import db
from tablemend.clitools import OutputFormat, console, is_interactive, render_json, render_rows
from tablemend.doctor import planfile, repairs
from tablemend.errors import PlanFileInvalid, RepairRefused, UsageError


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
    with db.connect(dsn, autocommit=True) as conn:
        repair_id = planfile.apply(conn, loaded, timeouts=timeouts)
    summary = {"repair_id": repair_id, "plan_sha256": loaded.sha256, "findings": [f.id for f in loaded.findings],
               "changes": len(loaded.changes)}
    if fmt is OutputFormat.json:
        render_json(summary)
        return
    console.print(f"repair {repair_id}: {len(loaded.changes)} row change(s) of plan {path} "
                  f"(sha256 {loaded.sha256})", highlight=False, soft_wrap=True)
