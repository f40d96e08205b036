"""``tablemend demo``: the origin's "assignment duplicate" failure, explained, planned and repaired by the doctor.

On a freshly recreated sandbox database: seed state D1, call the origin's allocator for a multi-table booking P and
watch it fail; then the doctor's public API does the rest, exactly as ``tablemend doctor …`` would: ``explain`` names
the row in the way and why, ``plan`` lists the row changes (rolled back), ``repair`` applies them in one journalled
transaction; finally the same call to the database's own ``assign_tables_atomic_v2`` succeeds.

Library code: it returns a :class:`DemoResult`; the CLI prints it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row

from tablemend import databases, db, doctor, sandbox, sqlfiles
from tablemend.errors import TablemendError, UsageError
from tablemend.sandbox import StateCase

DEFAULT_DATABASE = "tablemend_demo"
_SQL = "origin/demo.sql"


@dataclass
class DemoResult:
    server: str  # host:port/db, no password
    dsn: str  # the demo database's full DSN (may hold a password: never print it as is)
    embedded: bool  # the server is tablemend's embedded cluster
    database: str
    server_version: str
    case: StateCase
    table_numbers: dict[uuid.UUID, str]
    given_dsn: str | None = None  # the --dsn the demo was run with (None: DATABASE_URL, PG* or the embedded cluster)
    failure: TablemendError | None = None
    explanation: doctor.Explanation | None = None
    plan: doctor.Plan | None = None
    repair: doctor.RepairResult | None = None
    retry_rows: list[dict[str, Any]] | None = None
    retry_failure: TablemendError | None = None

    @property
    def repair_id(self) -> uuid.UUID | None:
        return None if self.repair is None else self.repair.repair_id

    @property
    def succeeded(self) -> bool:
        return (self.failure is not None and self.repair_id is not None and self.retry_failure is None
                and bool(self.retry_rows))


def _uses_embedded(dsn: str | None) -> bool:
    """Mirrors :func:`tablemend.db.resolve_dsn`: no DSN from any source means the embedded cluster."""
    return not (dsn or os.environ.get("DATABASE_URL") or db.libpq_env_names())


def run(dsn: str | None = None, *, database: str = DEFAULT_DATABASE) -> DemoResult:
    """Run the demo on a recreated database ``database`` of the server (embedded unless ``dsn`` names one)."""
    embedded = _uses_embedded(dsn)
    server = db.resolve_dsn(dsn)
    databases.ensure(server, database, reset=True)
    target = databases.dsn_for(server, database)
    with db.connect(target, autocommit=True) as conn:
        sandbox.build_origin(conn)
        case = sandbox.seed_state(conn, "D1")
        with db.translated():
            numbers = {r["id"]: r["table_number"] for r in conn.cursor(row_factory=dict_row).execute(
                sqlfiles.query("table_numbers", _SQL), {"table_ids": list(case.table_ids)})}
        result = DemoResult(server=db.describe_dsn(target), dsn=target, embedded=embedded, database=database,
                            server_version=conn.info.parameter_status("server_version") or "?", case=case,
                            table_numbers=numbers, given_dsn=dsn)
        try:
            sandbox.call_assign(conn, case)
        except TablemendError as exc:
            result.failure = exc
        # P has no table set of its own yet (the call failed), so the doctor is told which tables P asked for.
        result.explanation = doctor.explain(
            conn, booking_id=case.booking_id, table_ids=case.table_ids, probe=False,
            error=None if result.failure is None else result.failure.message)
        ctx = result.explanation.context
        result.plan = doctor.plan(conn, ctx)
        result.repair = doctor.repair(conn, ctx)
        try:
            result.retry_rows = sandbox.call_assign(conn, case)
        except TablemendError as exc:
            result.retry_failure = exc
    return result


@dataclass(frozen=True)
class DemoUndo:
    booking_id: uuid.UUID  # P, released first
    repair_id: uuid.UUID
    undo_id: uuid.UUID


def undo(dsn: str | None, repair_id: uuid.UUID, *, database: str = DEFAULT_DATABASE) -> DemoUndo:
    """Undo the demo's repair for real: release P's new assignment with the origin's own ``unassign_tables_atomic``
    (``doctor undo`` alone refuses while P holds B's table and slot), then restore the repair's before-images."""
    from tablemend.doctor import journal

    target = databases.dsn_for(db.resolve_dsn(dsn), database)
    with db.connect(target, autocommit=True) as conn:
        entry = journal.read(conn, repair_id, with_changes=False)
        if entry.booking_id is None:
            raise UsageError(f"repair {repair_id} is not the demo's repair of one booking",
                             hint="undo other repairs with `tablemend doctor undo`")
        with db.translated(), conn.transaction():  # both or neither: doctor.undo's transaction nests as a savepoint
            conn.execute(sqlfiles.query("release_booking", _SQL), {"booking_id": entry.booking_id})
            undo_id = doctor.undo(conn, repair_id)
    return DemoUndo(entry.booking_id, repair_id, undo_id)
