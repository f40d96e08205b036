"""``tablemend demo``: the origin's "assignment duplicate" failure, its cause, and its fix, end to end.

On a freshly recreated sandbox database: seed state D1, call the origin's allocator for a multi-table booking and watch
it fail, find the other booking's row on (table, slot) that causes it, clear that blocker properly (its row *and* its
allocation, through ``unassign_tables_atomic``, spec item 9) when its status says that is safe, and retry.

Library code: it returns a :class:`DemoResult`; the CLI prints it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import dict_row

from tablemend import databases, db, sandbox, sqlfiles
from tablemend.errors import TablemendError
from tablemend.sandbox import StateCase

DEFAULT_DATABASE = "tablemend_demo"
#: statuses whose rows can be released without taking a table from a guest (spec item 9)
SAFE_TO_CLEAR = frozenset({"cancelled", "no_show", "completed", "PRIORITY_WAITLIST"})
_SQL = "origin/demo.sql"


@dataclass
class DemoResult:
    server: str  # host:port/db, no password
    database: str
    server_version: str
    case: StateCase
    table_numbers: dict[uuid.UUID, str]
    failure: TablemendError | None = None
    blockers: list[dict[str, Any]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)  # {booking, status, tables} per cleared blocker
    kept: list[dict[str, Any]] = field(default_factory=list)  # blockers left alone: live bookings
    retry_rows: list[dict[str, Any]] = field(default_factory=list)
    retry_failure: TablemendError | None = None

    @property
    def succeeded(self) -> bool:
        return self.failure is not None and self.retry_failure is None and bool(self.retry_rows)


def run(dsn: str | None = None, *, database: str = DEFAULT_DATABASE) -> DemoResult:
    """Run the demo on a recreated database ``database`` of the server (embedded unless ``dsn`` names one)."""
    server = db.resolve_dsn(dsn)
    databases.ensure(server, database, reset=True)
    target = databases.dsn_for(server, database)
    with db.connect(target, autocommit=True) as conn:
        sandbox.build_origin(conn)
        case = sandbox.seed_state(conn, "D1")
        cur = conn.cursor(row_factory=dict_row)
        with db.translated():
            numbers = {r["id"]: r["table_number"] for r in
                       cur.execute(sqlfiles.query("table_numbers", _SQL), {"table_ids": list(case.table_ids)})}
        result = DemoResult(server=db.describe_dsn(target), database=database,
                            server_version=conn.info.parameter_status("server_version") or "?", case=case,
                            table_numbers=numbers)
        try:
            sandbox.call_assign(conn, case)
        except TablemendError as exc:
            result.failure = exc
        with db.translated():
            result.blockers = list(cur.execute(sqlfiles.query("duplicate_blockers", _SQL),
                                               {"booking_id": case.booking_id, "table_ids": list(case.table_ids)}))
            for blocker in result.blockers:
                entry = {"booking_id": blocker["blocking_booking_id"], "status": blocker["blocking_status"],
                         "table_number": blocker["table_number"], "table_id": blocker["table_id"]}
                if blocker["blocking_status"] not in SAFE_TO_CLEAR:
                    result.kept.append(entry)
                    continue
                with conn.transaction():
                    removed = cur.execute(sqlfiles.query("unassign", _SQL), {
                        "booking_id": blocker["blocking_booking_id"], "table_ids": [blocker["table_id"]]}).fetchall()
                entry["removed_rows"] = len(removed)
                entry["removed_allocations"] = blocker["blocking_allocations"]
                result.cleared.append(entry)
        try:
            result.retry_rows = sandbox.call_assign(conn, case)
        except TablemendError as exc:
            result.retry_failure = exc
    return result
