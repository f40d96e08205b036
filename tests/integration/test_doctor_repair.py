"""Repair, undo and verify guarantees: all-or-nothing under a killed backend, lock timeouts, undo conflicts, the
append-only journal, observability events, and repair --retry."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from tablemend import db, sandbox
from tablemend.doctor import context, plan, repair, scan, undo, verify
from tablemend.doctor.repairs import TEST_PAUSE_ENV, Timeouts
from tablemend.doctor.rules import Safety
from tablemend.errors import (
    FindingNotFound,
    JournalAppendOnly,
    LockUnavailable,
    RepairNotFound,
    RepairRefused,
    TablemendError,
    UndoConflict,
)
from tests.integration.test_doctor_states import checksums, ctx_for, outcome


def _journal_entries(conn: db.Connection) -> int:
    row = conn.execute("SELECT to_regclass('tablemend_doctor.journal') IS NOT NULL AS present").fetchone()
    assert row is not None
    if not row["present"]:
        return 0
    counted = conn.execute("SELECT count(*) AS n FROM tablemend_doctor.journal").fetchone()
    assert counted is not None
    return int(counted["n"])


def _repair_in_thread(dsn: str, case: sandbox.StateCase, box: dict[str, Any]) -> threading.Thread:
    def target() -> None:
        try:
            with db.connect(dsn, autocommit=True, application_name="doctor-victim") as conn:
                box["result"] = repair(conn, ctx_for(conn, case), timeouts=Timeouts("30s", "60s"))
        except TablemendError as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def _terminate(admin: db.Connection, waiting_for: str) -> int:
    """pg_terminate_backend on the doctor's backend once it is waiting (on a lock, or in the test pause)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'doctor-victim' AND query ILIKE %s",
            (f"%{waiting_for}%",)).fetchone()
        if row is not None:
            admin.execute("SELECT pg_terminate_backend(%s)", (row["pid"],))
            return int(row["pid"])
        time.sleep(0.05)
    raise AssertionError(f"the doctor never reached {waiting_for!r}")


@pytest.mark.parametrize("where", ["pause", "lock"])
def test_killed_repair_leaves_nothing(origin_dsn: str, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with db.connect(origin_dsn, autocommit=True) as admin:
        case = sandbox.seed_state(admin, "D1")
        before = checksums(admin)
        holder = db.connect(origin_dsn)
        box: dict[str, Any] = {}
        try:
            if where == "pause":
                monkeypatch.setenv(TEST_PAUSE_ENV, "30")
                thread = _repair_in_thread(origin_dsn, case, box)
                _terminate(admin, "pg_sleep")
            else:  # another session holds the blocker's booking row; the repair waits on it
                holder.execute("SELECT 1 FROM public.bookings WHERE id = %s FOR UPDATE",
                               (case.blocking_booking_ids[0],))
                thread = _repair_in_thread(origin_dsn, case, box)
                _terminate(admin, "FOR UPDATE")
            thread.join(30)
        finally:
            holder.rollback()
            holder.close()
        assert "error" in box and "result" not in box
        assert checksums(admin) == before
        assert _journal_entries(admin) == 0
        assert outcome(admin, case)[0] == case.expected_sqlstate


def test_lock_timeout_fails_cleanly(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn, db.connect(origin_dsn) as holder:
        case = sandbox.seed_state(conn, "D1")
        before = checksums(conn)
        holder.execute("SELECT 1 FROM public.bookings WHERE id = %s FOR UPDATE", (case.booking_id,))
        with pytest.raises(LockUnavailable):
            repair(conn, ctx_for(conn, case), timeouts=Timeouts("200ms", "10s"))
        holder.rollback()
        assert checksums(conn) == before
        assert _journal_entries(conn) == 0


def test_repair_takes_the_allocators_table_locks(origin_dsn: str) -> None:
    """A concurrent assignment holding P's table (as the allocator does, FOR UPDATE) makes the repair wait."""
    with db.connect(origin_dsn, autocommit=True) as conn, db.connect(origin_dsn) as allocator:
        case = sandbox.seed_state(conn, "D1")
        before = checksums(conn)
        allocator.execute("SELECT 1 FROM public.table_inventory WHERE id = %s FOR UPDATE", (case.table_ids[1],))
        with pytest.raises(LockUnavailable):
            repair(conn, ctx_for(conn, case), timeouts=Timeouts("200ms", "10s"))
        allocator.rollback()
        assert checksums(conn) == before
        assert repair(conn, ctx_for(conn, case)).repair_id is not None


def test_undo_refuses_when_a_restored_row_would_conflict(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1")
        result = repair(conn, ctx_for(conn, case))
        assert result.repair_id is not None
        sandbox.call_assign(conn, case)  # P really takes (X, S) now, committed
        after = checksums(conn)
        with pytest.raises(UndoConflict) as caught:
            undo(conn, result.repair_id)
        assert "public.booking_table_assignments" in caught.value.message
        assert checksums(conn) == after, "a refused undo changes nothing"
        assert _journal_entries(conn) == 1


def test_undo_refuses_a_row_whose_parent_is_gone(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1")
        result = repair(conn, ctx_for(conn, case))
        assert result.repair_id is not None
        blocker = case.blocking_booking_ids[0]
        conn.execute("DELETE FROM public.bookings WHERE id = %s", (blocker,))  # B is deleted after the repair
        after = checksums(conn)
        with pytest.raises(UndoConflict) as caught:
            undo(conn, result.repair_id)
        assert "public.booking_table_assignments" in caught.value.message
        assert "foreign key" in caught.value.message and str(blocker) in (caught.value.details or "")
        assert checksums(conn) == after


def test_undo_twice_and_unknown_ids(origin_dsn: str) -> None:
    import uuid

    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "zone-lock-drift")
        with pytest.raises(RepairNotFound):
            undo(conn, uuid.uuid4())
        result = repair(conn, ctx_for(conn, case))
        assert result.repair_id is not None
        undo_id = undo(conn, result.repair_id)
        with pytest.raises(RepairRefused):
            undo(conn, result.repair_id)
        with pytest.raises(RepairNotFound):
            undo(conn, undo_id)


def test_journal_is_append_only_and_events_are_written(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "leftover-allocation")
        result = repair(conn, ctx_for(conn, case))
        assert result.repair_id is not None
        change = conn.execute("SELECT relation, op, before FROM tablemend_doctor.journal_changes").fetchall()
        assert [(c["relation"], c["op"]) for c in change] == [("public.allocations", "delete")]
        assert change[0]["before"]["booking_id"] == str(case.blocking_booking_ids[0])
        entry = conn.execute("SELECT operator, host, findings FROM tablemend_doctor.journal").fetchone()
        assert entry is not None and entry["operator"] and entry["host"] and entry["findings"]
        with pytest.raises(JournalAppendOnly), db.translated():
            conn.execute("DELETE FROM tablemend_doctor.journal")
        undo(conn, result.repair_id)
        events = conn.execute("SELECT event_type, severity, source, context FROM public.observability_events "
                              "WHERE source = 'tablemend.doctor' ORDER BY created_at").fetchall()
        assert [e["event_type"] for e in events] == ["doctor.repair.applied", "doctor.repair.undone"]
        assert {e["severity"] for e in events} == {"info"}
        assert events[0]["context"]["repair_id"] == str(result.repair_id)


def test_repair_retry_commits_repair_and_assignment(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1b")
        result = repair(conn, ctx_for(conn, case), retry=True)
        assert result.allocator is not None and result.allocator.ok
        assert len(result.allocator.rows) == len(case.table_ids)
        held = conn.execute("SELECT count(*) AS n FROM public.booking_table_assignments WHERE booking_id = %s",
                            (case.booking_id,)).fetchone()
        assert held is not None and held["n"] == len(case.table_ids)


def test_retry_that_still_fails_keeps_nothing(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1c")  # live B still sits on X: the safe-only repair leaves the blocker
        before = checksums(conn)
        with pytest.raises(RepairRefused):
            repair(conn, ctx_for(conn, case), retry=True)
        assert checksums(conn) == before
        assert _journal_entries(conn) == 0
        human = [f for f in scan(conn, ctx=ctx_for(conn, case)) if f.booking_id in case.blocking_booking_ids]
        assert human and all(f.safety is Safety.human for f in human)  # a live guest's seat: a person's call
        conn.execute("SELECT * FROM public.unassign_tables_atomic(%s, %s)",
                     (case.blocking_booking_ids[0], [case.table_ids[0]]))  # the person moves B off X
        assert verify(conn, ctx_for(conn, case)).allocator.ok


def test_include_unknown_finding_is_refused(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1")
        with pytest.raises(FindingNotFound):
            plan(conn, ctx_for(conn, case), include=["TMD001-0000000000"])


def test_all_safe_over_a_restaurant(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        cases = [sandbox.seed_state(conn, code) for code in ("D1", "leftover-allocation", "zone-lock-drift")]
        whole = context(conn)
        found = {f.code for f in scan(conn, ctx=whole)}
        assert {"TMD001", "TMD002", "TMD009"} <= found
        result = repair(conn, whole, all_safe=True)
        assert result.repair_id is not None
        assert not [f for f in scan(conn, ctx=whole) if f.safety.value == "safe"]
        for case in cases:
            assert outcome(conn, case)[0] is None
        undo(conn, result.repair_id)
        for case in cases:
            assert outcome(conn, case)[:2] == (case.expected_sqlstate, case.expected_message)


def test_scan_is_read_only(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        sandbox.seed_state(conn, "D1")
        stream = scan(conn)
        next(stream)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM public.allocations")
        stream.close()


def test_plan_sql_script_is_a_working_manual_repair(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1b")
        script = plan(conn, ctx_for(conn, case)).sql()
        assert "FOR UPDATE" in script and script.startswith("BEGIN;") and script.rstrip().endswith("COMMIT;")
        conn.execute(script.encode())  # what an operator would run with psql
        assert outcome(conn, case)[0] is None
