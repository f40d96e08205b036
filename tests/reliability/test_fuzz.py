"""Bad input, generated: every public SQL function of the allocator and every :class:`~tablemend.Allocator` method
gets random ids (real ones of the database, random UUIDs, NULL), arrays (empty, with NULLs, duplicates, other
restaurants' tables), windows (reversed, empty, NULL on one side, naive), keys, statuses and TTLs. Each call either
succeeds or fails with one of tablemend's own SQLSTATEs, and a refused call changes no row (checksums of every table
before and after). The database is shared by the examples of a module, so accepted calls build up real state.

``TABLEMEND_FUZZ_PROFILE=long`` runs many more examples (the long form); ``TABLEMEND_FUZZ_COUNT_FILE`` receives the
number of inputs tried.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tablemend import Allocator, db
from tablemend.allocator import BOOKING_STATUSES
from tablemend.errors import TablemendError, for_sqlstate
from tests.conftest import TemplateFactory, _build_tablemend
from tests.reliability import faults as f
from tests.reliability import workload as w

#: 40 examples per test in CI; the long form sets TABLEMEND_FUZZ_PROFILE=long (per test, not a global profile)
FUZZ = settings(max_examples=1800 if os.environ.get("TABLEMEND_FUZZ_PROFILE") == "long" else 40, deadline=None,
                database=None, suppress_health_check=[HealthCheck.too_slow])

TRIED = {"inputs": 0, "refused": 0}


@pytest.fixture(scope="module")
def fuzz_db(templates: TemplateFactory) -> Iterator[tuple[str, w.World, db.Connection]]:
    with templates.database("tablemend", _build_tablemend) as dsn, db.connect(dsn, autocommit=True) as conn:
        world = w.setup_tablemend(conn, restaurants=2, bookings=6, seed=17)
        r = world.restaurants[0]
        conn.execute("UPDATE bookings SET party_size = 2")
        for booking, table in zip(r.bookings[:3], r.zones[0][:3], strict=True):  # some assignments and holds exist
            conn.execute("SELECT * FROM assign_tables_atomic_v2(%s, %s)", (booking, [table]))
        hold = conn.execute("SELECT create_table_hold(%s, %s, %s, %s, now() + interval '30 minutes', %s) AS id",
                            (r.id, [r.zones[1][0]], w.d.at(12), w.d.at(14), r.bookings[4])).fetchone()
        assert hold is not None
        world.add_hold(hold["id"], r.bookings[4])
        yield dsn, world, conn
        assert not f.broken_invariants(dsn)  # accepted calls left a consistent database
    if path := os.environ.get("TABLEMEND_FUZZ_COUNT_FILE"):
        Path(path).write_text(f"{TRIED['inputs']} {TRIED['refused']}\n")


def _checksum(conn: db.Connection) -> dict[str, str]:
    names = [r["name"] for r in conn.execute(
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1").fetchall()]
    parts = [sql.SQL("SELECT {n}::text AS name, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS sum"
                     " FROM {t} t").format(n=sql.Literal(name), t=sql.Identifier("public", name)) for name in names]
    return {r["name"]: r["sum"] for r in conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()}


def _judge(conn: db.Connection, call: Any) -> None:
    """Run ``call``: success, or a typed refusal that changed nothing."""
    before = _checksum(conn)
    TRIED["inputs"] += 1
    try:
        call()
    except TablemendError as exc:
        TRIED["refused"] += 1
        assert for_sqlstate(exc.sqlstate) is not None, f"untyped refusal [{exc.sqlstate}] {exc}"
        after = _checksum(conn)
        changed = sorted(k for k in before if before[k] != after.get(k))
        assert not changed, f"refused with {exc.sqlstate} but changed {changed}"


def _sql(conn: db.Connection, query: LiteralString, params: tuple[Any, ...]) -> Any:
    def call() -> None:
        with db.translated():
            conn.execute(query, params).fetchall()
    return call


# --- strategies -------------------------------------------------------------------------------------------------------

W = w.d.DAY
instants = st.one_of(st.none(), st.builds(lambda h: W + dt.timedelta(minutes=30 * h), st.integers(-48, 96)),
                     st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9998, 12, 30),
                                  timezones=st.just(dt.UTC)))
keys = st.one_of(st.none(), st.sampled_from(["k1", "k2", " ", ""]), st.text(max_size=12).map(lambda s: s.replace(
    "\x00", "")))
flags = st.one_of(st.none(), st.booleans())


def _ids(world: w.World) -> st.SearchStrategy[uuid.UUID | None]:
    known = [x for r in world.restaurants for x in (r.id, *r.tables, *r.bookings)] + [h for h, _ in world.holds]
    return st.one_of(st.none(), st.uuids(), st.sampled_from(known))


def _arrays(world: w.World) -> st.SearchStrategy[list[uuid.UUID | None] | None]:
    tables = [t for r in world.restaurants for t in r.tables]
    return st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(tables), _ids(world)), max_size=5),
                     st.lists(st.sampled_from(tables[:8]), min_size=1, max_size=3))


# --- the public SQL functions -----------------------------------------------------------------------------------------


def test_assign_tables_atomic_v2(fuzz_db: tuple[str, w.World, db.Connection]) -> None:
    _dsn, world, conn = fuzz_db

    @FUZZ
    @given(_ids(world), _arrays(world), keys, flags, st.one_of(st.none(), st.uuids()), instants, instants)
    def run(booking: Any, tables: Any, key: Any, adjacency: Any, by: Any, start: Any, end: Any) -> None:
        _judge(conn, _sql(conn, "SELECT * FROM assign_tables_atomic_v2(%s, %s::uuid[], %s, %s, %s, %s, %s)",
                          (booking, tables, key, adjacency, by, start, end)))

    run()


def test_unassign_tables_atomic(fuzz_db: tuple[str, w.World, db.Connection]) -> None:
    _dsn, world, conn = fuzz_db

    @FUZZ
    @given(_ids(world), _arrays(world))
    def run(booking: Any, tables: Any) -> None:
        _judge(conn, _sql(conn, "SELECT * FROM unassign_tables_atomic(%s, %s::uuid[])", (booking, tables)))

    run()


def test_create_table_hold(fuzz_db: tuple[str, w.World, db.Connection]) -> None:
    _dsn, world, conn = fuzz_db

    @FUZZ
    @given(_ids(world), _arrays(world), instants, instants, instants, _ids(world),
           st.one_of(st.none(), st.uuids()), st.sampled_from([None, "{}", '{"a": 1}', "[]", "null"]))
    def run(restaurant: Any, tables: Any, start: Any, end: Any, expires: Any, booking: Any, by: Any,
            meta: Any) -> None:
        _judge(conn, _sql(conn, "SELECT create_table_hold(%s, %s::uuid[], %s, %s, %s, %s, %s, %s::jsonb)",
                          (restaurant, tables, start, end, expires, booking, by, meta)))

    run()


def test_hold_lifecycle_functions(fuzz_db: tuple[str, w.World, db.Connection]) -> None:
    _dsn, world, conn = fuzz_db

    @FUZZ
    @given(st.sampled_from(["extend", "release", "confirm"]), _ids(world), _ids(world), instants, keys, flags,
           st.one_of(st.none(), st.uuids()))
    def run(which: str, hold: Any, booking: Any, expires: Any, key: Any, adjacency: Any, by: Any) -> None:
        if which == "extend":
            call = _sql(conn, "SELECT extend_table_hold(%s, %s)", (hold, expires))
        elif which == "release":
            call = _sql(conn, "SELECT release_table_hold(%s)", (hold,))
        else:
            call = _sql(conn, "SELECT * FROM confirm_hold_assignment(%s, %s, %s, %s, %s)",
                        (hold, booking, key, adjacency, by))
        _judge(conn, call)

    run()


def test_set_booking_status(fuzz_db: tuple[str, w.World, db.Connection]) -> None:
    _dsn, world, conn = fuzz_db

    @FUZZ
    @given(_ids(world), st.one_of(st.none(), st.sampled_from(BOOKING_STATUSES)))
    def run(booking: Any, status: Any) -> None:
        _judge(conn, _sql(conn, "SELECT set_booking_status(%s, %s::booking_status)", (booking, status)))

    run()


# --- the Allocator ----------------------------------------------------------------------------------------------------

id_likes = st.one_of(st.uuids(), st.uuids().map(str), st.text(max_size=40))
py_instants = st.one_of(st.none(), st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                                                 timezones=st.sampled_from([dt.UTC, None])))


def test_allocator_methods(fuzz_db: tuple[str, w.World, db.Connection]) -> None:
    dsn, world, conn = fuzz_db
    known = st.sampled_from([x for r in world.restaurants for x in (r.id, *r.tables, *r.bookings)])
    some_id = st.one_of(id_likes, known)
    some_ids = st.lists(st.one_of(some_id, known), max_size=4)
    ttls = st.timedeltas(min_value=dt.timedelta(days=-2), max_value=dt.timedelta(days=2))
    with Allocator.open(dsn, max_size=1, record_conflicts=False) as alloc:

        @FUZZ
        @given(st.sampled_from(["assign", "unassign", "hold", "extend", "release", "confirm", "status", "move",
                                "booking"]), some_id, some_ids, some_id, py_instants, py_instants,
               st.one_of(keys, st.text(max_size=5)), st.booleans(), ttls,
               st.one_of(st.sampled_from(BOOKING_STATUSES), st.text(max_size=12)))
        def run(which: str, one: Any, many: Any, other: Any, start: Any, end: Any, key: Any, flag: bool,
                ttl: dt.timedelta, status: str) -> None:
            calls = {
                "assign": lambda: alloc.assign(one, many, key=key, require_adjacency=flag, start_at=start, end_at=end),
                "unassign": lambda: alloc.unassign(one, many if flag else None),
                "hold": lambda: alloc.create_hold(one, many, start, end, booking_id=other if flag else None,
                                                  ttl=ttl),
                "extend": lambda: alloc.extend_hold(one, expires_at=start, ttl=ttl),
                "release": lambda: alloc.release_hold(one),
                "confirm": lambda: alloc.confirm_hold(one, other if flag else None, key=key),
                "status": lambda: alloc.set_booking_status(one, status),
                "move": lambda: alloc.move_booking(one, start, end),
                "booking": lambda: alloc.booking(one),
            }
            _judge(conn, calls[which])

        run()


# --- inputs found by probing past the generators (each was refused untyped before its fix) -----------------------


def _refused_typed_without_change(dsn: str, call: Any) -> None:
    with db.connect(dsn, autocommit=True) as conn:
        before = _checksum(conn)
        with pytest.raises(TablemendError) as caught:
            call()
        assert _checksum(conn) == before
    err = caught.value
    assert for_sqlstate(err.sqlstate) is not None, f"untyped refusal [{err.sqlstate}] {type(err).__name__}: {err}"


def _one_of_each(dsn: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    with db.connect(dsn, autocommit=True) as conn:
        floor = w.d.floor(conn, tables=1)
        return floor.restaurant_id, floor.tables[0], w.d.booking(conn, floor.restaurant_id)


def test_a_key_with_a_nul_byte_is_refused_typed(tm_dsn: str) -> None:
    _restaurant, table, booking = _one_of_each(tm_dsn)
    with Allocator.open(tm_dsn, record_conflicts=False) as alloc:
        _refused_typed_without_change(tm_dsn, lambda: alloc.assign(booking, [table], key="req\x00-1"))


def test_hold_metadata_with_a_nul_character_is_refused_typed(tm_dsn: str) -> None:
    restaurant, table, booking = _one_of_each(tm_dsn)
    with Allocator.open(tm_dsn, record_conflicts=False) as alloc:
        _refused_typed_without_change(tm_dsn, lambda: alloc.create_hold(
            restaurant, [table], w.d.at(12), w.d.at(13), booking_id=booking, metadata={"note": "a\x00b"}))


def test_a_hold_ttl_out_of_range_is_refused_typed(tm_dsn: str) -> None:
    restaurant, table, booking = _one_of_each(tm_dsn)
    with Allocator.open(tm_dsn, record_conflicts=False) as alloc:
        huge = dt.timedelta(days=999_999_999)  # now() + huge overflows timestamptz
        _refused_typed_without_change(tm_dsn, lambda: alloc.create_hold(
            restaurant, [table], w.d.at(12), w.d.at(13), booking_id=booking, ttl=huge))
        hold = alloc.create_hold(restaurant, [table], w.d.at(12), w.d.at(13), booking_id=booking)
        _refused_typed_without_change(tm_dsn, lambda: alloc.extend_hold(hold.hold_id, ttl=huge))


def test_an_unbounded_window_is_refused(tm_dsn: str) -> None:
    _restaurant, table, booking = _one_of_each(tm_dsn)
    with db.connect(tm_dsn, autocommit=True) as conn:
        before = _checksum(conn)
        with pytest.raises(TablemendError) as caught, db.translated():
            conn.execute("SELECT a.table_id FROM assign_tables_atomic_v2(%s, %s, NULL, false, NULL,"
                         " '-infinity', 'infinity') AS a", (booking, [table])).fetchall()
        after = _checksum(conn)
    # refused by 0003's bounds (TAV10: out of range), before anything is written
    assert caught.value.sqlstate == "TAV10" and after == before, (caught.value.sqlstate, caught.value)
