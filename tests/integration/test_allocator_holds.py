"""Holds: create (with expiry) / extend / release / confirm, and how holds meet assignments."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tablemend import errors
from tablemend.db import Connection, translated
from tests.integration import tmdata as d
from tests.integration.tmdata import assign, at, confirm, hold, snapshot


def _expire(conn: Connection, hold_id: uuid.UUID) -> None:
    conn.execute("UPDATE table_holds SET expires_at = now() - interval '1 second' WHERE id = %s", (hold_id,))


def _status(conn: Connection, hold_id: uuid.UUID) -> str:
    row = conn.execute("SELECT status::text AS s FROM table_holds WHERE id = %s", (hold_id,)).fetchone()
    assert row is not None
    return str(row["s"])


def test_create_hold_makes_active_members_and_shadow_allocations(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    h = hold(tm_conn, f.restaurant_id, f.tables[:2], at(19), at(21))
    assert _status(tm_conn, h) == "active"
    assert d.count(tm_conn, "table_hold_members") == 2
    shadows = tm_conn.execute("SELECT count(*) AS n FROM allocations WHERE shadow AND id = %s", (h,)).fetchone()
    assert shadows == {"n": 2}


def test_hold_of_another_booking_blocks_assignment_naming_the_hold(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    holder = d.booking(tm_conn, f.restaurant_id)
    b = d.booking(tm_conn, f.restaurant_id, at(20), at(22))
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21), booking_id=holder)
    before = snapshot(tm_conn)
    with pytest.raises(errors.HoldConflict) as caught:
        assign(tm_conn, b, [f.tables[0]])
    err = caught.value
    assert err.sqlstate == "TAC02" and err.http_status == 409
    assert err.fields["hold_id"] == str(h) and err.fields["hold_booking_id"] == str(holder)
    assert err.fields["table_id"] == str(f.tables[0]) and err.fields["booking_id"] == str(b)
    assert err.fields["window"] == "[2030-06-01T19:00:00Z,2030-06-01T21:00:00Z)"
    assert snapshot(tm_conn) == before


def test_unowned_hold_blocks_every_booking(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    with pytest.raises(errors.HoldConflict) as caught:
        assign(tm_conn, b, [f.tables[0]])
    assert caught.value.fields["hold_booking_id"] == "NULL"


def test_expired_hold_never_blocks_an_assignment(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    _expire(tm_conn, h)
    assert len(assign(tm_conn, b, [f.tables[0]])) == 1


def test_expired_hold_never_blocks_a_new_hold_and_is_retired(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    old = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    _expire(tm_conn, old)
    new = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    assert (_status(tm_conn, old), _status(tm_conn, new)) == ("expired", "active")


def test_assignment_consumes_the_bookings_own_hold(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    h = hold(tm_conn, f.restaurant_id, f.tables[:2], at(19), at(21), booking_id=b)
    assert len(assign(tm_conn, b, f.tables[:2])) == 2
    assert _status(tm_conn, h) == "confirmed"
    assert d.count(tm_conn, "table_hold_members") == 0


def test_hold_over_an_occupied_table_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, [f.tables[0]])
    with pytest.raises(errors.TableOccupied) as caught:
        hold(tm_conn, f.restaurant_id, [f.tables[0]], at(20), at(22))
    assert caught.value.fields["blocking_booking_id"] == str(b)


def test_hold_over_another_active_hold_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    first = hold(tm_conn, f.restaurant_id, f.tables[:2], at(19), at(21))
    before = snapshot(tm_conn)
    with pytest.raises(errors.HoldConflict) as caught:
        hold(tm_conn, f.restaurant_id, [f.tables[1]], at(20), at(22))
    assert caught.value.fields["hold_id"] == str(first)
    assert snapshot(tm_conn) == before


def test_a_bookings_new_hold_replaces_its_earlier_one(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    first = hold(tm_conn, f.restaurant_id, f.tables[:2], at(19), at(21), booking_id=b)
    second = hold(tm_conn, f.restaurant_id, f.tables[1:3], at(19), at(21), booking_id=b)
    assert (_status(tm_conn, first), _status(tm_conn, second)) == ("cancelled", "active")


def test_direct_overlapping_member_insert_is_a_hold_conflict(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    other = tm_conn.execute(
        "INSERT INTO table_holds (restaurant_id, zone_id, start_at, end_at, expires_at)"
        " VALUES (%s, %s, %s, %s, now() + interval '5 minutes') RETURNING id",
        (f.restaurant_id, f.zone_id, at(20), at(22)),
    ).fetchone()
    assert other is not None
    with pytest.raises(errors.HoldConflict) as caught, translated():
        tm_conn.execute(
            "INSERT INTO table_hold_members (restaurant_id, hold_id, table_id, start_at, end_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (f.restaurant_id, other["id"], f.tables[0], at(20), at(22)),
        )
    assert caught.value.sqlstate == "23P01" and caught.value.constraint == "table_hold_members_no_overlap"


def test_member_windows_follow_their_hold(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    h = hold(tm_conn, f.restaurant_id, f.tables[:2], at(19), at(21))
    tm_conn.execute("UPDATE table_holds SET start_at = %s, end_at = %s WHERE id = %s", (at(17), at(18), h))
    windows = tm_conn.execute("SELECT DISTINCT start_at, end_at FROM table_hold_members").fetchall()
    assert windows == [{"start_at": at(17), "end_at": at(18)}]


def test_create_hold_validates_its_input(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    other = d.floor(tm_conn, name="Elsewhere")
    with pytest.raises(errors.InvalidTableList):
        hold(tm_conn, f.restaurant_id, [], at(19), at(21))
    with pytest.raises(errors.InvalidWindow):
        hold(tm_conn, f.restaurant_id, [f.tables[0]], at(21), at(19))
    with pytest.raises(errors.InvalidArgument) as caught:
        hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21), ttl=timedelta(minutes=-1))
    assert caught.value.fields["restaurant_id"] == str(f.restaurant_id)
    with pytest.raises(errors.TableOfOtherRestaurant):
        hold(tm_conn, f.restaurant_id, [other.tables[0]], at(19), at(21))
    with pytest.raises(errors.BookingNotFound):
        hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21), booking_id=uuid.uuid4())
    assert d.count(tm_conn, "table_holds") == 0


def test_extend_moves_the_expiry(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    new = tm_conn.execute("SELECT extend_table_hold(%s, now() + interval '1 hour') AS e", (h,)).fetchone()
    stored = tm_conn.execute(
        "SELECT expires_at AS e, expires_at > now() + interval '50 minutes' AS later FROM table_holds WHERE id = %s",
        (h,),
    ).fetchone()
    assert new is not None and stored is not None
    assert stored["later"] and stored["e"] == new["e"]


def test_extend_of_an_expired_or_released_hold_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    expired = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    _expire(tm_conn, expired)
    released = hold(tm_conn, f.restaurant_id, [f.tables[1]], at(19), at(21))
    tm_conn.execute("SELECT release_table_hold(%s)", (released,))
    for h, state in ((expired, "expired"), (released, "cancelled")):
        with pytest.raises(errors.HoldNotActive) as caught, translated():
            tm_conn.execute("SELECT extend_table_hold(%s, now() + interval '1 hour')", (h,))
        assert caught.value.sqlstate == "TAC07"
        assert caught.value.fields["hold_id"] == str(h) and caught.value.fields["status"] == state


def test_extend_validates_its_input(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    with pytest.raises(errors.InvalidArgument), translated():
        tm_conn.execute("SELECT extend_table_hold(%s, now() - interval '1 minute')", (h,))
    ghost = uuid.uuid4()
    with pytest.raises(errors.HoldNotFound) as caught, translated():
        tm_conn.execute("SELECT extend_table_hold(%s, now() + interval '1 hour')", (ghost,))
    assert caught.value.sqlstate == "TAN02" and caught.value.http_status == 404
    assert caught.value.fields == {"hold_id": str(ghost)}


def test_release_frees_the_tables_and_is_harmless_twice(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    released = [
        tm_conn.execute("SELECT release_table_hold(%s) AS r", (h,)).fetchone() for _ in range(2)
    ]
    assert released == [{"r": True}, {"r": False}]
    assert _status(tm_conn, h) == "cancelled" and d.count(tm_conn, "table_hold_members") == 0
    assert len(assign(tm_conn, b, [f.tables[0]])) == 1


def test_confirm_assigns_exactly_the_holds_tables_and_window(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    h = hold(tm_conn, f.restaurant_id, f.tables[1:3], at(18), at(20), booking_id=b)
    rows = confirm(tm_conn, h)
    assert [(r["table_id"], r["start_at"], r["end_at"]) for r in rows] == [
        (t, at(18), at(20)) for t in sorted(f.tables[1:3])
    ]
    assert _status(tm_conn, h) == "confirmed" and d.count(tm_conn, "table_hold_members") == 0
    assert confirm(tm_conn, h) == rows  # a retried confirm answers with the same assignment


def test_confirm_of_an_unowned_hold_needs_and_claims_a_booking(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    with pytest.raises(errors.InvalidArgument):
        confirm(tm_conn, h)
    assert [r["table_id"] for r in confirm(tm_conn, h, b, key="c1")] == [f.tables[0]]
    owner = tm_conn.execute("SELECT booking_id FROM table_holds WHERE id = %s", (h,)).fetchone()
    assert owner == {"booking_id": b}


def test_confirm_for_another_booking_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    owner = d.booking(tm_conn, f.restaurant_id)
    other = d.booking(tm_conn, f.restaurant_id)
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21), booking_id=owner)
    with pytest.raises(errors.HoldBookingMismatch) as caught:
        confirm(tm_conn, h, other)
    assert caught.value.sqlstate == "TAC08"
    assert caught.value.fields == {"hold_id": str(h), "hold_booking_id": str(owner), "booking_id": str(other)}


def test_confirm_of_an_expired_hold_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21), booking_id=b)
    _expire(tm_conn, h)
    before = snapshot(tm_conn)
    with pytest.raises(errors.HoldNotActive) as caught:
        confirm(tm_conn, h)
    assert caught.value.fields["status"] == "expired"
    assert snapshot(tm_conn) == before


def test_confirm_of_a_missing_hold_is_not_found(tm_conn: Connection) -> None:
    with pytest.raises(errors.HoldNotFound):
        confirm(tm_conn, uuid.uuid4())


def test_a_booking_move_onto_another_bookings_hold_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(17), at(19))
    holder = d.booking(tm_conn, f.restaurant_id, at(20), at(22))
    assign(tm_conn, b, [f.tables[0]])
    h = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(20), at(22), booking_id=holder)
    before = snapshot(tm_conn)
    with pytest.raises(errors.HoldConflict) as caught, translated():
        tm_conn.execute("UPDATE bookings SET start_at = %s, end_at = %s WHERE id = %s", (at(19), at(21), b))
    assert caught.value.fields["hold_id"] == str(h) and caught.value.fields["booking_id"] == str(b)
    assert snapshot(tm_conn) == before


def test_an_unowned_hold_blocks_another_unowned_hold(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    first = hold(tm_conn, f.restaurant_id, [f.tables[0]], at(19), at(21))
    with pytest.raises(errors.HoldConflict) as caught:
        hold(tm_conn, f.restaurant_id, [f.tables[0]], at(20), at(22))
    assert caught.value.sqlstate == "TAC02" and caught.value.fields["hold_id"] == str(first)
