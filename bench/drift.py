"""Drift generator: the origin's leaky operations at random, then ``repair --all-safe``, then the real retry.

``python -m bench.drift [--seeds 8] [--bookings 60] [--ops 60] [--dsn SERVER_DSN]``

For each seed, in a fresh origin sandbox database: one restaurant (zones Main and Terrace, 14 movable tables), bookings
on one evening seated by the origin's own ``assign_tables_atomic_v2`` with the origin's kind of deterministic key,
then random leaky operations as the origin performs them:

* ``cancel`` — the status route: status ``cancelled``, rows and allocations stay;
* ``reset`` — ``scripts/reset-bookings.ts``: the booking's rows deleted, status back to ``pending`` (allocations,
  ledger row and zone lock stay);
* ``unassign`` — ``unassign_tables_atomic``: rows and table allocations go, ledger row, merge group and zone lock stay;
* ``move`` — a booking edit to another seating, windows re-synced (``sync_confirmed_assignment_windows``), ``slot_id``
  kept;
* ``direct`` — ``assignTablesDirectly``: a row with the booking's window, no slot, no allocation, no ledger row.

Then ``repair --all-safe`` once, and the real retry of every live booking seated nowhere (reset, unassigned, or never
seated), for the tables it now asks for (its first set, or other tables as the auto-assigner re-plans) when no other
live booking's row occupies them over its window: it *should* be assignable. Same request, same deterministic key,
as in the origin. A retry succeeds when it returns one row per table; for each failure the doctor's explain must
name a blocker.
The last line is JSON: ``{"bench": "drift", "eligible": n, "succeeded": k, "ratio": k / n, "unexplained": u, ...}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

from tablemend import db, sqlfiles
from tablemend.doctor import explain, repair
from tablemend.doctor.rules import Context
from tablemend.errors import TablemendError

_SANDBOX = "origin/sandbox.sql"
_SQL = Path(__file__).with_name("drift.sql")
SEATINGS = ("12:00", "14:00", "16:00", "18:00", "20:00")
OPERATIONS = ("cancel", "reset", "unassign", "move", "direct")


def _sandbox(name: str) -> LiteralString:
    return sqlfiles.query(name, _SANDBOX)


def _q(name: str) -> LiteralString:
    # shipped with the repository, never built from input
    return sqlfiles.split_named(_SQL.read_text(encoding="utf-8"))[name]


@dataclass
class World:
    restaurant_id: uuid.UUID
    zones: dict[uuid.UUID, list[uuid.UUID]]  # zone -> its tables
    day: dt.date
    #: booking -> (the tables it was first seated on, its key)
    seated: dict[uuid.UUID, tuple[list[uuid.UUID], str]] = field(default_factory=dict)
    applied: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Outcome:
    eligible: int
    succeeded: int
    failures: tuple[tuple[uuid.UUID, str], ...]  # (booking, error)
    unexplained: tuple[uuid.UUID, ...]  # failures no finding names
    operations: dict[str, int]

    @property
    def ratio(self) -> float:
        return 1.0 if self.eligible == 0 else self.succeeded / self.eligible


def _one(conn: db.Connection, query: LiteralString, params: dict[str, Any]) -> dict[str, Any]:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return dict(row)


def _key(booking: uuid.UUID, tables: Sequence[uuid.UUID], start: object) -> str:
    """The origin's deterministic key (v2/utils.ts): sha256 of booking | sorted tables | window, 24 hex chars."""
    text = "|".join([str(booking), ",".join(sorted(map(str, tables))), str(start)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def build(conn: db.Connection, rng: random.Random, bookings: int) -> World:
    """One restaurant with ``bookings`` bookings on one evening, seated by the origin's function (committed)."""
    with db.translated(), conn.transaction():
        rid = _one(conn, _sandbox("insert_restaurant"), {"name": "Drift", "slug": f"drift-{uuid.uuid4().hex[:8]}",
                                                         "timezone": "UTC"})["id"]
        conn.execute(_sandbox("insert_allowed_capacity"), {"restaurant_id": rid, "capacity": 4, "label": "4"})
        zones: dict[uuid.UUID, list[uuid.UUID]] = {}
        for order, (name, count) in enumerate((("Main", 10), ("Terrace", 4)), start=1):
            zone = _one(conn, _sandbox("insert_zone"), {"restaurant_id": rid, "name": name, "sort_order": order,
                                                        "area_type": "indoor"})["id"]
            zones[zone] = [_one(conn, _sandbox("insert_table"), {
                "restaurant_id": rid, "zone_id": zone, "table_number": f"{name[0]}{n}", "capacity": 4,
                "mobility": "movable", "section": name})["id"] for n in range(1, count + 1)]
        world = World(rid, zones, dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30))
        free = {s: {z: list(t) for z, t in zones.items()} for s in SEATINGS}
        for n in range(bookings):
            seating = rng.choice(SEATINGS)
            end = (dt.datetime.combine(world.day, dt.time.fromisoformat(seating)) + dt.timedelta(hours=2)).time()
            row = _one(conn, _sandbox("insert_booking"), {
                "restaurant_id": rid, "customer_name": f"guest {n}", "booking_date": world.day,
                "start_time": dt.time.fromisoformat(seating), "end_time": end, "party_size": 2,
                "status": "pending", "reference": f"DRIFT-{uuid.uuid4().hex[:8]}"})
            zone = rng.choice(list(zones))
            want = rng.choice((1, 1, 2))
            if len(free[seating][zone]) < want:
                continue  # no room: stays unseated (not part of the experiment)
            tables = sorted(rng.sample(free[seating][zone], want))
            for t in tables:
                free[seating][zone].remove(t)
            key = _key(row["id"], tables, row["start_at"])
            conn.execute(_sandbox("assign"), {"p_booking_id": row["id"], "p_table_ids": tables,
                                              "p_idempotency_key": key, "p_require_adjacency": False,
                                              "p_assigned_by": None, "p_start_at": None, "p_end_at": None})
            if rng.random() < 0.5:
                conn.execute(_q("set_status"), {"booking_id": row["id"], "status": "confirmed"})
            world.seated[row["id"]] = (tables, key)
    return world


def drift(conn: db.Connection, world: World, rng: random.Random, operations: int) -> None:
    """``operations`` leaky operations on random seated bookings; one that the database refuses changes nothing."""
    bookings = list(world.seated)  # creation order: the same seed makes the same drift (ids are random)
    every_table = [t for tables in world.zones.values() for t in tables]
    for _ in range(operations):
        booking, op = rng.choice(bookings), rng.choice(OPERATIONS)
        try:
            with db.translated(), conn.transaction():
                _operate(conn, world, booking, op, rng, every_table)
        except TablemendError:
            continue  # e.g. a move or a direct insert onto an occupied table: the database refused it
        world.applied[op] += 1


def _operate(conn: db.Connection, world: World, booking: uuid.UUID, op: str, rng: random.Random,
             every_table: list[uuid.UUID]) -> None:
    if op == "cancel":
        conn.execute(_q("set_status"), {"booking_id": booking, "status": "cancelled"})
    elif op == "reset":
        conn.execute(_q("delete_rows"), {"booking_id": booking})
        conn.execute(_q("set_status"), {"booking_id": booking, "status": "pending"})
    elif op == "unassign":
        conn.execute(_sandbox("unassign"), {"booking_id": booking, "table_ids": None})
        conn.execute(_q("set_status"), {"booking_id": booking, "status": "pending"})
    elif op == "move":
        seating = rng.choice(SEATINGS)
        start = dt.time.fromisoformat(seating)
        end = (dt.datetime.combine(world.day, start) + dt.timedelta(hours=2)).time()
        moved = _one(conn, _sandbox("move_booking"), {"booking_id": booking, "start_time": start, "end_time": end})
        held = _one(conn, _q("held_tables"), {"booking_id": booking})["tables"]
        if held:
            conn.execute(_sandbox("sync_windows"), {"booking_id": booking, "table_ids": held,
                                                    "start_at": moved["start_at"], "end_at": moved["end_at"]})
    else:
        conn.execute(_q("direct_insert"), {"booking_id": booking, "table_id": rng.choice(every_table)})


def candidates(conn: db.Connection, world: World, rng: random.Random) -> list[tuple[uuid.UUID, list[uuid.UUID]]]:
    """Every live booking seated nowhere, with the tables it now asks for: its first set (when it had one) or, as
    the origin's auto-assigner re-plans after a reset, 1-2 other tables of a random zone; kept only when no other
    live booking's row occupies them over its window (it *should* be assignable)."""
    wanted: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
    for row in conn.execute(_q("unseated"), {"restaurant_id": world.restaurant_id}).fetchall():
        booking = row["booking_id"]
        first = world.seated.get(booking)
        if first is not None and rng.random() < 0.5:
            tables = first[0]
        else:
            zone = rng.choice(list(world.zones))
            tables = sorted(rng.sample(world.zones[zone], rng.choice((1, 1, 2))))
        if conn.execute(_q("eligible"), {"ids": [booking], "tables_of": tables}).fetchone() is not None:
            wanted.append((booking, tables))
    return wanted


def retry(conn: db.Connection, world: World, rng: random.Random) -> Outcome:
    """``repair --all-safe``, then the real retry of every booking that should be assignable (each rolled back)."""
    repair(conn, Context(), all_safe=True)
    eligible = candidates(conn, world, rng)
    succeeded = 0
    failures: list[tuple[uuid.UUID, str]] = []
    unexplained: list[uuid.UUID] = []
    for booking, tables in eligible:
        start = _one(conn, _q("booking_window"), {"booking_id": booking})["start_at"]
        key = _key(booking, tables, start)  # the same request gives the same key, as in the origin
        args = {"p_booking_id": booking, "p_table_ids": tables, "p_idempotency_key": key,
                "p_require_adjacency": False, "p_assigned_by": None, "p_start_at": None, "p_end_at": None}
        try:
            with db.translated(), conn.transaction(force_rollback=True):
                rows = conn.execute(_sandbox("call_v2"), args).fetchall()
            error = None if len(rows) == len(tables) else f"{len(rows)} of {len(tables)} rows"
        except TablemendError as exc:
            error = f"[{exc.sqlstate}] {exc.message}"
        if error is None:
            succeeded += 1
            continue
        failures.append((booking, error))
        why = explain(conn, booking_id=booking, table_ids=tables, idempotency_key=key, probe=False)
        if not [b for b in why.blockers if b.blocks]:
            unexplained.append(booking)
    return Outcome(len(eligible), succeeded, tuple(failures), tuple(unexplained), dict(world.applied))


def run_seed(dsn: str, seed: int, *, bookings: int, operations: int) -> Outcome:
    rng = random.Random(seed)
    with db.connect(dsn, autocommit=True) as conn:
        world = build(conn, rng, bookings)
        drift(conn, world, rng, operations)
        return retry(conn, world, rng)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drift", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--bookings", type=int, default=60)
    parser.add_argument("--ops", type=int, default=60)
    parser.add_argument("--dsn", help="server to build throwaway databases on (default: the embedded cluster)")
    args = parser.parse_args(argv)
    from tablemend import databases, sandbox

    server = db.resolve_dsn(args.dsn)
    name = f"tablemend_bench_drift_{os.getpid()}"
    total = Counter[str]()
    results = []
    try:
        for seed in range(args.seeds):
            databases.ensure(server, name, reset=True)
            target = databases.dsn_for(server, name)
            with db.connect(target, autocommit=True) as conn:
                sandbox.build_origin(conn)
            out = run_seed(target, seed, bookings=args.bookings, operations=args.ops)
            results.append(out)
            total.update({"eligible": out.eligible, "succeeded": out.succeeded,
                          "unexplained": len(out.unexplained)})
            print(f"seed {seed}: {out.succeeded}/{out.eligible} retries succeeded; operations {out.operations}",
                  file=sys.stderr)
            for booking, error in out.failures:
                print(f"  {booking}: {error}", file=sys.stderr)
    finally:
        databases.drop(server, name)
    ratio = total["succeeded"] / total["eligible"] if total["eligible"] else 1.0
    print(json.dumps({"bench": "drift", "seeds": args.seeds, "bookings": args.bookings, "ops": args.ops,
                      "eligible": total["eligible"], "succeeded": total["succeeded"], "ratio": round(ratio, 4),
                      "unexplained": total["unexplained"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
