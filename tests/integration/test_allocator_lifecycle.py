"""Booking status and time changes: terminal states release everything in the same transaction (history kept),
edits move the assignment or are refused, and terminal bookings can never hold a table."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tablemend import db, errors
from tablemend.db import Connection, translated
from tests.integration import tmdata as d
from tests.integration.tmdata import assign, at, hold, snapshot

TERMINAL = ["cancelled", "no_show", "completed", "PRIORITY_WAITLIST"]


def _booking_row(conn: Connection, booking_id: uuid.UUID) -> dict[str, object]:
    row = conn.execute(
        "SELECT status::text AS status, assigned_zone_id, start_at, end_at FROM bookings WHERE id = %s", (booking_id,)
    ).fetchone()
    assert row is not None
    return dict(row)


@pytest.mark.parametrize("status", TERMINAL)
@pytest.mark.parametrize("via", ["update", "function"])
def test_terminal_status_releases_everything_and_keeps_history(tm_conn: Connection, status: str, via: str) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, b, f.tables[:2], key="k1")
    h = hold(tm_conn, f.restaurant_id, [f.tables[2]], at(22), at(23), booking_id=b)
    if via == "update":
        tm_conn.execute("UPDATE bookings SET status = %s WHERE id = %s", (status, b))
    else:
        previous = tm_conn.execute("SELECT set_booking_status(%s, %s)::text AS p", (b, status)).fetchone()
        assert previous == {"p": "confirmed"}
    for relation in ("booking_table_assignments", "allocations", "booking_assignment_idempotency"):
        assert d.count(tm_conn, relation, b) == 0, relation
    assert d.count(tm_conn, "table_hold_members") == 0
    hold_status = tm_conn.execute("SELECT status::text AS s FROM table_holds WHERE id = %s", (h,)).fetchone()
    assert hold_status == {"s": "cancelled"}
    assert _booking_row(tm_conn, b)["assigned_zone_id"] is None
    history = tm_conn.execute(
        "SELECT table_id, release_reason FROM booking_table_assignments_archive WHERE booking_id = %s ORDER BY 1",
        (b,),
    ).fetchall()
    assert history == [{"table_id": t, "release_reason": f"status:{status}"} for t in sorted(f.tables[:2])]
    # the tables are free for someone else at once
    other = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assert len(assign(tm_conn, other, f.tables[:2])) == 2


def test_live_status_changes_keep_the_assignment(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, status="pending")
    assign(tm_conn, b, [f.tables[0]])
    for status in ("confirmed", "checked_in"):
        tm_conn.execute("UPDATE bookings SET status = %s WHERE id = %s", (status, b))
    assert d.count(tm_conn, "booking_table_assignments", b) == 1


def test_set_booking_status_validates_its_input(tm_conn: Connection) -> None:
    with pytest.raises(errors.BookingNotFound), translated():
        tm_conn.execute("SELECT set_booking_status(%s, 'cancelled')", (uuid.uuid4(),))
    with pytest.raises(errors.InvalidArgument), translated():
        tm_conn.execute("SELECT set_booking_status(NULL, 'cancelled')")


def test_direct_assignment_row_for_a_terminal_booking_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, status="cancelled")
    tm_conn.execute("UPDATE bookings SET assigned_zone_id = %s WHERE id = %s", (f.zone_id, b))
    with pytest.raises(errors.BookingNotAssignable) as caught, translated():
        tm_conn.execute(
            "INSERT INTO booking_table_assignments (restaurant_id, booking_id, table_id, zone_id, start_at, end_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (f.restaurant_id, b, f.tables[0], f.zone_id, at(19), at(21)),
        )
    assert caught.value.sqlstate == "TAC06" and caught.value.fields["booking_id"] == str(b)


def test_cancel_racing_a_direct_insert_leaves_no_row(tm_dsn: str, tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    tm_conn.execute("UPDATE bookings SET assigned_zone_id = %s WHERE id = %s", (f.zone_id, b))
    with db.connect(tm_dsn) as writer:
        writer.execute(
            "INSERT INTO booking_table_assignments (restaurant_id, booking_id, table_id, zone_id, start_at, end_at)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (f.restaurant_id, b, f.tables[0], f.zone_id, at(19), at(21)),
        )

        def cancel() -> None:
            with db.connect(tm_dsn, autocommit=True) as conn:
                conn.execute("UPDATE bookings SET status = 'cancelled' WHERE id = %s", (b,))

        canceller = threading.Thread(target=cancel)
        canceller.start()
        time.sleep(0.3)  # the cancel now waits for the writer's share lock on the booking
        assert canceller.is_alive()
        writer.commit()
        canceller.join(10)
    assert d.count(tm_conn, "booking_table_assignments", b) == 0
    assert d.count(tm_conn, "booking_table_assignments_archive", b) == 1


def test_time_edit_moves_the_assignment_and_releases_the_holds(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, b, f.tables[:2], key="k1")
    h = hold(tm_conn, f.restaurant_id, [f.tables[2]], at(19), at(21), booking_id=b)
    # edit the origin's columns: date + local times (UTC restaurant)
    tm_conn.execute("UPDATE bookings SET start_time = '20:00', end_time = '22:30' WHERE id = %s", (b,))
    rows = d.assignments(tm_conn, b)
    assert {(r["start_at"], r["end_at"]) for r in rows} == {(at(20), at(22.5))}
    assert d.count(tm_conn, "booking_assignment_idempotency", b) == 0
    assert d.count(tm_conn, "table_hold_members") == 0
    status = tm_conn.execute("SELECT status::text AS s FROM table_holds WHERE id = %s", (h,)).fetchone()
    assert status == {"s": "cancelled"}


def test_date_edit_moves_the_assignment_to_the_new_day(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, b, [f.tables[0]])
    tm_conn.execute("UPDATE bookings SET booking_date = booking_date + 1 WHERE id = %s", (b,))
    rows = d.assignments(tm_conn, b)
    assert (rows[0]["start_at"], rows[0]["end_at"]) == (at(19, day=1), at(21, day=1))


def test_time_edit_into_a_conflict_is_refused_naming_the_blocker(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(17), at(19))
    blocker = d.booking(tm_conn, f.restaurant_id, at(20), at(22))
    assign(tm_conn, b, [f.tables[0]])
    assign(tm_conn, blocker, [f.tables[0]])
    before = snapshot(tm_conn)
    with pytest.raises(errors.TableOccupied) as caught, translated():
        tm_conn.execute("UPDATE bookings SET start_at = %s, end_at = %s WHERE id = %s", (at(19), at(21), b))
    assert caught.value.fields["blocking_booking_id"] == str(blocker)
    assert caught.value.fields["booking_id"] == str(b)
    assert snapshot(tm_conn) == before


def test_deleting_a_booking_removes_its_rows(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, f.tables[:2], key="k1")
    tm_conn.execute("DELETE FROM bookings WHERE id = %s", (b,))
    for relation in ("booking_table_assignments", "booking_table_assignments_archive",
                     "booking_assignment_idempotency"):
        assert d.count(tm_conn, relation) == 0, relation


def test_a_table_with_assignments_cannot_be_deleted_or_moved_to_another_zone(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    terrace = d.zone(tm_conn, f.restaurant_id, "Terrace")
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, [f.tables[0]])
    with pytest.raises(errors.ZoneLocked) as caught, translated():
        tm_conn.execute("UPDATE table_inventory SET zone_id = %s WHERE id = %s", (terrace, f.tables[0]))
    assert caught.value.sqlstate == "23503" and caught.value.http_status == 409
    with pytest.raises(errors.ZoneLocked), translated():
        tm_conn.execute("DELETE FROM table_inventory WHERE id = %s", (f.tables[0],))
