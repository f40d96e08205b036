"""Every state of origin spec §3, tried against tablemend's own schema: through tablemend's functions and, where it is
a data state, through direct writes. Each one is refused, typed, or cannot persist (and never blocks a later call)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from tablemend import db, errors
from tablemend.db import Connection, translated
from tests.integration import tmdata as d
from tests.integration.tmdata import assign, at, unassign

INSERT_ROW = (
    "INSERT INTO booking_table_assignments (restaurant_id, booking_id, table_id, zone_id, start_at, end_at)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)


def _lock_zone(conn: Connection, booking_id: uuid.UUID, zone_id: uuid.UUID) -> None:
    conn.execute("UPDATE bookings SET assigned_zone_id = %s WHERE id = %s", (zone_id, booking_id))


# --- D1: another booking's row on the table, in a terminal status ---------------------------------------------------


@pytest.mark.parametrize("status", ["cancelled", "no_show", "completed", "PRIORITY_WAITLIST"])
def test_d1_terminal_blocker_via_functions_is_released_so_the_table_is_free(tm_conn: Connection, status: str) -> None:
    f = d.floor(tm_conn)
    other = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    p = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, other, f.tables[:2])
    tm_conn.execute("UPDATE bookings SET status = %s WHERE id = %s", (status, other))
    assert [r["table_id"] for r in assign(tm_conn, p, f.tables[:2])] == sorted(f.tables[:2])


def test_d1_direct_row_for_a_terminal_booking_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    other = d.booking(tm_conn, f.restaurant_id, at(19), at(21), status="no_show")
    _lock_zone(tm_conn, other, f.zone_id)
    with pytest.raises(errors.BookingNotAssignable), translated():
        tm_conn.execute(INSERT_ROW, (f.restaurant_id, other, f.tables[0], f.zone_id, at(19), at(21)))
    assert d.count(tm_conn, "booking_table_assignments") == 0


def test_d1_live_blocker_on_the_same_slot_but_not_overlapping_does_not_block(tm_conn: Connection) -> None:
    # origin: same (table, slot) key -> "duplicate" even though the windows do not overlap
    f = d.floor(tm_conn)
    other = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    p = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, other, [f.tables[0]], start_at=at(19), end_at=at(20))
    assert len(assign(tm_conn, p, [f.tables[0]], start_at=at(20), end_at=at(21))) == 1


# --- D1a: NULL windows ----------------------------------------------------------------------------------------------


def test_d1a_null_window_cannot_be_written(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    other = d.booking(tm_conn, f.restaurant_id)
    _lock_zone(tm_conn, other, f.zone_id)
    with pytest.raises(errors.DatabaseError) as caught, translated():
        tm_conn.execute(INSERT_ROW, (f.restaurant_id, other, f.tables[0], f.zone_id, None, None))
    assert caught.value.sqlstate == "23502"  # not_null_violation: every row is inside the exclusion constraint
    nullable = tm_conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'booking_table_assignments'::regclass"
        " AND attname IN ('start_at', 'end_at') AND NOT attnotnull"
    ).fetchall()
    assert nullable == []


# --- D1b: a stale slot after the blocker moved ----------------------------------------------------------------------


def test_d1b_moved_blocker_moves_its_assignment_and_leaves_no_stale_key(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    other = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    p = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, other, [f.tables[0]])
    tm_conn.execute("UPDATE bookings SET start_at = %s, end_at = %s WHERE id = %s", (at(21), at(23), other))
    assert len(assign(tm_conn, p, [f.tables[0]])) == 1
    columns = tm_conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'booking_table_assignments'::regclass AND attnum > 0"
        " AND attname = 'slot_id'"
    ).fetchall()
    assert columns == []  # occupancy is the window; there is no slot key to go stale


def test_d1b_direct_window_update_of_the_blocker_leaves_no_stale_key(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    other = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    p = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, other, [f.tables[0]])
    tm_conn.execute(
        "UPDATE booking_table_assignments SET start_at = %s, end_at = %s WHERE booking_id = %s", (at(21), at(23), other)
    )
    assert len(assign(tm_conn, p, [f.tables[0]])) == 1


# --- D1c / leftover allocation: allocations are derived -------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM allocations WHERE booking_id = %s",
        "INSERT INTO allocations (id, booking_id, restaurant_id, resource_type, resource_id, \"window\", shadow)"
        " SELECT gen_random_uuid(), %s, id, 'table', gen_random_uuid(), tstzrange(now(), now() + '1h'),"
        " false FROM restaurants",
    ],
    ids=["delete", "insert"],
)
def test_d1c_and_leftover_allocations_cannot_be_written(tm_conn: Connection, statement: str) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, f.tables[:2])
    with pytest.raises(errors.DatabaseError) as caught, translated():
        tm_conn.execute(statement, (b,))  # type: ignore[arg-type]  # a parametrized literal
    assert caught.value.sqlstate == "55000", caught.value  # a view that is not updatable
    assert d.count(tm_conn, "allocations", b) == 3


def test_leftover_allocation_via_functions_cannot_outlive_its_assignment(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, f.tables[:2])
    tm_conn.execute("UPDATE bookings SET status = 'cancelled' WHERE id = %s", (b,))
    assert d.count(tm_conn, "allocations", b) == 0
    other = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, other, f.tables[:2])
    tm_conn.execute("DELETE FROM booking_table_assignments WHERE booking_id = %s", (other,))  # a bare DELETE
    assert d.count(tm_conn, "allocations", other) == 0


# --- D2: concurrent calls -------------------------------------------------------------------------------------------


def _assign_in_thread(dsn: str, booking: uuid.UUID, tables: list[uuid.UUID], out: dict[str, Any],
                      **kw: Any) -> threading.Thread:
    def run() -> None:
        with db.connect(dsn, autocommit=True) as conn:
            try:
                out["rows"] = assign(conn, booking, tables, **kw)
            except errors.TablemendError as exc:
                out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_d2_concurrent_non_overlapping_calls_on_one_table_both_succeed(tm_dsn: str, tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    p = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    out: dict[str, Any] = {}
    with db.connect(tm_dsn) as first:
        assign(first, b, [f.tables[0]], start_at=at(18), end_at=at(19))
        thread = _assign_in_thread(tm_dsn, p, [f.tables[0]], out, start_at=at(19), end_at=at(21))
        time.sleep(0.3)
        assert thread.is_alive()  # waits on the table row lock
        first.commit()
    thread.join(10)
    assert "error" not in out and len(out["rows"]) == 1


def test_d2_concurrent_overlapping_loser_gets_a_typed_conflict(tm_dsn: str, tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    p = d.booking(tm_conn, f.restaurant_id, at(20), at(22))
    out: dict[str, Any] = {}
    with db.connect(tm_dsn) as first:
        assign(first, b, [f.tables[0]])
        thread = _assign_in_thread(tm_dsn, p, [f.tables[0]], out)
        time.sleep(0.3)
        first.commit()
    thread.join(10)
    assert isinstance(out.get("error"), errors.TableOccupied)
    assert out["error"].fields["blocking_booking_id"] == str(b)


def test_d2_direct_writer_racing_the_function_surfaces_as_table_occupied(tm_dsn: str, tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    p = d.booking(tm_conn, f.restaurant_id, at(20), at(22))
    _lock_zone(tm_conn, b, f.zone_id)
    out: dict[str, Any] = {}
    with db.connect(tm_dsn) as writer:  # takes no table lock, like the origin's direct-assignment path
        writer.execute(INSERT_ROW, (f.restaurant_id, b, f.tables[0], f.zone_id, at(19), at(21)))
        thread = _assign_in_thread(tm_dsn, p, [f.tables[0]], out)
        time.sleep(0.3)
        writer.commit()
    thread.join(10)
    err = out.get("error")
    # the function's insert trips the constraint, catches it and names the blocker like its own check does
    assert isinstance(err, errors.TableOccupied) and err.sqlstate == "TAC01"
    assert err.fields["blocking_booking_id"] == str(b) and err.fields["table_id"] == str(f.tables[0])
    assert d.count(tm_conn, "booking_table_assignments", p) == 0


# --- D3 / D4: schema defects ----------------------------------------------------------------------------------------


def test_d3_multi_table_call_with_a_key_has_no_per_key_unique_index(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    rows = assign(tm_conn, b, f.tables[:3], key="same-key-on-every-row")
    assert len(rows) == 3
    keys = tm_conn.execute(
        "SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'booking_table_assignments'::regclass"
        " AND indisunique ORDER BY 1"
    ).fetchall()
    assert [k["def"].split(" USING ")[1] for k in keys] == [
        "btree (restaurant_id, booking_id, table_id)",
        "btree (restaurant_id, id)",
    ]


def test_d4_one_signature_so_short_calls_are_not_ambiguous(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    # five positional arguments: the origin's 42725 "function is not unique"
    rows = tm_conn.execute(
        "SELECT * FROM assign_tables_atomic_v2(%s, %s, 'k5', false, NULL::uuid)", (b, f.tables[:2])
    ).fetchall()
    assert len(rows) == 2
    overloads = tm_conn.execute(
        "SELECT count(*) AS n FROM pg_proc WHERE proname = 'assign_tables_atomic_v2'"
    ).fetchone()
    assert overloads == {"n": 1}


# --- related states -------------------------------------------------------------------------------------------------


def test_own_stale_row_at_an_old_time_is_moved_or_refused_never_raw(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    p = d.booking(tm_conn, f.restaurant_id, at(17), at(19))
    other = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, p, [f.tables[0]])
    assign(tm_conn, other, [f.tables[0]])
    with pytest.raises(errors.TableOccupied), translated():  # origin: raw 23505 on the slot key
        tm_conn.execute("UPDATE bookings SET start_at = %s, end_at = %s WHERE id = %s", (at(19), at(21), p))
    tm_conn.execute("UPDATE bookings SET start_at = %s, end_at = %s WHERE id = %s", (at(16), at(18), p))
    assert [(r["start_at"], r["end_at"]) for r in d.assignments(tm_conn, p)] == [(at(16), at(18))]


def test_overlap_at_another_slot_is_a_typed_conflict_via_functions(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    other = d.booking(tm_conn, f.restaurant_id, at(18), at(20))
    p = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, other, [f.tables[0]])
    with pytest.raises(errors.TableOccupied) as caught:  # origin: raw 23P01
        assign(tm_conn, p, [f.tables[0]])
    assert caught.value.sqlstate == "TAC01" and caught.value.fields["blocking_booking_id"] == str(other)


def test_overlap_by_direct_write_is_refused_and_names_the_conflicting_key(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    other = d.booking(tm_conn, f.restaurant_id, at(18), at(20))
    p = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, other, [f.tables[0]])
    _lock_zone(tm_conn, p, f.zone_id)
    with pytest.raises(errors.TableOccupied) as caught, translated():
        tm_conn.execute(INSERT_ROW, (f.restaurant_id, p, f.tables[0], f.zone_id, at(19), at(21)))
    # PostgreSQL's DETAIL names the conflicting key (restaurant, table, window) of the row already there
    assert caught.value.sqlstate == "23P01" and str(f.tables[0]) in (caught.value.details or "")
    assert "2030-06-01 18:00:00+00" in (caught.value.details or "")


def test_ledger_without_assignment_same_key_and_new_key(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, f.tables[:2], key="k1")
    unassign(tm_conn, b)
    assert len(assign(tm_conn, b, f.tables[:2], key="k1")) == 2  # same key: executes, not a 0-row replay
    unassign(tm_conn, b)
    assert len(assign(tm_conn, b, f.tables[:2], key="k2")) == 2  # new key, same set: no hash collision
    with pytest.raises(errors.LedgerInconsistent), translated():  # and a stale row cannot be written directly
        tm_conn.execute(
            "INSERT INTO booking_assignment_idempotency (restaurant_id, booking_id, idempotency_key, table_ids,"
            " require_adjacency, request_fingerprint, start_at, end_at) VALUES (%s, %s, 'k9', %s, false, 'x', %s, %s)",
            (f.restaurant_id, b, [f.tables[3]], at(19), at(21)),
        )


def test_no_merge_group_outlives_its_rows(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    first = assign(tm_conn, b, f.tables[:2])[0]["merge_group_id"]
    assign(tm_conn, b, f.tables[2:4])  # replacement
    c = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, c, f.tables[:2])
    unassign(tm_conn, c)
    groups = tm_conn.execute(
        "SELECT resource_id FROM allocations WHERE resource_type = 'merge_group'"
    ).fetchall()
    live = tm_conn.execute(
        "SELECT DISTINCT merge_group_id AS resource_id FROM booking_table_assignments WHERE merge_group_id IS NOT NULL"
    ).fetchall()
    assert groups == live and len(groups) == 1 and first not in {g["resource_id"] for g in groups}
    tables = tm_conn.execute(
        "SELECT count(*) AS n FROM pg_class WHERE relname IN ('merge_groups', 'booking_merge_groups')"
    ).fetchone()
    assert tables == {"n": 0}  # a merge group is a value on its rows, not a row that can be orphaned


def test_zone_lock_cannot_drift(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    terrace = d.zone(tm_conn, f.restaurant_id, "Terrace")
    patio = d.table(tm_conn, f.restaurant_id, terrace, "P1")
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, [f.tables[0]])
    # direct: point the lock elsewhere while assigned -> refused by the zone foreign key
    with pytest.raises(errors.ZoneLocked), translated():
        _lock_zone(tm_conn, b, terrace)
    # direct: delete the rows -> the lock is cleared with them
    tm_conn.execute("DELETE FROM booking_table_assignments WHERE booking_id = %s", (b,))
    zone = tm_conn.execute("SELECT assigned_zone_id FROM bookings WHERE id = %s", (b,)).fetchone()
    assert zone == {"assigned_zone_id": None}
    # direct: a lock on a booking without tables does not block an assignment elsewhere, which re-points it
    _lock_zone(tm_conn, b, f.zone_id)
    assign(tm_conn, b, [patio])
    zone = tm_conn.execute("SELECT assigned_zone_id FROM bookings WHERE id = %s", (b,)).fetchone()
    assert zone == {"assigned_zone_id": terrace}
    # functions: unassign clears it
    unassign(tm_conn, b)
    zone = tm_conn.execute("SELECT assigned_zone_id FROM bookings WHERE id = %s", (b,)).fetchone()
    assert zone == {"assigned_zone_id": None}


def test_direct_row_in_a_zone_other_than_the_bookings_lock_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    terrace = d.zone(tm_conn, f.restaurant_id, "Terrace")
    patio = d.table(tm_conn, f.restaurant_id, terrace, "P1")
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, [f.tables[0]])
    with pytest.raises(errors.ZoneLocked) as caught, translated():
        tm_conn.execute(INSERT_ROW, (f.restaurant_id, b, patio, terrace, at(19), at(21)))
    assert caught.value.constraint == "booking_table_assignments_booking_zone_fkey"
    with pytest.raises(errors.ZoneLocked), translated():  # the row's zone must also be its table's zone
        tm_conn.execute(INSERT_ROW, (f.restaurant_id, b, patio, f.zone_id, at(19), at(21)))
