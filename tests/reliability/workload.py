"""Random clients that record a :class:`~tests.reliability.history.History`.

:func:`run_tablemend` drives tablemend's :class:`~tablemend.Allocator` (assign / unassign / hold / confirm / release /
status / move, plus ``read`` of one booking's rows and ``scan`` of a restaurant's rows in one statement) from N
threads over a few small restaurants, so calls collide on tables, bookings, holds and idempotency keys.
:func:`run_origin` drives the origin sandbox's functions (``assign_tables_atomic_v2``, ``unassign_tables_atomic``,
the status route's plain UPDATE) the same way.
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any, LiteralString

from tablemend import Allocator, db, sandbox, sqlfiles
from tablemend.db import translated
from tablemend.errors import ConnectionFailed, TablemendError
from tests.integration import tmdata as d
from tests.reliability.history import ABORTED, History, Op, Row, rows_of

READ: LiteralString = """
    SELECT a.booking_id, a.table_id, a.start_at, a.end_at, a.merge_group_id
    FROM booking_table_assignments a WHERE a.booking_id = %s ORDER BY a.table_id"""
SCAN: LiteralString = """
    SELECT a.booking_id, a.table_id, a.start_at, a.end_at, a.merge_group_id
    FROM booking_table_assignments a WHERE a.restaurant_id = %s ORDER BY a.table_id"""
ORIGIN_READ: LiteralString = """
    SELECT a.booking_id, a.table_id, a.start_at, a.end_at, a.merge_group_id
    FROM public.booking_table_assignments a WHERE a.booking_id = %s AND a.start_at IS NOT NULL ORDER BY a.table_id"""
ORIGIN_SCAN: LiteralString = """
    SELECT a.booking_id, a.table_id, a.start_at, a.end_at, a.merge_group_id
    FROM public.booking_table_assignments a JOIN public.table_inventory t ON t.id = a.table_id
    WHERE t.restaurant_id = %s AND a.start_at IS NOT NULL ORDER BY a.table_id"""

STATUSES = ("confirmed",) * 6 + ("pending", "checked_in", "cancelled", "no_show")


def lost(exc: TablemendError) -> bool:
    """The call lost its answer (connection gone, backend terminated, server stopping): it may have committed.

    An error raised by the driver itself carries no server SQLSTATE (the base class's ``TM000``); it is counted as
    indeterminate too, which is sound (an unsent statement changed nothing) and, in a run without faults, is still an
    anomaly (``indeterminate``)."""
    state = exc.sqlstate or ""
    return (isinstance(exc, ConnectionFailed) or state.startswith(("08", "57P"))
            or exc.sqlstate in (None, TablemendError.sqlstate))


@dataclass
class Restaurant:
    id: uuid.UUID
    zones: list[list[uuid.UUID]]
    bookings: list[uuid.UUID]

    @property
    def tables(self) -> list[uuid.UUID]:
        return [t for z in self.zones for t in z]


@dataclass
class World:
    restaurants: list[Restaurant]
    holds: list[tuple[uuid.UUID, uuid.UUID | None]] = field(default_factory=list)  # (hold, owner booking)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_hold(self, hold_id: uuid.UUID, owner: uuid.UUID | None) -> None:
        with self.lock:
            self.holds.append((hold_id, owner))
            del self.holds[:-64]

    def some_hold(self, rng: random.Random) -> tuple[uuid.UUID, uuid.UUID | None] | None:
        with self.lock:
            return rng.choice(self.holds) if self.holds else None


def setup_tablemend(conn: db.Connection, *, restaurants: int = 2, bookings: int = 16, seed: int = 1) -> World:
    """Small restaurants: zone Main T1-T6 (chained, 4 seats) and Patio P1 (6 seats) + P2 (2, fixed); bookings in
    overlapping 2-hour windows between 18:00 and 21:30, parties of 2 to 8."""
    rng = random.Random(seed)
    out = []
    for n in range(restaurants):
        f = d.floor(conn, tables=6, capacity=4, name=f"Reliability {n}")
        patio = d.zone(conn, f.restaurant_id, "Patio")
        p1 = d.table(conn, f.restaurant_id, patio, "P1", capacity=6)
        p2 = d.table(conn, f.restaurant_id, patio, "P2", capacity=2, mobility="fixed")
        ids = [d.booking(conn, f.restaurant_id, d.at(18 + 0.5 * rng.randrange(8)),
                         party_size=rng.choice((2, 2, 3, 4, 6, 8))) for _ in range(bookings)]
        out.append(Restaurant(f.restaurant_id, [f.tables, [p1, p2]], ids))
    return World(out)


class Recorder:
    """Runs one call and records it."""

    def __init__(self, history: History, client: int) -> None:
        self.history = history
        self.client = client

    @contextmanager
    def call(self, kind: str, booking: uuid.UUID | None, args: dict[str, Any]) -> Iterator[Op]:
        op = self.history.begin(self.client, kind, booking, args)
        try:
            yield op
        except TablemendError as exc:
            History.fail(op, exc.sqlstate, exc.message, indeterminate=lost(exc))
        except Exception as exc:  # a bug, not a refusal: recorded as untyped
            History.fail(op, None, repr(exc))
        else:
            History.ok(op)


# --- tablemend ------------------------------------------------------------------------------------------------------

KINDS = ("assign", "unassign", "hold", "confirm", "release", "status", "move", "read", "scan")
WEIGHTS = (34, 8, 12, 9, 4, 8, 10, 11, 4)


def _read(alloc: Allocator, query: LiteralString, param: uuid.UUID) -> tuple[Row, ...]:
    with translated(), alloc.pool.connection() as conn:
        return rows_of(conn.execute(query, (param,)).fetchall())


def _window(rng: random.Random) -> tuple[Any, Any]:
    start = d.at(18 + 0.5 * rng.randrange(8))
    return start, start + timedelta(hours=2)


def tablemend_client(world: World, alloc: Allocator, history: History, client: int, ops: int, seed: int,
                     stop: threading.Event | None = None) -> None:
    rng = random.Random(seed)
    rec = Recorder(history, client)
    last: dict[str, Any] | None = None  # the previous assign request: retried as is now and then
    for _ in range(ops):
        if stop is not None and stop.is_set():
            return
        r = rng.choice(world.restaurants)
        booking = rng.choice(r.bookings)
        pool = r.tables if rng.random() < 0.05 else r.zones[0 if rng.random() < 0.8 else 1]
        tables = rng.sample(pool, min(len(pool), rng.choice((1, 1, 2, 2, 3))))
        kind = rng.choices(KINDS, weights=WEIGHTS)[0]
        if kind == "assign":
            if last is not None and rng.random() < 0.2:
                args = dict(last)  # a client retry: same booking, request and key
            else:
                start, end = _window(rng) if rng.random() < 0.1 else (None, None)
                args = {"table_ids": tables, "key": rng.choice((None, None, "k1", "k2")),
                        "require_adjacency": rng.random() < 0.3, "start_at": start, "end_at": end,
                        "booking_id": booking}
            last = args
            with rec.call("assign", args["booking_id"], {k: v for k, v in args.items() if k != "booking_id"}) as op:
                op.rows = rows_of(alloc.assign(args["booking_id"], args["table_ids"], key=args["key"],
                                               require_adjacency=args["require_adjacency"],
                                               start_at=args["start_at"], end_at=args["end_at"]), args["booking_id"])
        elif kind == "unassign":
            subset = tables if rng.random() < 0.3 else None
            with rec.call("unassign", booking, {"table_ids": subset}) as op:
                op.value = alloc.unassign(booking, subset)
        elif kind == "hold":
            start, end = _window(rng)
            owner = booking if rng.random() < 0.7 else None
            with rec.call("hold", owner, {"table_ids": tables, "start_at": start, "end_at": end}) as op:
                made = alloc.create_hold(r.id, tables, start, end, booking_id=owner,
                                         ttl=timedelta(seconds=rng.choice((1, 2, 30))))
                op.value = made.hold_id
                world.add_hold(made.hold_id, owner)
        elif kind in ("confirm", "release"):
            picked = world.some_hold(rng)
            if picked is None:
                continue
            hold_id, owner = picked
            if kind == "release":
                with rec.call("release", owner, {"hold_id": hold_id}) as op:
                    op.value = alloc.release_hold(hold_id)
                continue
            # an unowned hold is always confirmed for a named booking, so the history knows whose tables they are
            named = booking if owner is None or rng.random() < 0.4 else None
            key = rng.choice((None, "c1"))
            with rec.call("confirm", named or owner, {"hold_id": hold_id, "named": named, "key": key}) as op:
                op.rows = rows_of(alloc.confirm_hold(hold_id, named, key=key), named or owner)
        elif kind == "status":
            status = rng.choice(STATUSES)
            with rec.call("status", booking, {"status": status}) as op:
                op.value = alloc.set_booking_status(booking, status).previous
        elif kind == "move":
            start, end = _window(rng)
            with rec.call("move", booking, {"start_at": start, "end_at": end}) as op:
                op.value = alloc.move_booking(booking, start, end)
        elif kind == "read":
            with rec.call("read", booking, {}) as op:
                op.rows = _read(alloc, READ, booking)
        else:
            with rec.call("scan", None, {"restaurant_id": r.id}) as op:
                op.rows = _read(alloc, SCAN, r.id)


def final_reads(world: World, alloc: Allocator | None, history: History, *, origin: bool = False,
                conn: db.Connection | None = None) -> None:
    """After every client stopped: one read of each booking and one scan of each restaurant."""
    rec = Recorder(history, -1)
    for r in world.restaurants:
        for b in r.bookings:
            with rec.call("read", b, {}) as op:
                op.rows = _read_any(alloc, conn, ORIGIN_READ if origin else READ, b)
        with rec.call("scan", None, {"restaurant_id": r.id}) as op:
            op.rows = _read_any(alloc, conn, ORIGIN_SCAN if origin else SCAN, r.id)


def _read_any(alloc: Allocator | None, conn: db.Connection | None, query: LiteralString,
              param: uuid.UUID) -> tuple[Row, ...]:
    if conn is not None:
        with translated():
            return rows_of(conn.execute(query, (param,)).fetchall())
    assert alloc is not None
    return _read(alloc, query, param)


def run_threads(target: Callable[[int], None], clients: int, *, timeout: float = 1800) -> None:
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        raise AssertionError(f"clients stuck: {stuck}")


def run_tablemend(dsn: str, *, clients: int, ops: int, seed: int, restaurants: int = 2, bookings: int = 16,
                  history: History | None = None, stop: threading.Event | None = None) -> tuple[World, History]:
    """``clients`` threads × ``ops`` calls through one Allocator pool, then the final reads."""
    with db.connect(dsn, autocommit=True) as conn:
        world = setup_tablemend(conn, restaurants=restaurants, bookings=bookings, seed=seed)
    history = history if history is not None else History()
    with Allocator.open(dsn, min_size=clients, max_size=clients, record_conflicts=False) as alloc:
        run_threads(lambda i: tablemend_client(world, alloc, history, i, ops, seed * 1000 + i, stop), clients)
        final_reads(world, alloc, history)
    return world, history


# --- the origin sandbox ---------------------------------------------------------------------------------------------


def origin_key(booking: uuid.UUID, tables: list[uuid.UUID]) -> str:
    """The origin caller's deterministic key (v2/utils.ts: sha256 of the request, 24 hex digits)."""
    text = "|".join([str(booking), *sorted(str(t) for t in tables)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def setup_origin(conn: db.Connection, *, bookings: int = 12, seed: int = 1) -> World:
    """The sandbox's sample restaurant (T1-T5 movable + T6 fixed in Main, U1-U2 on the Terrace), plus bookings at
    two start times (so many share a slot)."""
    rng = random.Random(seed)
    ids = sandbox.seed_sample(conn)
    row = conn.execute("SELECT booking_date FROM public.bookings WHERE id = %s", (ids.booking_ids[0],)).fetchone()
    assert row is not None
    day: date = row["booking_date"]
    made = list(ids.booking_ids)
    for n in range(bookings - len(made)):
        start = rng.choice((time(19), time(20)))
        added = conn.execute(sqlfiles.query("insert_booking", "origin/sandbox.sql"), {
            "restaurant_id": ids.restaurant_id, "customer_name": f"Guest {n}", "booking_date": day,
            "start_time": start, "end_time": time(start.hour + 2), "party_size": rng.choice((2, 2, 4)),
            "status": "pending", "reference": f"REL-{uuid.uuid4().hex[:8]}"}).fetchone()
        assert added is not None
        made.append(added["id"])
    main = list(ids.table_ids[:5])  # T6 (fixed) and the terrace are left out: most refusals should be real ones
    return World([Restaurant(ids.restaurant_id, [main, list(ids.table_ids[6:])], made)])


def origin_client(world: World, dsn: str, history: History, client: int, ops: int, seed: int) -> None:
    rng = random.Random(seed)
    rec = Recorder(history, client)
    r = world.restaurants[0]
    call_v2 = sqlfiles.query("call_v2", "origin/sandbox.sql")
    with db.connect(dsn, autocommit=True, deadlock_timeout="50ms") as conn:
        for _ in range(ops):
            booking = rng.choice(r.bookings)
            tables = rng.sample(r.zones[0], rng.choice((1, 2, 2, 3)))
            kind = rng.choices(("assign", "unassign", "status", "read", "scan"), weights=(55, 12, 10, 18, 5))[0]
            if kind == "assign":
                key = origin_key(booking, tables)
                args = {"table_ids": tables, "key": key, "require_adjacency": False, "start_at": None, "end_at": None}
                with rec.call("assign", booking, args) as op, translated():
                    op.rows = rows_of(conn.execute(call_v2, {
                        "p_booking_id": booking, "p_table_ids": tables, "p_idempotency_key": key,
                        "p_require_adjacency": False, "p_assigned_by": None, "p_start_at": None,
                        "p_end_at": None}).fetchall(), booking)
            elif kind == "unassign":
                with rec.call("unassign", booking, {"table_ids": None}) as op, translated():
                    op.value = conn.execute("SELECT * FROM public.unassign_tables_atomic(%s)", (booking,)).fetchall()
            elif kind == "status":  # the origin's status route: a plain UPDATE (nothing is released)
                status = rng.choice(STATUSES)
                with rec.call("status", booking, {"status": status}) as op, translated():
                    conn.execute("UPDATE public.bookings SET status = %s::public.booking_status WHERE id = %s",
                                 (status, booking))
            elif kind == "read":
                with rec.call("read", booking, {}) as op:
                    op.rows = _read_any(None, conn, ORIGIN_READ, booking)
            else:
                with rec.call("scan", None, {"restaurant_id": r.id}) as op:
                    op.rows = _read_any(None, conn, ORIGIN_SCAN, r.id)


def run_origin(dsn: str, *, clients: int, ops: int, seed: int) -> tuple[World, History]:
    with db.connect(dsn, autocommit=True) as conn:
        world = setup_origin(conn, seed=seed)
    history = History()
    run_threads(lambda i: origin_client(world, dsn, history, i, ops, seed * 1000 + i), clients)
    with db.connect(dsn, autocommit=True) as conn:
        final_reads(world, None, history, origin=True, conn=conn)
    return world, history


def abandon(dsn: str, history: History, client: int, booking: uuid.UUID, tables: list[uuid.UUID]) -> None:
    """Start an assign inside an explicit transaction and drop the connection before COMMIT."""
    conn = db.connect(dsn)
    op = history.begin(client, "assign", booking, {"table_ids": tables, "key": None, "require_adjacency": False,
                                                   "start_at": None, "end_at": None})
    try:
        with translated():
            conn.execute("SELECT * FROM assign_tables_atomic_v2(%s, %s)", (booking, tables)).fetchall()
    except TablemendError:
        pass
    finally:
        conn.pgconn.finish()  # the socket goes away mid-transaction; the server must roll back
        History.fail(op, ABORTED, "connection dropped before COMMIT")


def dropping_client(world: World, dsn: str, history: History, stop: threading.Event, seed: int) -> int:
    """Now and then starts an assign in an explicit transaction and drops the socket before COMMIT."""
    rng = random.Random(seed)
    dropped = 0
    while not stop.wait(rng.uniform(0.01, 0.05)):
        r = rng.choice(world.restaurants)
        abandon(dsn, history, 77, rng.choice(r.bookings), rng.sample(r.zones[0], rng.choice((1, 2))))
        dropped += 1
    return dropped
