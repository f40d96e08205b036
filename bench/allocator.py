"""Allocator benchmark: ``python -m bench.allocator [--quick] [--dsn SERVER_DSN] [--keep]``.

On a throwaway database (sample data from :mod:`tablemend.sample`, many restaurants) it measures, in the same run:

* ``assign``: :meth:`tablemend.Allocator.assign` with an idempotency key, for 1-, 2- and 3-table bookings at 1, 4 and
  8 clients. Every operation seats a fresh booking on a connected group of free tables; the groups are split between
  the clients, so the clients never wait on each other's tables (many restaurants, no collisions).
* ``baseline``: the same clients, the same pool, the same number of operations, each inserting as many rows as the
  assign writes (its assignment rows + the ledger row) into a plain table with a primary key, one transaction per
  operation: the cheapest equivalent write.
* ``workaround``: the same assigns at 8 clients with the functions' ``enable_indexscan = off`` (the GiST rescan
  workaround, docs/allocator.md §7) and without, in ABBA order; ``off_vs_on`` is the throughput a fixed server regains.
* ``contended``: 8 clients on one small zone of one restaurant, random assign (1-3 adjacent tables) and unassign on
  40 bookings of one evening, so most calls collide; refusals are counted by SQLSTATE.

Clients are threads, each borrowing its own connection from the Allocator's pool (psycopg releases the GIL while it
waits for the server). ``client_cpu`` in each cell is the process's CPU seconds per wall second: near 1.0 would mean
the threads are GIL-bound rather than waiting for the server; the report prints it so the choice can be checked, and
``--processes`` runs the measured cells with one process per client instead, for comparison.

The last line is JSON: ``{"bench": "allocator", "ratio": assign / baseline throughput at 8 clients, ...}`` with
p50/p99 of the 8-client assigns, deadlocks (pg_stat_database delta, must be 0) and errors by SQLSTATE. Without
``--dsn`` the embedded cluster is used. A database ``tablemend_bench_alloc_<pid>`` is created on the server and
dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import math
import multiprocessing
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

from tablemend import Allocator, databases, db, integrity, sample, sqlfiles
from tablemend.errors import TablemendError

_SQL = Path(__file__).with_name("allocator.sql")
QUICK = {"restaurants": 20, "ops": 240, "contended_ops": 1600}
FULL = {"restaurants": 120, "ops": 2400, "contended_ops": 4000}
CLIENTS = (1, 4, 8)
SIZES = (1, 2, 3)
_EPOCH = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)  # far from the sample's own bookings


def query(name: str) -> LiteralString:
    return sqlfiles.split_named(_SQL.read_text(encoding="utf-8"))[name]


@dataclass(frozen=True)
class Group:
    restaurant_id: uuid.UUID
    table_ids: tuple[uuid.UUID, ...]
    seats: int


@dataclass
class ClientRun:
    """What a set of client threads did: wall time, per-operation latencies, refusals by SQLSTATE."""

    seconds: float
    latencies: list[float]
    errors: Counter[str]
    cpu: float

    @property
    def ops(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def run_clients(work: Sequence[Sequence[Callable[[], object]]]) -> ClientRun:
    """Run each client's list of operations in its own thread, all starting together."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    guard = threading.Lock()
    barrier = threading.Barrier(len(work) + 1)

    def client(ops: Sequence[Callable[[], object]]) -> None:
        mine: list[float] = []
        failed: Counter[str] = Counter()
        barrier.wait()
        for op in ops:
            start = time.perf_counter()
            try:
                op()
            except TablemendError as exc:
                failed[exc.sqlstate] += 1
            mine.append(time.perf_counter() - start)
        with guard:
            latencies.extend(mine)
            errors.update(failed)

    threads = [threading.Thread(target=client, args=(ops,)) for ops in work]
    for t in threads:
        t.start()
    cpu0 = time.process_time()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return ClientRun(seconds, latencies, errors, (time.process_time() - cpu0) / seconds if seconds else 0.0)


def _process_client(dsn: str, kind: str, planned: list[Planned], barrier: Any, results: Any) -> None:
    """One client as its own process (``--processes``): its own pool of one connection, the same operations."""
    with Allocator.open(dsn, min_size=1, max_size=1, record_conflicts=False) as alloc:
        with contextlib.suppress(TablemendError):  # compiles the function in this session before the clock starts
            alloc.assign(uuid.uuid4(), [uuid.uuid4()])
        ops = (assign_ops if kind == "assign" else baseline_ops)(alloc, [planned])[0]
        barrier.wait()
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        for op in ops:
            start = time.perf_counter()
            try:
                op()
            except TablemendError as exc:
                errors[exc.sqlstate] += 1
            latencies.append(time.perf_counter() - start)
    results.put((latencies, dict(errors)))


def run_processes(dsn: str, kind: str, plans: list[list[Planned]]) -> ClientRun:
    """Like :func:`run_clients`, with each client a separate process (no shared GIL)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(plans) + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_process_client, args=(dsn, kind, planned, barrier, results)) for planned in plans]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    collected = [results.get(timeout=600) for _ in procs]
    seconds = time.perf_counter() - start
    for proc in procs:
        proc.join()
    latencies = [v for lat, _ in collected for v in lat]
    errors: Counter[str] = Counter()
    for _, errs in collected:
        errors.update(errs)
    return ClientRun(seconds, latencies, errors, 0.0)


# --- workload ---------------------------------------------------------------------------------------------------------


def find_groups(conn: db.Connection, restaurant_ids: Sequence[uuid.UUID], size: int, *, movable: bool = False
                ) -> list[Group]:
    """Disjoint runs of ``size`` consecutive (so adjacent) tables of one zone; movable when size > 1."""
    with db.translated():
        rows = conn.execute(query("groups"), {"ids": list(restaurant_ids)}).fetchall()
    groups: list[Group] = []
    run: list[dict[str, Any]] = []
    for row in rows:
        if run and (run[-1]["zone_id"] != row["zone_id"] or run[-1]["n"] + 1 != row["n"]):
            run = []
        if (size > 1 or movable) and row["mobility"] != "movable":
            run = []
            continue
        run.append(row)
        if len(run) == size:
            groups.append(Group(row["restaurant_id"], tuple(r["id"] for r in run), sum(r["capacity"] for r in run)))
            run = []
    return groups


@dataclass(frozen=True)
class Planned:
    booking_id: uuid.UUID
    table_ids: tuple[uuid.UUID, ...]
    start_at: dt.datetime
    end_at: dt.datetime


def plan_cell(conn: db.Connection, groups: Sequence[Group], clients: int, ops: int, epoch: dt.datetime
              ) -> list[list[Planned]]:
    """Per client, ``ops // clients`` fresh bookings on that client's own groups, at distinct windows; inserted."""
    if len(groups) < clients:
        raise SystemExit(f"only {len(groups)} table groups for {clients} clients: use more restaurants")
    per_client = [list(groups[c::clients]) for c in range(clients)]
    plans: list[list[Planned]] = []
    rows: list[dict[str, Any]] = []
    for mine in per_client:
        planned: list[Planned] = []
        for i in range(ops // clients):
            group = mine[i % len(mine)]
            start = epoch + dt.timedelta(hours=3 * (i // len(mine)))
            bid = uuid.uuid4()
            planned.append(Planned(bid, group.table_ids, start, start + dt.timedelta(hours=2)))
            rows.append({"restaurant_id": group.restaurant_id, "id": bid, "start_at": start,
                         "end_at": start + dt.timedelta(hours=2), "party_size": min(2, group.seats)})
        plans.append(planned)
    with db.translated(), conn.transaction(), conn.cursor() as cur:
        cur.executemany(query("insert_booking"), rows)
    return plans


def assign_ops(alloc: Allocator, plans: list[list[Planned]]) -> list[list[Callable[[], object]]]:
    def op(p: Planned) -> Callable[[], object]:
        return lambda: alloc.assign(p.booking_id, p.table_ids, key=f"bench-{p.booking_id}",
                                    require_adjacency=len(p.table_ids) > 1)

    return [[op(p) for p in planned] for planned in plans]


def baseline_ops(alloc: Allocator, plans: list[list[Planned]]) -> list[list[Callable[[], object]]]:
    insert = query("baseline_insert")

    def op(p: Planned) -> Callable[[], object]:
        # as many rows as the assign writes: one per table, plus its ledger row
        params = {"booking_id": p.booking_id, "table_ids": [*p.table_ids, p.booking_id], "start_at": p.start_at,
                  "end_at": p.end_at}

        def run() -> None:
            with db.translated(), alloc.pool.connection() as conn:
                conn.execute(insert, params)

        return run

    return [[op(p) for p in planned] for planned in plans]


def _deadlocks(conn: db.Connection) -> int:
    with db.translated():
        row = conn.execute(query("deadlocks")).fetchone()
    return int(row["n"]) if row else 0


def _cell_report(kind: str, clients: int, size: int | None, run: ClientRun) -> dict[str, Any]:
    return {
        "kind": kind, "clients": clients, "tables": size, "ops": run.ops, "seconds": round(run.seconds, 3),
        "throughput": round(run.throughput, 1), "p50_ms": round(percentile(run.latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(run.latencies, 99) * 1000, 2), "client_cpu": round(run.cpu, 2),
        "errors": dict(run.errors),
    }


def contended(alloc: Allocator, conn: db.Connection, restaurant_ids: Sequence[uuid.UUID], clients: int, ops: int,
              seed: int) -> ClientRun:
    """8 clients on 8 movable tables of one restaurant: random assign / unassign on 40 bookings of one evening."""
    groups = find_groups(conn, restaurant_ids[:1], 1, movable=True)
    zone_tables = [g.table_ids[0] for g in groups][:8]
    evening = _EPOCH - dt.timedelta(days=30)
    rows = []
    for i in range(40):
        start = evening + dt.timedelta(minutes=15 * (i % 12))
        rows.append({"restaurant_id": restaurant_ids[0], "id": uuid.uuid4(), "start_at": start,
                     "end_at": start + dt.timedelta(hours=2), "party_size": 2})
    with db.translated(), conn.transaction(), conn.cursor() as cur:
        cur.executemany(query("insert_booking"), rows)
    bookings = [r["id"] for r in rows]
    work: list[list[Callable[[], object]]] = []
    for c in range(clients):
        rng = random.Random(seed + c)
        mine: list[Callable[[], object]] = []
        for _ in range(ops // clients):
            booking = rng.choice(bookings)
            if rng.random() < 0.2:
                mine.append(_bound(alloc.unassign, booking))
                continue
            first = rng.randrange(len(zone_tables))
            mine.append(_bound(alloc.assign, booking, zone_tables[first:first + rng.choice((1, 2, 3))]))
        work.append(mine)
    return run_clients(work)


def _bound(fn: Callable[..., object], *args: Any) -> Callable[[], object]:
    return lambda: fn(*args)


def run(dsn: str, *, restaurants: int, ops: int, contended_ops: int, clients: Sequence[int] = CLIENTS,
        sizes: Sequence[int] = SIZES, seed: int = 7, processes: bool = False,
        log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """The whole benchmark on ``dsn`` (a database it may write to; migrated and sampled here). Returns the report."""
    with db.connect(dsn, autocommit=True) as conn:
        loaded = sample.load(conn, sample.plan(seed, restaurants, day=dt.date(2039, 6, 1)))
        with db.translated():
            conn.execute(query("create_baseline"))
            version = conn.execute(query("server_version")).fetchone()
        ids = list(loaded.restaurant_ids)
        verdict = integrity.server_check(conn).verdict.value
        groups = {size: find_groups(conn, ids, size) for size in sizes}
        deadlocks_before = _deadlocks(conn)
        cells: list[dict[str, Any]] = []
        cell = 0
        with Allocator.open(dsn, min_size=max(clients), max_size=max(clients)) as alloc:
            # every pooled connection runs both statements once first (PL/pgSQL compiles per session)
            warm = plan_cell(conn, groups[sizes[0]], max(clients), 20 * max(clients), _EPOCH - dt.timedelta(days=400))
            run_clients(assign_ops(alloc, warm))
            run_clients(baseline_ops(alloc, warm))
            for n in clients:
                for size in sizes:
                    cell += 1
                    plans = plan_cell(conn, groups[size], n, ops, _EPOCH + dt.timedelta(days=400 * cell))
                    if processes:
                        base, got = run_processes(dsn, "baseline", plans), run_processes(dsn, "assign", plans)
                    else:
                        base = run_clients(baseline_ops(alloc, plans))
                        got = run_clients(assign_ops(alloc, plans))
                    for kind, result in (("baseline", base), ("assign", got)):
                        cells.append(_cell_report(kind, n, size, result))
                    p50, p99 = percentile(got.latencies, 50) * 1000, percentile(got.latencies, 99) * 1000
                    log(f"{n} clients, {size}-table: assign {got.throughput:8.1f}/s p50 {p50:5.2f} ms p99 {p99:6.2f}"
                        f" ms | baseline {base.throughput:8.1f}/s p99 {percentile(base.latencies, 99) * 1000:6.2f} ms"
                        f" | ratio {got.throughput / base.throughput:.2f}"
                        f" | client cpu {got.cpu:.2f} errors {dict(got.errors) or 0}")
            toggled = workaround_cells(alloc, conn, groups, max(clients), ops, sizes, cell, log)
            cells += toggled
            busy = contended(alloc, conn, ids, max(clients), contended_ops, seed)
            cells.append(_cell_report("contended", max(clients), None, busy))
            log(f"contended, {max(clients)} clients: {busy.throughput:8.1f} calls/s p50 "
                f"{percentile(busy.latencies, 50) * 1000:5.2f} ms p99 {percentile(busy.latencies, 99) * 1000:6.2f} ms"
                f" refusals {dict(busy.errors)}")
        deadlocks = _deadlocks(conn) - deadlocks_before
    report = summarize(cells, deadlocks, version["v"] if version else "?", max(clients))
    report["client_mode"] = "processes" if processes else "threads"
    report["workaround"] = summarize_workaround(toggled, verdict)
    return report


def workaround_cells(alloc: Allocator, conn: db.Connection, groups: dict[int, list[Group]], clients: int, ops: int,
                     sizes: Sequence[int], cell: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """The GiST rescan workaround's price (docs/allocator.md §7): the same assigns at ``clients`` clients with the
    functions' ``enable_indexscan = off`` and without (on, off, off, on per table count); the server's own setting (from
    its verdict) is restored afterwards. A ``move`` is not measured (its SET LOCAL follows the pool's verdict)."""
    real = integrity.server_check(conn)
    out: list[dict[str, Any]] = []
    try:
        for size in sizes:
            # on, off, off, on: a drift of the shared machine during the cells weighs on both sides alike
            for setting in (integrity.Verdict.affected, integrity.Verdict.fixed, integrity.Verdict.fixed,
                            integrity.Verdict.affected):
                cell += 1
                integrity.apply_workaround(conn, dataclasses.replace(real, verdict=setting))
                warm = plan_cell(conn, groups[size], clients, 4 * clients, _EPOCH - dt.timedelta(days=200 + cell))
                run_clients(assign_ops(alloc, warm))  # the changed functions recompile in every session
                plans = plan_cell(conn, groups[size], clients, ops, _EPOCH + dt.timedelta(days=400 * cell))
                got = run_clients(assign_ops(alloc, plans))
                kind = "assign_workaround_on" if setting is integrity.Verdict.affected else "assign_workaround_off"
                out.append(_cell_report(kind, clients, size, got))
                log(f"{clients} clients, {size}-table: {kind} {got.throughput:8.1f}/s "
                    f"p99 {percentile(got.latencies, 99) * 1000:6.2f} ms")
    finally:
        integrity.apply_workaround(conn, real)
    return out


def summarize_workaround(cells: list[dict[str, Any]], verdict: str) -> dict[str, Any]:
    def rate(kind: str) -> float:
        rows = [c for c in cells if c["kind"] == kind]
        seconds = sum(r["seconds"] for r in rows)
        return sum(r["ops"] for r in rows) / seconds if seconds else 0.0

    on, off = rate("assign_workaround_on"), rate("assign_workaround_off")
    return {"server": verdict, "on_per_s": round(on, 1), "off_per_s": round(off, 1),
            "off_vs_on": round(off / on, 3) if on else 0.0}


def summarize(cells: list[dict[str, Any]], deadlocks: int, version: str, top: int) -> dict[str, Any]:
    def at(kind: str, clients: int) -> list[dict[str, Any]]:
        return [c for c in cells if c["kind"] == kind and c["clients"] == clients]

    def rate(rows: list[dict[str, Any]]) -> float:
        seconds = sum(r["seconds"] for r in rows)
        return sum(r["ops"] for r in rows) / seconds if seconds else 0.0

    assign_top, base_top = at("assign", top), at("baseline", top)
    ratios = {str(a["tables"]): round(a["throughput"] / b["throughput"], 3) if b["throughput"] else 0.0
              for a, b in zip(assign_top, base_top, strict=True)}
    errors: Counter[str] = Counter()
    for c in cells:
        if c["kind"] != "contended":
            errors.update(c["errors"])
    contention = next((c for c in cells if c["kind"] == "contended"), None)
    return {
        "bench": "allocator",
        "ratio": round(rate(assign_top) / rate(base_top), 3) if rate(base_top) else 0.0,
        "ratio_by_tables": ratios,
        "clients": top,
        "assign_per_s": round(rate(assign_top), 1),
        "baseline_per_s": round(rate(base_top), 1),
        "p50_ms": max((c["p50_ms"] for c in assign_top), default=0.0),
        "p99_ms": max((c["p99_ms"] for c in assign_top), default=0.0),
        "deadlocks": deadlocks,
        "errors": dict(errors),
        "contended": contention,
        "client_mode": "threads",
        "server_version": version,
        "cells": cells,
    }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.allocator", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer restaurants and operations (under a minute)")
    parser.add_argument("--dsn", help="server to create the throwaway database on (default: embedded cluster)")
    parser.add_argument("--ops", type=int, help="operations per cell (default: 240 quick, 2400 full)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--processes", action="store_true",
                        help="run each measured client as a process instead of a thread (the contended case stays "
                        "threads)")
    args = parser.parse_args(argv)
    size = dict(QUICK if args.quick else FULL)
    if args.ops:
        size["ops"] = args.ops
    server = db.resolve_dsn(args.dsn)
    name = f"tablemend_bench_alloc_{os.getpid()}"
    databases.ensure(server, name, reset=True)
    try:
        started = time.perf_counter()
        report = run(databases.dsn_for(server, name), restaurants=size["restaurants"], ops=size["ops"],
                     contended_ops=size["contended_ops"], processes=args.processes, log=_log)
        report["quick"] = bool(args.quick)
        report["total_s"] = round(time.perf_counter() - started, 1)
    finally:
        if not args.keep:
            databases.drop(server, name)
    _log(f"server {report['server_version']}: ratio {report['ratio']} at {report['clients']} clients "
         f"({report['assign_per_s']}/s vs {report['baseline_per_s']}/s), p50 {report['p50_ms']} ms, "
         f"p99 {report['p99_ms']} ms, deadlocks {report['deadlocks']}, errors {report['errors'] or 0}")
    w = report["workaround"]
    _log(f"GiST rescan workaround (server {w['server']}): assign {w['on_per_s']}/s with enable_indexscan = off, "
         f"{w['off_per_s']}/s without: off/on {w['off_vs_on']}")
    print(json.dumps({k: v for k, v in report.items() if k != "cells"} | {"cells": report["cells"]}))
    return 0 if report["deadlocks"] == 0 and not report["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
