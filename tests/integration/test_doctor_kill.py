"""A restaurant-wide repair stopped half-way leaves nothing behind.

The test holds a row lock on a ledger row that a *later* finding's repair deletes, so the repair has already
rewritten other rows (TMD001 before TMD007) in its transaction when it blocks. Then either the backend is terminated
from another connection, or ``lock_timeout`` expires: in both cases every table is byte-identical to before, no
journal entry and no observability event exist, and (for the timeout) the error is the typed ``LockUnavailable``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import sql

from tablemend import db, sandbox
from tablemend.doctor import repair, scan
from tablemend.doctor.repairs import Timeouts
from tablemend.doctor.rules import Context, Finding
from tablemend.errors import LockUnavailable, TablemendError
from tests.integration.test_doctor_states import checksums

_VICTIM = "doctor-kill-victim"
_STATES = ("D1", "leftover-allocation", "orphan-merge-groups", "ledger-replay-empty")


def _count(conn: db.Connection, relation: str) -> int:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (relation,)).fetchone()
    assert row is not None
    if not row["present"]:
        return 0
    counted = conn.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(*relation.split(".")))
                           ).fetchone()
    assert counted is not None
    return int(counted["n"])


def _journal(conn: db.Connection) -> int:
    return _count(conn, "tablemend_doctor.journal")


def _events(conn: db.Connection) -> int:
    return _count(conn, "public.observability_events")


@pytest.fixture
def seeded(origin_dsn: str) -> Iterator[tuple[str, Finding]]:
    """Several states in one database; returns the TMD007 finding whose ledger row the test will lock."""
    with db.connect(origin_dsn, autocommit=True) as conn:
        for state in _STATES:
            sandbox.seed_state(conn, state)
        findings = list(scan(conn))
    codes = {f.code for f in findings}
    assert {"TMD001", "TMD007"} <= codes, codes
    yield origin_dsn, next(f for f in findings if f.code == "TMD007")


def _hold_ledger_row(dsn: str, finding: Finding) -> db.Connection:
    holder = db.connect(dsn)  # not autocommit: the row lock lasts until rollback
    holder.execute("SELECT 1 FROM public.booking_assignment_idempotency WHERE booking_id = %s AND idempotency_key = %s"
                   " FOR UPDATE", (finding.key["booking_id"], finding.key["idempotency_key"]))
    return holder


def _repair_in_thread(dsn: str, box: dict[str, Any], timeouts: Timeouts) -> threading.Thread:
    def target() -> None:
        try:
            with db.connect(dsn, autocommit=True, application_name=_VICTIM) as conn:
                box["result"] = repair(conn, Context(), all_safe=True, timeouts=timeouts)
        except TablemendError as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def _blocked_victim(admin: db.Connection) -> int:
    """The repair's backend once it waits on the ledger row lock; it has already written in its transaction."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'"
            " AND query ILIKE %s", (_VICTIM, "%booking_assignment_idempotency%")).fetchone()
        if row is not None:
            return int(row["pid"])
        time.sleep(0.05)
    raise AssertionError("the repair never blocked on the ledger row")


def _wrote_before_blocking(admin: db.Connection, pid: int) -> set[str]:
    rows = admin.execute("SELECT DISTINCT relation::regclass::text AS rel FROM pg_locks"
                         " WHERE pid = %s AND mode = 'RowExclusiveLock' AND relation IS NOT NULL", (pid,)).fetchall()
    return {str(r["rel"]) for r in rows}


def test_terminated_half_way_leaves_nothing(seeded: tuple[str, Finding]) -> None:
    dsn, ledger_finding = seeded
    with db.connect(dsn, autocommit=True) as admin:
        before, journal, events = checksums(admin), _journal(admin), _events(admin)
        holder = _hold_ledger_row(dsn, ledger_finding)
        box: dict[str, Any] = {}
        try:
            thread = _repair_in_thread(dsn, box, Timeouts("30s", "60s"))
            pid = _blocked_victim(admin)
            written = _wrote_before_blocking(admin, pid)
            assert "booking_table_assignments" in written, written  # TMD001 ran: this is half-way
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            thread.join(20)
            assert not thread.is_alive()
        finally:
            holder.rollback()
            holder.close()
        assert "result" not in box and isinstance(box.get("error"), TablemendError)
        assert checksums(admin) == before
        assert _journal(admin) == journal and _events(admin) == events


def test_lock_timeout_half_way_fails_typed_and_changes_nothing(seeded: tuple[str, Finding]) -> None:
    dsn, ledger_finding = seeded
    with db.connect(dsn, autocommit=True) as admin:
        before, journal, events = checksums(admin), _journal(admin), _events(admin)
        holder = _hold_ledger_row(dsn, ledger_finding)
        try:
            with db.connect(dsn, autocommit=True) as conn, pytest.raises(LockUnavailable) as caught:
                repair(conn, Context(), all_safe=True, timeouts=Timeouts("300ms", "60s"))
        finally:
            holder.rollback()
            holder.close()
        err = caught.value
        assert err.sqlstate == "TMD93" and err.exit_code == 2 and "nothing was changed" in err.message
        assert checksums(admin) == before
        assert _journal(admin) == journal and _events(admin) == events

        # the same repair goes through once the lock is gone: the setup really was repairable
        result = repair(admin, Context(), all_safe=True)
        assert result.repair_id is not None and _journal(admin) == journal + 1
        assert checksums(admin) != before
