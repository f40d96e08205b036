"""Auto-assign benchmark: ``python -m bench.quote [--quick] [--dsn SERVER_DSN] [--keep]``.

On a throwaway database it builds restaurants of 20, 60 and 150 tables (zones of up to 25 tables laid out in rows of
5: each table adjacent to its right-hand neighbour, to the one behind it with probability 0.5, and diagonally with
0.15; capacities 2-8, 8 % fixed) and books half of each restaurant's tables over the measured evening. Then, in the
same run:

* ``quote``: :meth:`tablemend.Allocator.quote` (``quote_tables``, the recursive CTE in SQL) for parties of 2 to 14,
  latency p50 / p99 as the client sees it;
* ``python``: the same enumeration in Python (:func:`tablemend.autoassign.connected_sets`) on the same snapshot;
* ``naive``: the baseline, every subset of up to 4 tables tested one by one (:func:`tablemend.autoassign.naive_sets`),
  within a time budget per party; its full time is extrapolated from its rate when the budget runs out.

Combinations per second: ``search_space`` is the number of subsets of up to 4 tables of the restaurant (what the naive
search tests); the quote decides all of them in one call, so its rate is ``search_space / mean latency``; ``grown`` is
the number of sets the growth actually builds. ``holds``: 8 clients call ``hold_best_tables`` for random parties over
overlapping windows on the 60-table restaurant; afterwards no table may be held twice, nor held over another booking's
assignment (``double_holds`` must be 0), and the server must report no deadlock.

The last line is JSON. Without ``--dsn`` the embedded cluster is used; the database ``tablemend_bench_quote_<pid>``
is dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench.allocator import percentile
from tablemend import Allocator, autoassign, databases, db
from tablemend.errors import TablemendError

SIZES = (20, 60, 150)
PARTIES = (2, 4, 6, 8, 10, 12, 14)
START = dt.datetime(2040, 3, 1, 19, tzinfo=dt.UTC)
END = START + dt.timedelta(hours=2)
QUICK = {"quotes": 70, "naive_budget_s": 0.5, "hold_ops": 12}
FULL = {"quotes": 700, "naive_budget_s": 4.0, "hold_ops": 40}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_restaurant(conn: db.Connection, tables: int, rng: random.Random) -> uuid.UUID:
    """A restaurant of ``tables`` tables with row-and-column adjacency, half of them booked over the evening."""
    rid = uuid.uuid4()
    conn.execute("INSERT INTO restaurants (id, name, timezone) VALUES (%s, %s, 'UTC')", (rid, f"Bench {tables}"))
    ids: list[uuid.UUID] = []
    zones = math.ceil(tables / 25)
    number = 0
    for z in range(zones):
        zid = uuid.uuid4()
        conn.execute("INSERT INTO zones (restaurant_id, id, name, sort_order) VALUES (%s, %s, %s, %s)",
                     (rid, zid, f"Zone {z + 1}", z))
        size = tables // zones + (1 if z < tables % zones else 0)
        zone_ids = []
        for _ in range(size):
            number += 1
            capacity = rng.choice((2, 2, 2, 4, 4, 4, 4, 6, 8))
            mobility = "fixed" if capacity == 8 or rng.random() < 0.08 else "movable"
            tid = uuid.uuid4()
            conn.execute("INSERT INTO table_inventory (restaurant_id, id, zone_id, table_number, capacity, mobility)"
                         " VALUES (%s, %s, %s, %s, %s, %s)", (rid, tid, zid, f"T{number}", capacity, mobility))
            zone_ids.append(tid)
        edges = set()
        for i in range(size):
            if (i + 1) % 5 and i + 1 < size:
                edges.add((zone_ids[i], zone_ids[i + 1]))
            if i + 5 < size and rng.random() < 0.5:
                edges.add((zone_ids[i], zone_ids[i + 5]))
            if (i + 1) % 5 and i + 6 < size and rng.random() < 0.15:
                edges.add((zone_ids[i], zone_ids[i + 6]))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO table_adjacencies (restaurant_id, table_a, table_b) VALUES (%s, %s, %s)",
                            [(rid, a, b) for a, b in edges])
        ids += zone_ids
    for tid in rng.sample(ids, tables // 2):
        start = START + dt.timedelta(minutes=rng.choice((-90, -60, -30, 0, 30, 60, 90)))
        bid = uuid.uuid4()
        conn.execute("INSERT INTO bookings (restaurant_id, id, start_at, end_at, party_size, status)"
                     " VALUES (%s, %s, %s, %s, 2, 'confirmed')", (rid, bid, start, start + dt.timedelta(hours=2)))
        conn.execute("SELECT count(*) FROM assign_tables_atomic_v2(%s, %s)", (bid, [tid]))
    return rid


def _space(n: int) -> int:
    return sum(math.comb(n, k) for k in range(1, autoassign.MAX_TABLES + 1))


def measure_size(alloc: Allocator, conn: db.Connection, rid: uuid.UUID, tables: int, quotes: int,
                 budget: float) -> dict[str, Any]:
    latencies: list[float] = []
    roundtrips: list[float] = []
    outcomes: Counter[str] = Counter()
    for _ in range(quotes):  # the noise floor: one round trip through the same pool
        began = time.perf_counter()
        with alloc.pool.connection() as pooled:
            pooled.execute("SELECT 1").fetchone()
        roundtrips.append(time.perf_counter() - began)
    # server time alone: the candidate search (what quote_tables runs after validation), one call after another
    # inside one statement, so no round trip is counted
    parties = [PARTIES[n % len(PARTIES)] for n in range(quotes)]
    with conn.transaction():  # the settings quote_tables runs with (its SET clauses)
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.execute("SET LOCAL enable_indexscan = off")
        began = time.perf_counter()
        conn.execute("SELECT count(*) FROM unnest(%s::int[]) AS p(party), LATERAL (SELECT * FROM"
                     " autoassign_candidates(%s, p.party, tstzrange(%s, %s), NULL, NULL, NULL, 5)) q",
                     (parties, rid, START, END)).fetchone()
        server_ms = (time.perf_counter() - began) * 1000 / len(parties)
    for n in range(quotes):
        party = PARTIES[n % len(PARTIES)]
        began = time.perf_counter()
        try:
            alloc.quote(rid, party, START, END, limit=5)
            outcomes["ok"] += 1
        except TablemendError as exc:
            outcomes[exc.sqlstate] += 1
        latencies.append(time.perf_counter() - began)
    python_s = naive_s = 0.0
    grown = naive_tested = 0
    agree = True
    for party in PARTIES:
        row = conn.execute("SELECT repack_state(%s, %s, %s, %s) AS s", (rid, party, START, END)).fetchone()
        assert row is not None
        floor, free = autoassign.floor_from_state(row["s"])
        counter = [0]
        began = time.perf_counter()
        fast = autoassign.ranked(floor, party, autoassign.connected_sets(floor, party, free, counter=counter))
        python_s += time.perf_counter() - began
        grown += counter[0]
        tested = [0]
        found: list[tuple[int, ...]] = []
        began = time.perf_counter()
        for combo in autoassign.naive_sets(floor, party, free, counter=tested, deadline=began + budget):
            found.append(combo)
        spent = time.perf_counter() - began
        if tested[0] < _space(tables):
            spent = spent * _space(tables) / max(tested[0], 1)  # extrapolated to the whole space
        else:
            agree = agree and autoassign.ranked(floor, party, found) == fast
        naive_s += spent
        naive_tested += tested[0]
    space = _space(tables)
    mean = sum(latencies) / len(latencies)
    per_quote_naive = naive_s / len(PARTIES)
    return {
        "tables": tables, "quotes": len(latencies), "outcomes": dict(outcomes),
        "p50_ms": round(percentile(latencies, 50) * 1000, 3), "p99_ms": round(percentile(latencies, 99) * 1000, 3),
        "roundtrip_p50_ms": round(percentile(roundtrips, 50) * 1000, 3),
        "roundtrip_p99_ms": round(percentile(roundtrips, 99) * 1000, 3), "server_ms": round(server_ms, 3),
        "search_space": space, "grown_per_quote": round(grown / len(PARTIES), 1),
        "quote_combinations_per_s": round(space / mean), "quote_grown_per_s": round(grown / len(PARTIES) / mean),
        "python_ms": round(python_s / len(PARTIES) * 1000, 3),
        "naive_ms": round(per_quote_naive * 1000, 1), "naive_combinations_per_s": round(space / per_quote_naive),
        "naive_complete": naive_tested >= space * len(PARTIES), "naive_agrees": agree,
        "speedup_vs_naive": round(per_quote_naive / mean, 1),
    }


def measure_holds(alloc: Allocator, conn: db.Connection, rid: uuid.UUID, clients: int, ops: int,
                  seed: int) -> dict[str, Any]:
    """``clients`` threads hold best tables for random parties and windows overlapping the evening."""
    deadlocks_before = _deadlocks(conn)
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    latencies: list[float] = []
    barrier = threading.Barrier(clients)

    def client(n: int) -> None:
        rng = random.Random(seed + n)
        barrier.wait()
        for _ in range(ops):
            start = START + dt.timedelta(minutes=rng.choice((-60, -30, 0, 30, 60)))
            began = time.perf_counter()
            try:
                alloc.hold_best_tables(rid, rng.choice(PARTIES[:5]), start, start + dt.timedelta(hours=2),
                                       ttl=dt.timedelta(minutes=10))
                outcome = "held"
            except TablemendError as exc:
                outcome = exc.sqlstate or "untyped"
            with lock:
                counts[outcome] += 1
                latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row = conn.execute(
        "SELECT (SELECT count(*) FROM table_hold_members a JOIN table_hold_members b ON a.restaurant_id ="
        " b.restaurant_id AND a.table_id = b.table_id AND a.hold_id < b.hold_id AND a.hold_window && b.hold_window"
        " WHERE a.restaurant_id = %(r)s)"
        " + (SELECT count(*) FROM table_hold_members m JOIN booking_table_assignments x ON x.restaurant_id ="
        " m.restaurant_id AND x.table_id = m.table_id AND x.assignment_window && m.hold_window"
        " WHERE m.restaurant_id = %(r)s) AS n", {"r": rid}).fetchone()
    return {"clients": clients, "ops": clients * ops, "outcomes": dict(counts),
            "double_holds": int(row["n"]) if row else -1, "deadlocks": _deadlocks(conn) - deadlocks_before,
            "p50_ms": round(percentile(latencies, 50) * 1000, 3), "p99_ms": round(percentile(latencies, 99) * 1000, 3)}


def _deadlocks(conn: db.Connection) -> int:
    row = conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()
    return int(row["deadlocks"]) if row else 0


def run(dsn: str, *, sizes: Sequence[int] = SIZES, quotes: int, naive_budget_s: float, hold_ops: int,
        clients: int = 8, seed: int = 20401) -> dict[str, Any]:
    rng = random.Random(seed)
    with db.connect(dsn, autocommit=True) as conn:
        from tablemend.migrations import migrate

        migrate(conn)
        with conn.transaction():
            rids = {n: build_restaurant(conn, n, rng) for n in sizes}
        conn.execute("ANALYZE")
        with Allocator.open(dsn, min_size=1, max_size=clients, record_conflicts=False) as alloc:
            for n in sizes:  # warm the plans and the pool
                alloc.quote(rids[n], 4, START, END)
            results = []
            for n in sizes:
                _log(f"quote: {n} tables")
                results.append(measure_size(alloc, conn, rids[n], n, quotes, naive_budget_s))
            hold_size = 60 if 60 in rids else sizes[-1]
            _log(f"holds: {clients} clients on {hold_size} tables")
            holds = measure_holds(alloc, conn, rids[hold_size], clients, hold_ops, seed)
        version = conn.info.server_version
    at60 = next((r for r in results if r["tables"] == 60), results[-1])
    return {"bench": "quote", "server_version": version, "sizes": results, "holds": holds,
            "quote_p99_ms_at_60": at60["p99_ms"], "quote_combinations_per_s_at_60": at60["quote_combinations_per_s"],
            "naive_combinations_per_s_at_60": at60["naive_combinations_per_s"],
            "targets_met": at60["p99_ms"] <= 5.0 and at60["quote_combinations_per_s"] >= 100_000
            and holds["double_holds"] == 0}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quote", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer quotes and a shorter naive budget")
    parser.add_argument("--dsn", help="server to create the throwaway database on (default: embedded cluster)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    server = db.resolve_dsn(args.dsn)
    name = f"tablemend_bench_quote_{os.getpid()}"
    databases.ensure(server, name, reset=True)
    try:
        report = run(databases.dsn_for(server, name), quotes=int(size["quotes"]),
                     naive_budget_s=float(size["naive_budget_s"]), hold_ops=int(size["hold_ops"]))
        report["quick"] = bool(args.quick)
    finally:
        if not args.keep:
            databases.drop(server, name)
    for r in report["sizes"]:
        _log(f"{r['tables']:>4} tables: quote p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms (SELECT 1: p50 "
             f"{r['roundtrip_p50_ms']} p99 {r['roundtrip_p99_ms']}; server {r['server_ms']} ms), "
             f"{r['quote_combinations_per_s']:,} combinations/s (grown {r['grown_per_quote']}/quote); "
             f"python {r['python_ms']} ms; naive {r['naive_ms']} ms/quote = {r['naive_combinations_per_s']:,}/s "
             f"({'complete' if r['naive_complete'] else 'extrapolated'}); speed-up x{r['speedup_vs_naive']}")
    h = report["holds"]
    _log(f"holds: {h['clients']} clients, {h['ops']} calls {h['outcomes']}, double holds {h['double_holds']}, "
         f"deadlocks {h['deadlocks']}, p99 {h['p99_ms']} ms")
    print(json.dumps(report))
    return 0 if report["holds"]["double_holds"] == 0 and report["holds"]["deadlocks"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
