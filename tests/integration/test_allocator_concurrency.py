"""Many clients on one small restaurant: random assign / unassign / hold / confirm / release / cancel / move, then the
invariants. Every refusal must be a typed allocator error; a deadlock, serialization failure, raw constraint violation
or untyped DatabaseError fails the test, and so does any inconsistent row left behind."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any, LiteralString

import pytest

from tablemend import Allocator, db, errors
from tablemend.db import translated
from tablemend.doctor import reindex, scan
from tablemend.doctor.rules import Level
from tests.integration import tmdata as d

THREADS = 8
OPS_PER_THREAD = 260  # 2,080 operations in all
SEED = 20301
# Refusals the workload provokes on purpose (they collide): every one is an allocator class with its own SQLSTATE.
EXPECTED = (
    errors.TableOccupied,
    errors.HoldConflict,
    errors.IdempotencyMismatch,
    errors.IdempotencyInProgress,
    errors.InsufficientCapacity,
    errors.BookingNotAssignable,
    errors.HoldNotActive,
    errors.HoldBookingMismatch,
    errors.TablesNotAdjacent,
    errors.TablesInDifferentZones,
    errors.TableNotMovable,
    errors.InvalidArgument,  # confirming an unowned hold without naming a booking
)


# Raw constraint violations translated by db.translate (typed, but without the allocator's DETAIL).
RAW_SQLSTATES = frozenset({"23P01", "23505", "23503", "40P01", "40001"})
RAW_TOLERATED = 0


class _World:
    """The restaurant's ids plus the holds created so far (shared by the threads)."""

    def __init__(self, restaurant_id: uuid.UUID, zones: list[list[uuid.UUID]], bookings: list[uuid.UUID]) -> None:
        self.restaurant_id = restaurant_id
        self.zones = zones
        self.tables = [t for z in zones for t in z]
        self.bookings = bookings
        self.holds: list[uuid.UUID] = []
        self.lock = threading.Lock()

    def add_hold(self, hold_id: uuid.UUID) -> None:
        with self.lock:
            self.holds.append(hold_id)

    def some_hold(self, rng: random.Random) -> uuid.UUID | None:
        with self.lock:
            return rng.choice(self.holds[-12:]) if self.holds else None


def _setup(conn: db.Connection) -> _World:
    f = d.floor(conn, tables=6, capacity=4)  # one zone, T1-…-T6 chained
    patio = d.zone(conn, f.restaurant_id, "Patio")
    p1 = d.table(conn, f.restaurant_id, patio, "P1", capacity=6)
    p2 = d.table(conn, f.restaurant_id, patio, "P2", capacity=2, mobility="fixed")
    d.adjacency(conn, f.restaurant_id, f.by_number["T6"], p1)  # adjacent across zones: still refused (zones)
    # 16 bookings in overlapping 2-hour windows between 18:00 and 21:30, parties of 2 to 8
    rng = random.Random(SEED)
    bookings = [d.booking(conn, f.restaurant_id, d.at(18 + 0.5 * rng.randrange(8)),
                          party_size=rng.choice((2, 3, 4, 6, 8)))
                for _ in range(16)]
    return _World(f.restaurant_id, [f.tables, [p1, p2]], bookings)


def _operation(world: _World, alloc: Allocator, rng: random.Random) -> tuple[str, Callable[[], object]]:
    booking = rng.choice(world.bookings)
    # mostly tables of one zone (a few requests span zones on purpose)
    pool = world.tables if rng.random() < 0.05 else world.zones[0 if rng.random() < 0.8 else 1]
    tables = rng.sample(pool, min(len(pool), rng.choice((1, 1, 2, 2, 3))))
    key = rng.choice((None, None, "k1", "k2"))
    kind = rng.choices(
        ("assign", "unassign", "hold", "confirm", "release", "extend", "status", "move"),
        weights=(36, 10, 14, 10, 5, 4, 8, 13),
    )[0]
    if kind == "assign":
        return kind, lambda: alloc.assign(booking, tables, key=key, require_adjacency=rng.random() < 0.3)
    if kind == "unassign":
        subset = tables if rng.random() < 0.3 else None
        return kind, lambda: alloc.unassign(booking, subset)
    if kind == "hold":
        start = d.at(18 + 0.5 * rng.randrange(8))

        def hold() -> object:
            owned = rng.random() < 0.7
            made = alloc.create_hold(world.restaurant_id, tables, start, start + timedelta(hours=2),
                                     booking_id=booking if owned else None,
                                     ttl=timedelta(seconds=rng.choice((1, 2, 30))))
            world.add_hold(made.hold_id)
            return made

        return kind, hold
    hold_id = world.some_hold(rng)
    if kind in ("confirm", "release", "extend") and hold_id is None:
        return "assign", lambda: alloc.assign(booking, tables)
    assert hold_id is not None or kind in ("status", "move")
    if kind == "confirm":
        return kind, lambda: alloc.confirm_hold(hold_id, booking if rng.random() < 0.5 else None, key=key)
    if kind == "release":
        return kind, lambda: alloc.release_hold(hold_id)
    if kind == "extend":
        return kind, lambda: alloc.extend_hold(hold_id, ttl=timedelta(seconds=2))
    if kind == "status":
        status = rng.choice(("cancelled", "no_show", "confirmed", "confirmed", "confirmed", "pending", "checked_in"))
        return kind, lambda: alloc.set_booking_status(booking, status)
    start = d.at(18 + 0.5 * rng.randrange(8))
    return kind, lambda: alloc.move_booking(booking, start, start + timedelta(hours=2))


def _client(world: _World, alloc: Allocator, seed: int, outcomes: Counter[str], unexpected: list[BaseException],
            raw: list[errors.TablemendError], guard: threading.Lock) -> None:
    rng = random.Random(seed)
    local: Counter[str] = Counter()
    for _ in range(OPS_PER_THREAD):
        kind, call = _operation(world, alloc, rng)
        try:
            call()
            local[f"{kind}:ok"] += 1
        except EXPECTED as exc:
            local[f"{kind}:{exc.sqlstate}"] += 1
            if exc.sqlstate in RAW_SQLSTATES:
                with guard:
                    raw.append(exc)
        except BaseException as exc:  # anything else (DatabaseError, deadlock, raw 23P01, a bug) fails the test
            exc.add_note(f"operation: {kind}")
            with guard:
                unexpected.append(exc)
    with guard:
        outcomes.update(local)


# --- invariants: each query returns the offending rows (none expected) --------------------------------------------

INVARIANTS: dict[str, LiteralString] = {
    "overlapping live assignments": """
        SELECT a.table_id, a.booking_id, b.booking_id AS other FROM booking_table_assignments a
        JOIN booking_table_assignments b ON b.restaurant_id = a.restaurant_id AND b.table_id = a.table_id
         AND b.booking_id <> a.booking_id AND b.assignment_window && a.assignment_window""",
    "assignment of a terminal booking": """
        SELECT a.booking_id, b.status FROM booking_table_assignments a
        JOIN bookings b ON b.restaurant_id = a.restaurant_id AND b.id = a.booking_id
        WHERE booking_status_is_terminal(b.status)""",
    "zone lock disagrees with the rows": """
        SELECT b.id, b.assigned_zone_id FROM bookings b
        WHERE b.assigned_zone_id IS DISTINCT FROM (
            SELECT min(a.zone_id::text)::uuid FROM booking_table_assignments a
            WHERE a.restaurant_id = b.restaurant_id AND a.booking_id = b.id)""",
    "assignment on a table of another zone": """
        SELECT a.id FROM booking_table_assignments a
        JOIN table_inventory t ON t.restaurant_id = a.restaurant_id AND t.id = a.table_id
        WHERE t.zone_id <> a.zone_id""",
    "booking with mixed windows or merge groups": """
        SELECT a.booking_id FROM booking_table_assignments a GROUP BY a.restaurant_id, a.booking_id
        HAVING count(DISTINCT (a.start_at, a.end_at)) > 1
            OR count(DISTINCT a.merge_group_id) > 1
            OR (count(*) > 1 AND count(a.merge_group_id) < count(*))
            OR (count(*) = 1 AND count(a.merge_group_id) = 1)""",
    "merge group shared by two bookings": """
        SELECT a.merge_group_id FROM booking_table_assignments a WHERE a.merge_group_id IS NOT NULL
        GROUP BY a.merge_group_id HAVING count(DISTINCT a.booking_id) > 1""",
    "merge-group allocation without two tables": """
        SELECT g.resource_id FROM allocations g WHERE g.resource_type = 'merge_group'
        AND (SELECT count(*) FROM booking_table_assignments a WHERE a.merge_group_id = g.resource_id) < 2""",
    "ledger row that does not describe the assignment": """
        SELECT l.booking_id, l.idempotency_key FROM booking_assignment_idempotency l
        WHERE l.table_ids <> ARRAY(SELECT a.table_id FROM booking_table_assignments a
                                   WHERE a.restaurant_id = l.restaurant_id AND a.booking_id = l.booking_id
                                   ORDER BY a.table_id)
           OR EXISTS (SELECT 1 FROM booking_table_assignments a
                      WHERE a.restaurant_id = l.restaurant_id AND a.booking_id = l.booking_id
                        AND ((a.start_at, a.end_at) <> (l.start_at, l.end_at)
                             OR a.merge_group_id IS DISTINCT FROM l.merge_group_id))""",
    "hold member of an inactive hold": """
        SELECT m.hold_id FROM table_hold_members m
        JOIN table_holds h ON h.restaurant_id = m.restaurant_id AND h.id = m.hold_id WHERE h.status <> 'active'""",
    "active hold of a terminal booking": """
        SELECT h.id FROM table_holds h JOIN bookings b ON b.restaurant_id = h.restaurant_id AND b.id = h.booking_id
        WHERE h.status = 'active' AND booking_status_is_terminal(b.status)""",
    "confirmed hold without a booking": """
        SELECT h.id FROM table_holds h
        WHERE h.status = 'confirmed' AND h.booking_id IS NULL""",
}


def test_many_clients_collide_and_leave_only_consistent_typed_results(tm_dsn: str) -> None:
    with db.connect(tm_dsn, autocommit=True) as conn:
        world = _setup(conn)
    outcomes: Counter[str] = Counter()
    unexpected: list[BaseException] = []
    raw: list[errors.TablemendError] = []
    guard = threading.Lock()
    with Allocator.open(tm_dsn, min_size=THREADS, max_size=THREADS) as alloc:
        threads = [threading.Thread(target=_client, args=(world, alloc, SEED + i, outcomes, unexpected, raw, guard))
                   for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a client is stuck"

    described = [f"{type(e).__name__} [{getattr(e, 'sqlstate', '?')}] in {getattr(e, '__notes__', ['?'])[-1]}: {e}"
                 for e in unexpected[:5]]
    assert not unexpected, f"{len(unexpected)} untyped or unexpected errors, first: {described}"
    assert sum(outcomes.values()) == THREADS * OPS_PER_THREAD
    # a refusal must come from the allocator's own check (TA code, key=value DETAIL), not a raw constraint violation
    assert len(raw) <= RAW_TOLERATED, [f"{e.sqlstate} {e.constraint}: {e}" for e in raw[:3]]
    # the workload really collided and really succeeded (otherwise the invariants prove little)
    assert outcomes["assign:ok"] > 50 and outcomes["assign:TAC01"] > 20, sorted(outcomes.items())
    assert outcomes["confirm:ok"] > 0 and outcomes["move:ok"] > 0 and outcomes["status:ok"] > 0, outcomes
    with db.connect(tm_dsn, autocommit=True) as conn:
        broken: dict[str, list[Any]] = {}
        for name, query in INVARIANTS.items():
            rows = conn.execute(query).fetchall()
            if rows:
                broken[name] = rows[:3]
        live = conn.execute("SELECT count(*) AS n FROM booking_table_assignments").fetchone()
        events = conn.execute("SELECT count(*) AS n FROM observability_events"
                              " WHERE event_type = 'capacity.rpc.conflict'").fetchone()
        # and the doctor, which knows every inconsistent state by name, finds none (expired holds not yet retired
        # are info: nothing is blocked by them; TMD022 is about the server, not the data)
        findings = [f"{f.code}: {f.detail}" for f in scan(conn) if f.level is not Level.info and f.code != "TMD022"]
        # the exclusion indexes still return every live row (the GiST rescan bug would have dropped some on an
        # affected server without the workaround: docs/allocator.md §7)
        with conn.transaction():
            lost = {c.index.index: (c.checked, c.lost) for c in
                    (reindex.compare(conn, idx) for idx in reindex.present(conn, "tablemend"))}
    assert not broken, broken
    assert not findings, findings[:5]
    assert lost == {"booking_table_assignments_no_overlap": (True, 0), "table_hold_members_no_overlap": (True, 0)}
    assert live is not None and live["n"] > 0
    # every conflict (409) was recorded once, after its call rolled back
    assert events is not None and events["n"] == sum(n for k, n in outcomes.items() if ":TAC" in k)


@pytest.mark.parametrize("kind", ["assign", "hold"])
def test_same_key_from_many_clients_writes_once(tm_dsn: str, kind: str) -> None:
    """Eight clients retrying one request with one key: one result, every other answer a replay or TAC04."""
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn, tables=3)
        booking = d.booking(conn, f.restaurant_id, party_size=6)
    pair = [f.by_number["T1"], f.by_number["T2"]]  # adjacent
    results: list[object] = []
    guard = threading.Lock()
    barrier = threading.Barrier(THREADS)
    with Allocator.open(tm_dsn, min_size=THREADS, max_size=THREADS) as alloc:
        if kind == "hold":
            hold_id = alloc.create_hold(f.restaurant_id, pair, d.at(19), d.at(21), booking_id=booking).hold_id

        def call() -> None:
            barrier.wait()
            try:
                if kind == "assign":
                    out: object = alloc.assign(booking, pair, key="same", require_adjacency=True)
                else:
                    out = alloc.confirm_hold(hold_id, key="same")
            except errors.IdempotencyInProgress as exc:
                out = exc.sqlstate
            with guard:
                results.append(out)

        threads = [threading.Thread(target=call) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    answers = [r for r in results if r != "TAC04"]
    assert len(results) == THREADS and answers
    assert all(a == answers[0] for a in answers)  # every success returned the same rows (one merge group)
    with db.connect(tm_dsn, autocommit=True) as conn:
        assert d.count(conn, "booking_table_assignments_archive", booking) == 0  # written once, never replaced
        assert d.count(conn, "booking_table_assignments", booking) == 2


def test_assign_racing_a_direct_move_is_refused_with_tac01(tm_dsn: str) -> None:
    """A direct UPDATE of a booking's window racing an assign of its table: TAC01 naming the mover, not a raw 23P01
    from the exclusion constraint or a deadlock (the move's trigger locks the tables first, like the functions)."""
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn, tables=1)
        mover = d.booking(conn, f.restaurant_id, d.at(16), d.at(17))
        d.assign(conn, mover, f.tables)
        booking = d.booking(conn, f.restaurant_id, d.at(19), d.at(21))
    outcome: dict[str, BaseException] = {}
    with Allocator.open(tm_dsn, min_size=1, max_size=1) as alloc, db.connect(tm_dsn) as move:
        # the move is half-way: its assignment row now covers 19-21, not committed yet
        move.execute("UPDATE bookings SET start_at = %s, end_at = %s WHERE id = %s", (d.at(19), d.at(21), mover))

        def assign() -> None:
            try:
                alloc.assign(booking, f.tables)
            except errors.TablemendError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=assign)
        thread.start()
        with db.connect(tm_dsn, autocommit=True) as watch:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the assign waits on the move's uncommitted row
                row = watch.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                                    " AND wait_event_type = 'Lock'").fetchone()
                if row and row["n"]:
                    break
                time.sleep(0.02)
        move.commit()
        thread.join(timeout=20)
    error = outcome.get("error")
    assert isinstance(error, errors.TableOccupied)
    assert error.sqlstate == "TAC01", f"{error.sqlstate} {error.constraint}: {error}"
    assert error.fields["blocking_booking_id"] == str(mover)


def test_two_bookings_swapping_tables_never_deadlock(tm_dsn: str) -> None:
    """X on T1 and Y on T2 (same evening) swap tables again and again from two clients: each replacement deletes a
    row on a table the other one inserts on, so both must lock old and new tables in one id order. Every call either
    succeeds or is refused with TAC01; a 40P01 deadlock fails the test."""
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn, tables=2)
        x, y = d.booking(conn, f.restaurant_id), d.booking(conn, f.restaurant_id, d.at(20), d.at(22))
        t1, t2 = f.by_number["T1"], f.by_number["T2"]
        d.assign(conn, x, [t1])
        d.assign(conn, y, [t2])
    seen: Counter[str] = Counter()
    unexpected: list[BaseException] = []
    guard = threading.Lock()
    barrier = threading.Barrier(2)
    with Allocator.open(tm_dsn, min_size=2, max_size=2, record_conflicts=False) as alloc:

        def swap(booking: uuid.UUID, tables: tuple[uuid.UUID, uuid.UUID]) -> None:
            barrier.wait()
            for i in range(150):
                try:
                    alloc.assign(booking, [tables[i % 2]])
                    outcome = "ok"
                except errors.TableOccupied as exc:
                    outcome = exc.sqlstate
                except BaseException as exc:
                    with guard:
                        unexpected.append(exc)
                    continue
                with guard:
                    seen[outcome] += 1

        threads = [threading.Thread(target=swap, args=(x, (t2, t1))), threading.Thread(target=swap, args=(y, (t1, t2)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not unexpected, [f"{type(e).__name__} [{getattr(e, 'sqlstate', '?')}]: {e}" for e in unexpected[:3]]
    assert set(seen) <= {"ok", "TAC01"} and seen["ok"] > 0, seen


def test_confirm_racing_a_hold_that_retires_it_never_deadlocks(tm_dsn: str) -> None:
    """A confirm that started just before its hold expired, and a new hold on the same table created just after:
    confirm locks the hold and then wants the table; create_table_hold holds the table and then retires the expired
    hold. Both must take the same order (tables, then holds), so one waits and neither gets 40P01."""
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn, tables=1)
        holder, other = d.booking(conn, f.restaurant_id), d.booking(conn, f.restaurant_id)
        row = conn.execute("SELECT create_table_hold(%s, %s, %s, %s, clock_timestamp() + interval '1 second', %s)"
                           " AS id", (f.restaurant_id, f.tables, d.at(19), d.at(21), holder)).fetchone()
        assert row is not None
        hold_id = row["id"]
    outcome: dict[str, BaseException | None] = {}
    with db.connect(tm_dsn, deadlock_timeout="100ms") as confirm, \
            db.connect(tm_dsn, deadlock_timeout="100ms") as create:
        confirm.execute("SELECT 1")  # the confirm's transaction (and its now()) starts before the hold expires
        time.sleep(1.2)
        # the new hold's transaction starts after the expiry and has the table locked (as create_table_hold does
        # first) when the confirm reaches it
        create.execute("SELECT id FROM table_inventory WHERE id = %s FOR NO KEY UPDATE", (f.tables[0],))

        def run_confirm() -> None:
            try:
                with translated():
                    confirm.execute("SELECT * FROM confirm_hold_assignment(%s)", (hold_id,)).fetchall()
                confirm.commit()
                outcome["confirm"] = None
            except errors.TablemendError as exc:
                confirm.rollback()
                outcome["confirm"] = exc

        thread = threading.Thread(target=run_confirm)
        thread.start()
        with db.connect(tm_dsn, autocommit=True) as watch:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                waiting = watch.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                                        " AND wait_event_type = 'Lock'").fetchone()
                if waiting and waiting["n"]:
                    break
                time.sleep(0.02)
        try:
            with translated():
                create.execute("SELECT create_table_hold(%s, %s, %s, %s, now() + interval '5 minutes', %s)",
                               (f.restaurant_id, f.tables, d.at(19), d.at(21), other))
            create.commit()
            outcome["create"] = None
        except errors.TablemendError as exc:
            create.rollback()
            outcome["create"] = exc
        thread.join(timeout=20)
    codes = {name: getattr(exc, "sqlstate", None) for name, exc in outcome.items()}
    assert "40P01" not in codes.values(), codes
