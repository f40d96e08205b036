"""Every failing state of origin spec §3, reproduced on the origin sandbox: the exact error first, then proof that the
seeded rows are the cause (clearing exactly them makes the retry succeed)."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from psycopg import sql

from tablemend import db, sandbox, sqlfiles
from tablemend.errors import TablemendError
from tablemend.sandbox import StateCase

_LEGACY = {"D3", "D4"}
_COUNTS = """
SELECT (SELECT count(*) FROM booking_table_assignments WHERE booking_id = %(p)s) AS bta,
       (SELECT count(*) FROM allocations WHERE booking_id = %(p)s) AS allocations,
       (SELECT count(*) FROM booking_assignment_idempotency WHERE booking_id = %(p)s) AS ledger,
       (SELECT assigned_zone_id FROM bookings WHERE id = %(p)s) AS zone
"""


def _counts(conn: db.Connection, booking: uuid.UUID) -> dict[str, Any]:
    row = conn.execute(_COUNTS, {"p": booking}).fetchone()
    assert row is not None
    return dict(row)


def _assert_expected(conn: db.Connection, case: StateCase) -> None:
    """The call behaves exactly as the case says, and a failure leaves no partial rows."""
    before = _counts(conn, case.booking_id)
    if case.expected_sqlstate is None:
        rows = sandbox.call_assign(conn, case)
        assert len(rows) == case.expected_rows
        return
    with pytest.raises(TablemendError) as info:
        sandbox.call_assign(conn, case)
    assert (info.value.sqlstate, info.value.message) == (case.expected_sqlstate, case.expected_message)
    assert _counts(conn, case.booking_id) == before  # any error rolls back the whole call


def _unassign_blockers(conn: db.Connection, case: StateCase) -> None:
    # Spec item 9: clear the blocker's (table, slot) row together with its allocation.
    for blocker in case.blocking_booking_ids:
        conn.execute("SELECT * FROM unassign_tables_atomic(%s, %s::uuid[])", (blocker, list(case.table_ids)))


def _delete_blocker_allocations(conn: db.Connection, case: StateCase) -> None:
    conn.execute(
        "DELETE FROM allocations WHERE booking_id = ANY(%s) AND resource_type = 'table' AND resource_id = ANY(%s)",
        (list(case.blocking_booking_ids), list(case.table_ids)),
    )


def _delete_ledger(conn: db.Connection, case: StateCase) -> None:
    conn.execute("DELETE FROM booking_assignment_idempotency WHERE booking_id = %s", (case.booking_id,))


def _delete_orphan_merge_groups(conn: db.Connection, case: StateCase) -> None:
    deleted = conn.execute(
        "DELETE FROM allocations a WHERE a.booking_id = %s AND a.resource_type = 'merge_group'"
        " AND NOT EXISTS (SELECT 1 FROM booking_table_assignments b WHERE b.merge_group_id = a.id)"
        " AND NOT EXISTS (SELECT 1 FROM booking_assignment_idempotency l WHERE l.merge_group_allocation_id = a.id)",
        (case.booking_id,),
    ).rowcount
    assert deleted >= 1


def _clear_zone_lock(conn: db.Connection, case: StateCase) -> None:
    conn.execute("UPDATE bookings SET assigned_zone_id = NULL WHERE id = %s", (case.booking_id,))


def _drop_legacy_index(conn: db.Connection, case: StateCase) -> None:
    conn.execute("DROP INDEX booking_table_assignments_booking_id_idempotency_key_key")


def _drop_overload(conn: db.Connection, case: StateCase) -> None:
    conn.execute("DROP FUNCTION assign_tables_atomic_v2(uuid, uuid[], text, boolean, uuid)")


_CLEAR: dict[str, Callable[[db.Connection, StateCase], None]] = {
    "D1": _unassign_blockers,
    "D1a": _unassign_blockers,
    "D1b": _unassign_blockers,
    "D1c": _unassign_blockers,
    "D2": _unassign_blockers,
    "D3": _drop_legacy_index,
    "D4": _drop_overload,
    "stale-own-slot": _unassign_blockers,
    "overlap-other-slot": _unassign_blockers,
    "leftover-allocation": _delete_blocker_allocations,
    "ledger-replay-empty": _delete_ledger,
    "ledger-hash-collision": _delete_ledger,
    "orphan-merge-groups": _delete_orphan_merge_groups,
    "zone-lock-drift": _clear_zone_lock,
}


def test_every_state_has_a_seed_and_a_clearing() -> None:
    assert set(_CLEAR) == set(sandbox.ORIGIN_STATES)
    assert len(sandbox.ORIGIN_STATES) == 14


@pytest.mark.parametrize("code", [c for c in sandbox.ORIGIN_STATES if c not in _LEGACY])
def test_state_raises_exactly_and_clearing_its_rows_makes_the_retry_succeed(
    origin_conn: db.Connection, code: str
) -> None:
    case = sandbox.seed_state(origin_conn, code)
    assert case.code == code
    assert case.booking_id not in case.blocking_booking_ids
    _assert_expected(origin_conn, case)
    _CLEAR[code](origin_conn, case)
    rows = sandbox.call_assign(origin_conn, case)
    assert sorted(r["table_id"] for r in rows) == sorted(case.table_ids)


@pytest.mark.parametrize("code", sorted(_LEGACY))
def test_legacy_state_raises_exactly_and_removing_the_legacy_piece_fixes_it(
    origin_legacy_dsn: str, code: str
) -> None:
    with db.connect(origin_legacy_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, code)
        _assert_expected(conn, case)
        _CLEAR[code](conn, case)
        rows = sandbox.call_assign(conn, case)
        assert sorted(r["table_id"] for r in rows) == sorted(case.table_ids)


def test_legacy_states_need_their_legacy_pieces(origin_conn: db.Connection) -> None:
    for code, piece in (("D3", "idempotency index"), ("D4", "5-argument overload")):
        with pytest.raises(TablemendError, match=piece):
            sandbox.seed_state(origin_conn, code)
    with pytest.raises(TablemendError, match="'D9'"):
        sandbox.seed_state(origin_conn, "D9")


def test_build_refuses_a_database_that_already_has_the_origin(origin_conn: db.Connection) -> None:
    with pytest.raises(TablemendError, match="already exist"):
        sandbox.build_origin(origin_conn)


def test_each_state_lives_in_its_own_restaurant(origin_legacy_dsn: str) -> None:
    with db.connect(origin_legacy_dsn, autocommit=True) as conn:
        cases = [sandbox.seed_state(conn, code) for code in sandbox.ORIGIN_STATES]
        assert len({c.restaurant_id for c in cases}) == len(cases)
        # Seeded side by side in one (legacy) database, each state still raises exactly its own error.
        for case in cases:
            _assert_expected(conn, case)


def test_clearing_the_requesting_bookings_rows_does_not_fix_d1(origin_conn: db.Connection) -> None:
    """The seed task's remediation targets P; the duplicate comes from B's row, so it changes nothing."""
    case = sandbox.seed_state(origin_conn, "D1")
    origin_conn.execute("DELETE FROM booking_assignment_idempotency WHERE booking_id = %s", (case.booking_id,))
    origin_conn.execute("DELETE FROM allocations WHERE booking_id = %s", (case.booking_id,))
    origin_conn.execute("DELETE FROM booking_table_assignments WHERE booking_id = %s", (case.booking_id,))
    _assert_expected(origin_conn, case)


def test_a_bare_delete_of_the_blocker_row_leaves_its_allocation_in_the_way(origin_conn: db.Connection) -> None:
    """Spec item 9: D2's blocker still has an allocation; deleting only its bta row moves P to another error when the
    windows overlap, which is why the blocker is cleared with unassign_tables_atomic."""
    case = sandbox.seed_state(origin_conn, "D2")
    blocker = case.blocking_booking_ids[0]
    origin_conn.execute("DELETE FROM booking_table_assignments WHERE booking_id = %s", (blocker,))
    left = origin_conn.execute("SELECT count(*) AS n FROM allocations WHERE booking_id = %s", (blocker,)).fetchone()
    assert left == {"n": 1}
    own_window = dataclasses.replace(case, start_at=None, end_at=None)
    with pytest.raises(TablemendError) as info:
        sandbox.call_assign(origin_conn, own_window)
    assert (info.value.sqlstate, info.value.message) == ("P0001", "allocations_no_overlap")


def test_unique_key_older_than_exclusion_decides_the_error(origin_conn: db.Connection) -> None:
    """§3 check order: with migration order the (table, slot) key fires first; a hand-patched database where the
    key is younger than the exclusion constraint raises raw 23P01 for the same rows."""
    oids = origin_conn.execute(
        "SELECT conname, conindid::int AS oid FROM pg_constraint WHERE conrelid = 'booking_table_assignments'::regclass"
        " AND conname IN ('booking_table_assignments_table_id_slot_id_key', 'no_overlapping_table_assignments')"
    ).fetchall()
    by_name = {r["conname"]: r["oid"] for r in oids}
    assert by_name["booking_table_assignments_table_id_slot_id_key"] < by_name["no_overlapping_table_assignments"]
    case = sandbox.seed_state(origin_conn, "D1")
    origin_conn.execute(
        "ALTER TABLE booking_table_assignments DROP CONSTRAINT booking_table_assignments_table_id_slot_id_key;"
        " ALTER TABLE booking_table_assignments ADD CONSTRAINT booking_table_assignments_table_id_slot_id_key"
        " UNIQUE (table_id, slot_id)"
    )
    with pytest.raises(TablemendError) as info:
        sandbox.call_assign(origin_conn, case)
    assert info.value.sqlstate == "23P01"
    assert info.value.constraint == "no_overlapping_table_assignments"


def test_legacy_overload_body_raises_duplicate_without_a_fallback(origin_legacy_dsn: str) -> None:
    """D4's older body: reached here by hiding the newest overload inside a rolled-back transaction."""
    with db.connect(origin_legacy_dsn) as conn:
        case = sandbox.seed_state(conn, "D1")
        conn.commit()
        conn.execute("DROP FUNCTION assign_tables_atomic_v2(uuid, uuid[], text, boolean, uuid, timestamptz,"
                     " timestamptz)")
        d4_style = dataclasses.replace(case, code="D4")
        with pytest.raises(TablemendError) as info:
            sandbox.call_assign(conn, d4_style)
        assert (info.value.sqlstate, info.value.message) == ("P0001", case.expected_message)
        conn.rollback()


def test_d2_race_for_real_with_two_connections(origin_dsn: str) -> None:
    """B's call holds X's row lock; P's call waits on it; B commits; P continues and hits (X, S): duplicate."""
    with db.connect(origin_dsn, autocommit=True) as setup:
        case = sandbox.seed_state(setup, "D2")
        blocker = case.blocking_booking_ids[0]
        x = case.table_ids[0]
        _unassign_blockers(setup, case)  # back to the moment before the race: nobody holds X
    assign = sqlfiles.query("call_v2", "origin/sandbox.sql")
    outcome: dict[str, Any] = {}
    with db.connect(origin_dsn) as b_conn, db.connect(origin_dsn, autocommit=True) as p_conn:
        p_pid = p_conn.info.backend_pid
        b_conn.execute(assign, {"p_booking_id": blocker, "p_table_ids": [x], "p_idempotency_key": None,
                                "p_require_adjacency": False, "p_assigned_by": None, "p_start_at": None,
                                "p_end_at": None}).fetchall()

        def p_call() -> None:
            try:
                outcome["rows"] = sandbox.call_assign(p_conn, case)
            except TablemendError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=p_call)
        thread.start()
        with db.connect(origin_dsn, autocommit=True) as watch:
            deadline = time.monotonic() + 10
            waiting = None
            while time.monotonic() < deadline:
                waiting = watch.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (p_pid,)
                ).fetchone()
                if waiting and waiting["wait_event_type"] == "Lock":
                    break
                time.sleep(0.02)
            assert waiting == {"wait_event_type": "Lock"}, "P's call should wait on B's table lock"
        b_conn.commit()
        thread.join(timeout=20)
    assert "rows" not in outcome
    error = outcome["error"]
    assert (error.sqlstate, error.message) == ("P0001", case.expected_message)


def test_sample_seed_gives_a_small_restaurant(origin_conn: db.Connection) -> None:
    ids = sandbox.seed_sample(origin_conn)
    assert (len(ids.zone_ids), len(ids.table_ids), len(ids.booking_ids), len(ids.slot_ids)) == (2, 8, 3, 3)
    n = origin_conn.execute(
        sql.SQL("SELECT count(*) AS n FROM {} WHERE booking_id = ANY(%s)").format(
            sql.Identifier("booking_table_assignments")
        ),
        (list(ids.booking_ids),),
    ).fetchone()
    assert n == {"n": 3}
    edges = origin_conn.execute("SELECT count(*) AS n FROM table_adjacencies").fetchone()
    assert edges == {"n": 5}
