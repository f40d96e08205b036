"""assign_tables_atomic_v2 / unassign_tables_atomic: one test per rule and per error code (SQLSTATE, DETAIL ids)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tablemend import errors
from tablemend.db import Connection, translated
from tests.integration import tmdata as d
from tests.integration.tmdata import assign, at, snapshot, unassign


def test_single_table_assignment_returns_the_window_and_no_merge_group(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    rows = assign(tm_conn, b, [f.tables[0]])
    assert rows == [{"table_id": f.tables[0], "start_at": at(19), "end_at": at(21), "merge_group_id": None}]
    zone = tm_conn.execute("SELECT assigned_zone_id FROM bookings WHERE id = %s", (b,)).fetchone()
    assert zone == {"assigned_zone_id": f.zone_id}


def test_multi_table_assignment_shares_one_merge_group_and_allocations_view_derives_it(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, party_size=6)
    rows = assign(tm_conn, b, [f.tables[1], f.tables[0], f.tables[1]])  # duplicates and order do not matter
    assert [r["table_id"] for r in rows] == sorted(f.tables[:2])
    merge = {r["merge_group_id"] for r in rows}
    assert len(merge) == 1 and None not in merge
    kinds = tm_conn.execute(
        "SELECT resource_type, count(*) AS n FROM allocations WHERE booking_id = %s GROUP BY 1 ORDER BY 1", (b,)
    ).fetchall()
    assert kinds == [{"resource_type": "merge_group", "n": 1}, {"resource_type": "table", "n": 2}]


def test_custom_window_is_used_instead_of_the_booking_window(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    rows = assign(tm_conn, b, [f.tables[0]], start_at=at(18), end_at=at(22))
    assert (rows[0]["start_at"], rows[0]["end_at"]) == (at(18), at(22))


def test_back_to_back_bookings_share_a_table(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    first = d.booking(tm_conn, f.restaurant_id, at(18), at(20))
    second = d.booking(tm_conn, f.restaurant_id, at(20), at(22))
    assign(tm_conn, first, [f.tables[0]])
    assign(tm_conn, second, [f.tables[0]])
    assert d.count(tm_conn, "booking_table_assignments") == 2


def test_overlap_raises_table_occupied_naming_blocker_table_and_window(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    blocker = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    b = d.booking(tm_conn, f.restaurant_id, at(20), at(22))
    assign(tm_conn, blocker, [f.tables[0]])
    before = snapshot(tm_conn)
    with pytest.raises(errors.TableOccupied) as caught:
        assign(tm_conn, b, [f.tables[1], f.tables[0]])
    err = caught.value
    assert err.sqlstate == "TAC01" and err.http_status == 409 and err.exit_code == 3
    assert err.fields == {
        "booking_id": str(b),
        "table_id": str(f.tables[0]),
        "blocking_booking_id": str(blocker),
        "window": "[2030-06-01T19:00:00Z,2030-06-01T21:00:00Z)",
        "requested_window": "[2030-06-01T20:00:00Z,2030-06-01T22:00:00Z)",
    }
    assert snapshot(tm_conn) == before


def test_reassigning_to_another_set_replaces_the_previous_set_in_one_call(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    first = assign(tm_conn, b, f.tables[:2])
    second = assign(tm_conn, b, f.tables[2:4])
    assert [r["table_id"] for r in d.assignments(tm_conn, b)] == sorted(f.tables[2:4])
    assert first[0]["merge_group_id"] != second[0]["merge_group_id"]
    reasons = tm_conn.execute(
        "SELECT table_id, release_reason FROM booking_table_assignments_archive WHERE booking_id = %s ORDER BY 1",
        (b,),
    ).fetchall()
    assert reasons == [{"table_id": t, "release_reason": "replaced"} for t in sorted(f.tables[:2])]
    # the old merge group left with its rows: nothing in the allocations view refers to it
    assert d.count(tm_conn, "allocations", b) == 3


def test_reassigning_the_same_set_and_window_keeps_the_rows(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    first = assign(tm_conn, b, f.tables[:2])
    again = assign(tm_conn, b, f.tables[:2])
    assert first == again
    assert d.count(tm_conn, "booking_table_assignments_archive") == 0


def test_reassigning_into_another_zone_moves_the_zone_lock(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    terrace = d.zone(tm_conn, f.restaurant_id, "Terrace")
    t = d.table(tm_conn, f.restaurant_id, terrace, "P1")
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, [f.tables[0]])
    assign(tm_conn, b, [t])
    zone = tm_conn.execute("SELECT assigned_zone_id FROM bookings WHERE id = %s", (b,)).fetchone()
    assert zone == {"assigned_zone_id": terrace}


@pytest.mark.parametrize("tables", [None, []], ids=["null", "empty"])
def test_null_or_empty_table_list_is_invalid(tm_conn: Connection, tables: list[uuid.UUID] | None) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    before = snapshot(tm_conn)
    with pytest.raises(errors.InvalidTableList) as caught:
        assign(tm_conn, b, tables)
    assert caught.value.sqlstate == "TAV01" and caught.value.http_status == 422 and caught.value.exit_code == 2
    assert snapshot(tm_conn) == before


def test_null_element_in_table_list_is_invalid(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    with pytest.raises(errors.InvalidTableList), translated():
        tm_conn.execute("SELECT * FROM assign_tables_atomic_v2(%s, ARRAY[%s, NULL]::uuid[])", (b, f.tables[0]))


def test_one_window_bound_only_is_invalid(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    with pytest.raises(errors.InvalidWindow) as caught:
        assign(tm_conn, b, [f.tables[0]], start_at=at(19))
    assert caught.value.sqlstate == "TAV02"
    assert caught.value.fields == {"booking_id": str(b), "start_at": "2030-06-01T19:00:00Z", "end_at": "NULL"}


@pytest.mark.parametrize("end_hour", [18, 19], ids=["reversed", "empty"])
def test_reversed_or_empty_window_is_invalid(tm_conn: Connection, end_hour: int) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    before = snapshot(tm_conn)
    with pytest.raises(errors.InvalidWindow) as caught:
        assign(tm_conn, b, [f.tables[0]], start_at=at(19), end_at=at(end_hour))
    assert caught.value.fields["booking_id"] == str(b)
    assert snapshot(tm_conn) == before


def test_unknown_table_is_invalid_and_named(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    ghost = uuid.uuid4()
    before = snapshot(tm_conn)
    with pytest.raises(errors.UnknownTable) as caught:
        assign(tm_conn, b, [f.tables[0], ghost])
    assert caught.value.sqlstate == "TAV03"
    assert caught.value.fields == {"booking_id": str(b), "table_id": str(ghost), "restaurant_id": str(f.restaurant_id)}
    assert snapshot(tm_conn) == before


def test_table_of_another_restaurant_is_invalid(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    other = d.floor(tm_conn, name="Elsewhere")
    b = d.booking(tm_conn, f.restaurant_id)
    before = snapshot(tm_conn)
    with pytest.raises(errors.TableOfOtherRestaurant) as caught:
        assign(tm_conn, b, [other.tables[0]])
    assert caught.value.sqlstate == "TAV04"
    assert caught.value.fields["table_restaurant_id"] == str(other.restaurant_id)
    assert caught.value.fields["table_id"] == str(other.tables[0])
    assert snapshot(tm_conn) == before


@pytest.mark.parametrize(("active", "status"), [(False, "available"), (True, "out_of_service")])
def test_inactive_or_out_of_service_table_is_not_assignable(tm_conn: Connection, active: bool, status: str) -> None:
    f = d.floor(tm_conn)
    t = d.table(tm_conn, f.restaurant_id, f.zone_id, "X9", active=active, status=status)
    b = d.booking(tm_conn, f.restaurant_id)
    with pytest.raises(errors.TableNotAssignable) as caught:
        assign(tm_conn, b, [t])
    assert caught.value.sqlstate == "TAV05"
    assert caught.value.fields["table_id"] == str(t) and caught.value.fields["status"] == status


def test_tables_in_different_zones_are_invalid(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    terrace = d.zone(tm_conn, f.restaurant_id, "Terrace")
    t = d.table(tm_conn, f.restaurant_id, terrace, "P1")
    b = d.booking(tm_conn, f.restaurant_id)
    with pytest.raises(errors.TablesInDifferentZones) as caught:
        assign(tm_conn, b, [f.tables[0], t])
    assert caught.value.sqlstate == "TAV06"
    assert {caught.value.fields["zone_id"], caught.value.fields["expected_zone_id"]} == {str(terrace), str(f.zone_id)}


def test_fixed_table_cannot_be_combined_but_can_be_assigned_alone(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    fixed = d.table(tm_conn, f.restaurant_id, f.zone_id, "F1", mobility="fixed")
    b = d.booking(tm_conn, f.restaurant_id)
    with pytest.raises(errors.TableNotMovable) as caught:
        assign(tm_conn, b, [f.tables[0], fixed])
    assert caught.value.sqlstate == "TAV07" and caught.value.fields["table_id"] == str(fixed)
    assert [r["table_id"] for r in assign(tm_conn, b, [fixed])] == [fixed]


def test_adjacency_accepts_a_connected_chain_in_either_edge_direction(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=3, chain=False)
    t1, t2, t3 = (f.by_number[n] for n in ("T1", "T2", "T3"))
    d.adjacency(tm_conn, f.restaurant_id, t1, t2)
    d.adjacency(tm_conn, f.restaurant_id, t3, t2)  # stored the other way round
    b = d.booking(tm_conn, f.restaurant_id)
    # T1 and T3 are not adjacent to each other, but the group T1-T2-T3 is connected
    assert len(assign(tm_conn, b, [t1, t2, t3], adjacency=True)) == 3


def test_adjacency_refuses_a_set_that_is_not_connected(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=4, chain=False)
    t1, t2, t3, t4 = (f.by_number[n] for n in ("T1", "T2", "T3", "T4"))
    # every table has a neighbour in the set (the origin's rule passes) but {T1,T2} and {T3,T4} are two groups
    d.adjacency(tm_conn, f.restaurant_id, t1, t2)
    d.adjacency(tm_conn, f.restaurant_id, t3, t4)
    b = d.booking(tm_conn, f.restaurant_id)
    before = snapshot(tm_conn)
    with pytest.raises(errors.TablesNotAdjacent) as caught:
        assign(tm_conn, b, [t1, t2, t3, t4], adjacency=True)
    assert caught.value.sqlstate == "TAV08"
    first = min(t1, t2, t3, t4)
    group = {t1, t2} if first in (t1, t2) else {t3, t4}
    unreachable = sorted({t1, t2, t3, t4} - group)
    assert caught.value.fields["unreachable_table_ids"] == ",".join(map(str, unreachable))
    assert snapshot(tm_conn) == before
    assert len(assign(tm_conn, b, [t1, t2, t3, t4], adjacency=False)) == 4


def test_missing_booking_id_is_invalid_argument(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    with pytest.raises(errors.InvalidArgument) as caught, translated():
        tm_conn.execute("SELECT * FROM assign_tables_atomic_v2(NULL, %s)", ([f.tables[0]],))
    assert caught.value.sqlstate == "TAV09" and caught.value.fields == {"booking_id": "NULL"}


def test_blank_idempotency_key_is_invalid_argument(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    with pytest.raises(errors.InvalidArgument):
        assign(tm_conn, b, [f.tables[0]], key="")


def test_unknown_booking_is_not_found(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    ghost = uuid.uuid4()
    with pytest.raises(errors.BookingNotFound) as caught:
        assign(tm_conn, ghost, [f.tables[0]])
    err = caught.value
    assert err.sqlstate == "TAN01" and err.http_status == 404 and err.exit_code == 4
    assert err.fields["booking_id"] == str(ghost)


def test_party_larger_than_the_seats_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, capacity=2)
    b = d.booking(tm_conn, f.restaurant_id, party_size=5)
    with pytest.raises(errors.InsufficientCapacity) as caught:
        assign(tm_conn, b, f.tables[:2])
    assert caught.value.sqlstate == "TAC05"
    assert caught.value.fields["seats"] == "4" and caught.value.fields["party_size"] == "5"
    assert len(assign(tm_conn, b, f.tables[:3])) == 3


@pytest.mark.parametrize("status", ["cancelled", "no_show", "completed", "PRIORITY_WAITLIST"])
def test_terminal_booking_cannot_be_assigned(tm_conn: Connection, status: str) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, status=status)
    with pytest.raises(errors.BookingNotAssignable) as caught:
        assign(tm_conn, b, [f.tables[0]])
    assert caught.value.sqlstate == "TAC06" and caught.value.fields["status"] == status


def test_unassign_removes_rows_ledger_and_zone_lock_and_archives(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, f.tables[:2], key="k1")
    assert sorted(unassign(tm_conn, b)) == sorted(f.tables[:2])
    assert d.count(tm_conn, "booking_table_assignments", b) == 0
    assert d.count(tm_conn, "allocations", b) == 0
    assert d.count(tm_conn, "booking_assignment_idempotency", b) == 0
    assert d.count(tm_conn, "booking_table_assignments_archive", b) == 2
    zone = tm_conn.execute("SELECT assigned_zone_id FROM bookings WHERE id = %s", (b,)).fetchone()
    assert zone == {"assigned_zone_id": None}


def test_unassign_of_some_tables_keeps_the_rest_and_dissolves_a_one_table_group(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, f.tables[:2])
    assert unassign(tm_conn, b, [f.tables[0]]) == [f.tables[0]]
    rows = d.assignments(tm_conn, b)
    assert [(r["table_id"], r["merge_group_id"]) for r in rows] == [(f.tables[1], None)]
    zone = tm_conn.execute("SELECT assigned_zone_id FROM bookings WHERE id = %s", (b,)).fetchone()
    assert zone == {"assigned_zone_id": f.zone_id}


def test_unassign_with_nothing_assigned_returns_nothing(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assert unassign(tm_conn, b) == []


def test_unassign_validates_its_input(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    with pytest.raises(errors.BookingNotFound):
        unassign(tm_conn, uuid.uuid4())
    with pytest.raises(errors.InvalidTableList):
        unassign(tm_conn, b, [])
    with pytest.raises(errors.InvalidArgument), translated():
        tm_conn.execute("SELECT * FROM unassign_tables_atomic(NULL)")


def test_functions_have_one_signature_and_are_security_definer(tm_conn: Connection) -> None:
    rows = tm_conn.execute(
        """SELECT p.proname, count(*) AS n, bool_and(p.prosecdef) AS definer,
                  bool_and(p.proconfig::text LIKE '%%search_path=pg_catalog, public%%') AS pinned
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND p.proname = ANY (%s) GROUP BY 1 ORDER BY 1""",
        (
            [
                "assign_tables_atomic_v2", "unassign_tables_atomic", "create_table_hold", "extend_table_hold",
                "release_table_hold", "confirm_hold_assignment", "set_booking_status",
            ],
        ),
    ).fetchall()
    assert len(rows) == 7
    assert all(r["n"] == 1 and r["definer"] and r["pinned"] for r in rows), rows


def test_booking_date_and_times_follow_the_restaurant_time_zone(tm_conn: Connection) -> None:
    rid = d.restaurant(tm_conn, timezone="Europe/London")
    row = tm_conn.execute(
        "INSERT INTO bookings (restaurant_id, booking_date, start_time, end_time, party_size)"
        " VALUES (%s, '2030-06-01', '23:00', '01:00', 2) RETURNING start_at, end_at",
        (rid,),
    ).fetchone()
    assert row is not None
    # London is UTC+1 in June; an end time before the start runs past midnight
    assert (row["start_at"], row["end_at"]) == (at(22), at(22) + timedelta(hours=2))


def test_concurrent_swaps_of_two_bookings_tables_never_deadlock(tm_dsn: str, tm_conn: Connection) -> None:
    # a replacement deletes rows on its old tables; without locking those too, two swaps each wait in the exclusion
    # check for the other's uncommitted delete
    import threading

    from tablemend import db

    f = d.floor(tm_conn, tables=2)
    x, y = f.tables
    outcomes: list[str] = []
    for _ in range(15):
        b1 = d.booking(tm_conn, f.restaurant_id)
        b2 = d.booking(tm_conn, f.restaurant_id)
        assign(tm_conn, b1, [x])
        assign(tm_conn, b2, [y])
        start = threading.Barrier(2)

        def swap(booking: uuid.UUID, target: uuid.UUID, start: threading.Barrier) -> None:
            with db.connect(tm_dsn, autocommit=True) as conn:
                start.wait()
                try:
                    assign(conn, booking, [target])
                    outcomes.append("ok")
                except errors.TableOccupied:
                    outcomes.append("TAC01")
                except errors.TablemendError as exc:
                    outcomes.append(f"{exc.sqlstate}")

        threads = [threading.Thread(target=swap, args=(b, t, start)) for b, t in ((b1, y), (b2, x))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        tm_conn.execute("UPDATE bookings SET status = 'completed' WHERE id = ANY (%s)", ([b1, b2],))
    assert set(outcomes) <= {"ok", "TAC01"}, outcomes
