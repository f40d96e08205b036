"""Bounded input: windows, hold expiries, idempotency keys and table lists beyond the limits get one typed error
naming the field, from SQL and, identically, from the Allocator and the CLI before anything is sent."""

from __future__ import annotations

import datetime as dt
import random
import string
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from tablemend import db, limits
from tablemend.allocator import Allocator
from tablemend.errors import TablemendError
from tests.acceptance.cli import run as run_cli
from tests.integration import tmdata
from tests.integration.tmdata import at
from tests.security.conftest import World, checksums

UTC = dt.UTC


def _sql_refusal(dsn: str, query: str, params: Any) -> TablemendError:
    with db.connect(dsn, autocommit=True) as conn:
        try:
            with db.translated():
                conn.execute(query, params)
        except TablemendError as exc:
            return exc
    raise AssertionError(f"not refused: {query} {params}")


def _py_refusal(action: Callable[[Allocator], object]) -> TablemendError:
    """The Allocator's refusal, on a pool that was never opened: any attempt to reach the database would fail."""
    alloc = Allocator(ConnectionPool("", open=False))
    try:
        action(alloc)
    except TablemendError as exc:
        return exc
    raise AssertionError("not refused")


_ASSIGN = "SELECT * FROM assign_tables_atomic_v2(%s, %s, NULL, false, NULL, %s, %s)"
_WINDOWS = {
    "minus_infinity": ("-infinity", "2030-06-01T21:00Z", "start_at"),
    "infinity": ("2030-06-01T19:00Z", "infinity", "end_at"),
    "year_1900": ("1900-06-01T19:00Z", "1900-06-01T21:00Z", "start_at"),
    "year_9999": ("9999-06-01T19:00Z", "9999-06-01T21:00Z", "end_at"),
    "too_long": ("2030-06-01T19:00Z", "2030-06-02T19:00:01Z", "window"),
}


@pytest.mark.parametrize("case", _WINDOWS, ids=list(_WINDOWS))
def test_a_window_out_of_range_is_refused_and_writes_nothing(world: World, case: str) -> None:
    """Found 4: infinite windows committed a row that blocks a table forever; 1900 and 9999 were accepted."""
    start, end, field = _WINDOWS[case]
    before = checksums(world.dsn)
    err = _sql_refusal(world.dsn, _ASSIGN + "", (world.a.free, [world.a.tables[1]], start, end))
    assert err.sqlstate == "TAV10" and err.http_status == 422, err
    assert err.fields["field"] == field  # type: ignore[attr-defined]
    hold = _sql_refusal(world.dsn, "SELECT create_table_hold(%s, %s, %s, %s, now() + interval '5 minutes')",
                        (world.a.restaurant_id, [world.a.tables[3]], start, end))
    assert hold.sqlstate == "TAV10", hold
    move = _sql_refusal(world.dsn, "SELECT * FROM move_booking(%s, %s, %s)", (world.a.assigned, start, end))
    assert move.sqlstate == "TAV10", move
    assert checksums(world.dsn) == before


def test_a_booking_whose_own_window_is_out_of_range_cannot_be_assigned(tm_conn: db.Connection) -> None:
    f = tmdata.floor(tm_conn, tables=1)
    old = dt.datetime(1990, 6, 1, 19, tzinfo=UTC)  # written to the table directly, not through the allocator
    bid = tmdata.booking(tm_conn, f.restaurant_id, old, old + dt.timedelta(hours=2))
    with pytest.raises(TablemendError) as info, db.translated():
        tm_conn.execute("SELECT * FROM assign_tables_atomic_v2(%s, %s)", (bid, f.tables))
    assert info.value.sqlstate == "TAV10"
    assert tmdata.count(tm_conn, "booking_table_assignments") == 0


@pytest.mark.parametrize("expiry", ["infinity", "now() + interval '1 hour 1 second'"])
def test_a_hold_expiring_too_late_is_refused(world: World, expiry: str) -> None:
    """Found 4: a hold with expires_at = 'infinity' never expired."""
    before = checksums(world.dsn)
    a = world.a
    expires = "'infinity'::timestamptz" if expiry == "infinity" else expiry
    create = _sql_refusal(world.dsn, "SELECT create_table_hold(%s, %s, %s, %s, " + expires + ")",
                          (a.restaurant_id, [a.tables[3]], at(19), at(21)))
    extend = _sql_refusal(world.dsn, "SELECT extend_table_hold(%s, " + expires + ")", (a.hold_id,))
    for err in (create, extend):
        assert err.sqlstate == "TAV11" and err.fields["field"] == "expires_at", err  # type: ignore[attr-defined]
    assert checksums(world.dsn) == before


def test_a_long_idempotency_key_is_a_typed_refusal_not_a_raw_54000(world: World) -> None:
    """Found 4: a key over ~2.7 kB gave a raw 54000 (index row size) instead of a typed error."""
    before = checksums(world.dsn)
    key = "".join(random.Random(7).choices(string.ascii_letters + string.digits, k=3000))  # incompressible
    err = _sql_refusal(world.dsn, "SELECT * FROM assign_tables_atomic_v2(%s, %s, %s)",
                       (world.a.free, [world.a.tables[1]], key))
    assert err.sqlstate == "TAV12" and err.fields["length"] == "3000", err  # type: ignore[attr-defined]
    confirm = _sql_refusal(world.dsn, "SELECT * FROM confirm_hold_assignment(%s, NULL, %s)", (world.a.hold_id, key))
    assert confirm.sqlstate == "TAV12", confirm
    ok = "k" * limits.IDEMPOTENCY_KEY_MAX_LENGTH  # the limit itself is accepted
    with db.connect(world.dsn, autocommit=True) as conn:
        conn.execute("SELECT * FROM assign_tables_atomic_v2(%s, %s, %s)", (world.a.free, [world.a.tables[1]], ok))
    assert checksums(world.dsn) != before


def test_too_many_table_ids_are_refused(world: World) -> None:
    ids = [uuid.uuid4() for _ in range(limits.TABLE_IDS_MAX + 1)]
    err = _sql_refusal(world.dsn, "SELECT * FROM assign_tables_atomic_v2(%s, %s)", (world.a.free, ids))
    assert err.sqlstate == "TAV13", err
    err = _sql_refusal(world.dsn, "SELECT * FROM unassign_tables_atomic(%s, %s)", (world.a.assigned, ids))
    assert err.sqlstate == "TAV13", err


def test_python_and_sql_limits_are_equal(tm_conn: db.Connection) -> None:
    row = tm_conn.execute("SELECT * FROM input_limits()").fetchone()
    assert row == {
        "window_earliest": limits.WINDOW_EARLIEST, "window_latest": limits.WINDOW_LATEST,
        "window_max_length": limits.WINDOW_MAX_LENGTH, "hold_max_ttl": limits.HOLD_MAX_TTL,
        "idempotency_key_max_length": limits.IDEMPOTENCY_KEY_MAX_LENGTH, "table_ids_max": limits.TABLE_IDS_MAX,
    }


_BID, _TID, _RID, _HID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
_MIN, _MAX = dt.datetime.min.replace(tzinfo=UTC), dt.datetime.max.replace(tzinfo=UTC)
_PY_VS_SQL: dict[str, tuple[Callable[[Allocator], object], str, tuple[Any, ...], str]] = {
    "datetime_min": (lambda a: a.assign(_BID, [_TID], start_at=_MIN, end_at=at(21)), _ASSIGN,
                     (_BID, [_TID], _MIN, at(21)), "TAV10"),
    "datetime_max": (lambda a: a.assign(_BID, [_TID], start_at=at(19), end_at=_MAX), _ASSIGN,
                     (_BID, [_TID], at(19), _MAX), "TAV10"),
    "too_long": (lambda a: a.move_booking(_BID, at(0), at(25)), "SELECT * FROM move_booking(%s, %s, %s)",
                 (_BID, at(0), at(25)), "TAV10"),
    "key": (lambda a: a.assign(_BID, [_TID], key="x" * 257), "SELECT * FROM assign_tables_atomic_v2(%s, %s, %s)",
            (_BID, [_TID], "x" * 257), "TAV12"),
    "tables": (lambda a: a.unassign(_BID, [_TID] * 65), "SELECT * FROM unassign_tables_atomic(%s, %s)",
               (_BID, [_TID] * 65), "TAV13"),
    "hold_ttl": (lambda a: a.create_hold(_RID, [_TID], at(19), at(21), ttl=dt.timedelta(hours=2)),
                 "SELECT create_table_hold(%s, %s, %s, %s, now() + interval '2 hours')", (_RID, [_TID], at(19), at(21)),
                 "TAV11"),
    "extend_ttl": (lambda a: a.extend_hold(_HID, expires_at=_MAX), "SELECT extend_table_hold(%s, %s)",
                   (_HID, _MAX), "TAV11"),
}


@pytest.mark.parametrize("case", _PY_VS_SQL, ids=list(_PY_VS_SQL))
def test_the_allocator_refuses_what_sql_refuses_before_sending_anything(tm_dsn: str, case: str) -> None:
    """Found 4: datetime.min / max passed the Allocator. Its refusal now equals the database's, class and field."""
    action, query, params, sqlstate = _PY_VS_SQL[case]
    mine = _py_refusal(action)
    theirs = _sql_refusal(tm_dsn, query, params)
    assert (type(mine), mine.sqlstate) == (type(theirs), theirs.sqlstate) == (type(mine), sqlstate)
    assert mine.fields.get("field") == theirs.fields.get("field")  # type: ignore[attr-defined]


def test_the_cli_refuses_out_of_range_input_before_connecting() -> None:
    unreachable = "postgresql://nobody@127.0.0.1:1/nowhere"
    cases = [
        ("assign", str(_BID), str(_TID), "--start", "1900-01-01T19:00Z", "--end", "1900-01-01T21:00Z"),
        ("assign", str(_BID), str(_TID), "--key", "k" * 300),
        ("hold", "create", str(_RID), str(_TID), "--start", "2030-06-01T19:00Z", "--end", "2030-06-01T21:00Z",
         "--ttl", "7200"),
        ("booking", "move", str(_BID), "--start", "2030-06-01T19:00Z", "--end", "9999-06-01T21:00Z"),
    ]
    for args in cases:
        done = run_cli(*args, "--dsn", unreachable)
        assert done.returncode == 2, (args, done.stderr)
        assert "TAV1" in done.stderr and "cannot connect" not in done.stderr, (args, done.stderr)


def test_tac01_names_no_booking_for_an_unowned_hold(world: World) -> None:
    """Found 5: TAC01's DETAIL printed ``booking_id=`` (empty) for an unowned hold."""
    a = world.a
    err = _sql_refusal(world.dsn, "SELECT create_table_hold(%s, %s, %s, %s, now() + interval '5 minutes')",
                       (a.restaurant_id, [a.tables[0]], at(19), at(21)))
    assert err.sqlstate == "TAC01", err
    assert err.fields["booking_id"] == "NULL" and "booking_id= " not in (err.details or "")  # type: ignore[attr-defined]
