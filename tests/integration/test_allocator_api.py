"""tablemend.Allocator: typed results, typed errors, input refused before the database is touched, pool sessions."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from tablemend import Allocator, db, errors
from tablemend.allocator import Assignment, Hold
from tests.integration import tmdata as d


@pytest.fixture
def alloc(tm_dsn: str) -> Iterator[Allocator]:
    with Allocator.open(tm_dsn, min_size=1, max_size=2) as a:
        yield a


def test_conflicts_are_not_recorded_when_told_not_to(tm_conn: db.Connection, tm_dsn: str) -> None:
    f = d.floor(tm_conn)
    first, second = d.booking(tm_conn, f.restaurant_id), d.booking(tm_conn, f.restaurant_id)
    with Allocator.open(tm_dsn, record_conflicts=False) as quiet:
        quiet.assign(first, [f.tables[0]])
        with pytest.raises(errors.TableOccupied):
            quiet.assign(second, [f.tables[0]])
    assert d.count(tm_conn, "observability_events") == 0


@pytest.fixture
def offline() -> Allocator:
    """An Allocator whose pool was never opened: any call that reached the database would raise PoolClosed."""
    return Allocator(ConnectionPool("postgresql://nowhere.invalid/x", open=False))


def test_assign_returns_frozen_assignments_with_one_merge_group(tm_conn: db.Connection, alloc: Allocator) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, party_size=6)
    rows = alloc.assign(str(b), [f.by_number["T1"], str(f.by_number["T2"])], key="r1", require_adjacency=True)
    assert [type(r) for r in rows] == [Assignment, Assignment]
    assert [r.table_id for r in rows] == sorted([f.by_number["T1"], f.by_number["T2"]])
    assert rows[0].merge_group_id is not None and rows[0].merge_group_id == rows[1].merge_group_id
    assert (rows[0].start_at, rows[0].end_at) == (d.at(19), d.at(21))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[0].table_id = uuid.uuid4()  # type: ignore[misc]
    assert alloc.assign(b, [f.by_number["T2"], f.by_number["T1"]], key="r1", require_adjacency=True) == rows
    state = alloc.booking(b)
    assert state.table_ids == tuple(r.table_id for r in rows) and state.assigned_zone_id == f.zone_id


def test_database_refusals_arrive_typed_with_their_ids(tm_conn: db.Connection, alloc: Allocator) -> None:
    f = d.floor(tm_conn)
    first = d.booking(tm_conn, f.restaurant_id)
    second = d.booking(tm_conn, f.restaurant_id, d.at(20), d.at(22))
    alloc.assign(first, [f.tables[0]])
    with pytest.raises(errors.TableOccupied) as occupied:
        alloc.assign(second, [f.tables[0]])
    assert occupied.value.sqlstate == "TAC01" and occupied.value.http_status == 409
    assert occupied.value.fields["blocking_booking_id"] == str(first)
    assert isinstance(occupied.value.__cause__, Exception)  # the driver's exception is kept
    event = tm_conn.execute("SELECT source, event_type, severity, booking_id, restaurant_id, context"
                            " FROM observability_events").fetchone()
    assert event is not None  # the refused call rolled back; its conflict was recorded afterwards
    assert (event["source"], event["event_type"], event["severity"]) == ("capacity.rpc", "capacity.rpc.conflict",
                                                                         "warning")
    assert (event["booking_id"], event["restaurant_id"]) == (second, f.restaurant_id)
    assert event["context"]["error"]["code"] == "TAC01" and event["context"]["source"] == "assign"
    assert event["context"]["tableIds"] == [str(f.tables[0])]
    missing = uuid.uuid4()
    with pytest.raises(errors.BookingNotFound) as info:
        alloc.assign(missing, [f.tables[0]])
    assert info.value.fields["booking_id"] == str(missing) and info.value.exit_code == 4
    assert d.count(tm_conn, "observability_events") == 1  # a 404 is not a conflict
    alloc.assign(second, [f.tables[1]], key="k")
    with pytest.raises(errors.IdempotencyMismatch) as mismatch:
        alloc.assign(second, [f.tables[2]], key="k")
    assert mismatch.value.fields["field"] == "table_ids"


@pytest.mark.parametrize(
    ("call", "cls", "needle"),
    [
        (lambda a: a.assign("B-17", [uuid.uuid4()]), errors.UsageError, "'B-17'"),
        (lambda a: a.assign(uuid.uuid4(), ["T1"]), errors.UsageError, "'T1'"),
        (lambda a: a.assign(uuid.uuid4(), str(uuid.uuid4())), errors.UsageError, "list"),
        (lambda a: a.assign(uuid.uuid4(), []), errors.InvalidTableList, "table id"),
        (lambda a: a.assign(uuid.uuid4(), [uuid.uuid4()], key="  "), errors.InvalidArgument, "blank"),
        (lambda a: a.assign(uuid.uuid4(), [uuid.uuid4()], start_at=d.at(19)), errors.InvalidWindow, "together"),
        (lambda a: a.assign(uuid.uuid4(), [uuid.uuid4()], start_at=d.at(21), end_at=d.at(19)), errors.InvalidWindow,
         "reversed"),
        (lambda a: a.assign(uuid.uuid4(), [uuid.uuid4()], start_at=datetime(2030, 1, 1), end_at=datetime(2030, 1, 2)),
         errors.InvalidWindow, "time zone"),  # as docs/allocator-client.md says
        (lambda a: a.unassign("x"), errors.UsageError, "'x'"),
        (lambda a: a.create_hold(uuid.uuid4(), [uuid.uuid4()], d.at(19), d.at(19)), errors.InvalidWindow, "empty"),
        (lambda a: a.create_hold(uuid.uuid4(), [uuid.uuid4()], d.at(19), d.at(20), ttl=timedelta(0)),
         errors.InvalidArgument, "future"),
        (lambda a: a.extend_hold("h"), errors.UsageError, "hold_id"),
        (lambda a: a.confirm_hold(uuid.uuid4(), "b"), errors.UsageError, "booking_id"),
        (lambda a: a.set_booking_status(uuid.uuid4(), "CANCELLED"), errors.UsageError, "'CANCELLED'"),
        (lambda a: a.move_booking(uuid.uuid4(), d.at(20), d.at(19)), errors.InvalidWindow, "reversed"),
    ],
)
def test_bad_input_is_refused_before_the_database(offline: Allocator, call: object, cls: type, needle: str) -> None:
    with pytest.raises(cls) as info:
        call(offline)  # type: ignore[operator]
    assert needle in str(info.value)


def test_hold_flow(tm_conn: db.Connection, alloc: Allocator) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, party_size=6)
    other = d.booking(tm_conn, f.restaurant_id)
    pair = [f.by_number["T2"], f.by_number["T1"]]
    hold = alloc.create_hold(f.restaurant_id, pair, d.at(19), d.at(21), booking_id=b, ttl=timedelta(minutes=2))
    assert isinstance(hold, Hold) and hold.table_ids == tuple(sorted(pair)) and hold.booking_id == b
    with pytest.raises(errors.HoldConflict) as blocked:
        alloc.assign(other, [f.by_number["T1"]])
    assert blocked.value.fields["hold_id"] == str(hold.hold_id)
    with pytest.raises(errors.HoldConflict):
        alloc.create_hold(f.restaurant_id, [f.by_number["T1"]], d.at(20), d.at(22))
    events = tm_conn.execute("SELECT restaurant_id, booking_id, context->'error'->>'code' AS code"
                             " FROM observability_events ORDER BY created_at, context->>'source'").fetchall()
    assert {(e["booking_id"], e["code"]) for e in events} == {(other, "TAC02"), (None, "TAC02")}
    assert {e["restaurant_id"] for e in events} == {f.restaurant_id}
    later = alloc.extend_hold(hold.hold_id, ttl=timedelta(minutes=10))
    assert later > hold.expires_at
    rows = alloc.confirm_hold(hold.hold_id)
    assert [r.table_id for r in rows] == sorted(pair)
    assert alloc.release_hold(hold.hold_id) is False  # consumed by the confirm
    with pytest.raises(errors.HoldNotActive):
        alloc.extend_hold(hold.hold_id)
    with pytest.raises(errors.HoldNotFound):
        alloc.release_hold(uuid.uuid4())


def test_status_and_move(tm_conn: db.Connection, alloc: Allocator) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    blocker = d.booking(tm_conn, f.restaurant_id, d.at(22), d.at(23))
    alloc.assign(b, [f.tables[0]])
    alloc.assign(blocker, [f.tables[0]])
    moved = alloc.move_booking(b, d.at(17), d.at(19))
    assert (moved.start_at, moved.end_at) == (d.at(17), d.at(19))
    assert d.assignments(tm_conn, b)[0]["start_at"] == d.at(17)  # the table moved with the booking
    before = d.snapshot(tm_conn)
    with pytest.raises(errors.TableOccupied) as occupied:
        alloc.move_booking(b, d.at(21), d.at(23))
    assert occupied.value.fields["blocking_booking_id"] == str(blocker)
    after = d.snapshot(tm_conn)
    assert after.pop("events") == [{"n": 1}] and before.pop("events") == [{"n": 0}]
    assert after == before
    with pytest.raises(errors.BookingNotFound):
        alloc.move_booking(uuid.uuid4(), d.at(17), d.at(19))
    change = alloc.set_booking_status(b, "cancelled")
    assert (change.previous, change.status, change.released) == ("confirmed", "cancelled", True)
    assert d.assignments(tm_conn, b) == []
    assert alloc.set_booking_status(b, "confirmed").released is False
    assert alloc.unassign(b) == ()


def test_pool_sessions_match_db_connect(alloc: Allocator) -> None:
    """Nothing rides on the session (a transaction-mode pooler would drop it): no startup options, no session SET;
    only the application name, which poolers pass on."""
    with alloc.pool.connection() as conn:
        row = conn.execute("SELECT current_setting('application_name') AS app,"
                           " current_setting('plan_cache_mode') AS plans,"
                           " current_setting('enable_indexscan') AS indexscan").fetchone()
        assert row == {"app": "tablemend", "plans": "auto", "indexscan": "on"}  # dict rows
        assert conn.prepare_threshold is None and conn.autocommit
        assert "options" not in conn.info.get_parameters()


def test_pool_returns_utc_whatever_the_server_time_zone(tm_dsn: str) -> None:
    with db.connect(tm_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET TimeZone = 'America/New_York'").format(
            sql.Identifier(admin.info.dbname)))
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn)
        b, t1 = d.booking(conn, f.restaurant_id), f.tables[0]
    with Allocator.open(tm_dsn, max_size=1) as alloc:
        with alloc.pool.connection() as conn:
            assert conn.execute("SELECT current_setting('TimeZone') AS tz").fetchone() == {"tz": "America/New_York"}
        (row,) = alloc.assign(b, [t1])
        state = alloc.booking(b)
    assert row.start_at.utcoffset() == timedelta(0) and row.start_at.tzname() == "UTC"
    assert state.start_at.tzname() == "UTC" and state.end_at.tzname() == "UTC"


def test_open_fails_fast_and_typed_on_an_unreachable_server() -> None:
    with pytest.raises(errors.ConnectionFailed) as info:
        Allocator.open("postgresql://postgres:x@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "127.0.0.1:1/nowhere" in info.value.message
    with pytest.raises(errors.UsageError):
        Allocator.open("postgresql://x", min_size=3, max_size=2)
