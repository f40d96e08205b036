"""Allocator benchmark: ``python -m bench.allocator [--smoke | --quick] [--dsn SERVER_DSN] [--out DIR] [--keep]``.

Three columns in the same run, on the same server, for 1-, 2- and 3-table bookings at 1, 4, 8 and 16 clients:

* ``baseline``: each operation inserts as many rows as the assign writes (its assignment rows + the ledger row) into
  a plain table with a primary key, one statement, one transaction: the cheapest equivalent write.
* ``assign``: :meth:`tablemend.Allocator.assign` with an idempotency key, on a throwaway tablemend database (sample
  data from :mod:`tablemend.sample`, many restaurants). Every operation seats a fresh booking on a connected group of
  free tables; the groups are split between the clients, so the clients never wait on each other's tables, though
  they often work in the same restaurant.
* ``origin``: the origin sandbox's ``assign_tables_atomic_v2`` (spec/origin-system.md §2-§3a, :mod:`bench.origin`)
  in a second throwaway database on the same server, with the same restaurants, zones, tables and adjacency and the
  same split of groups; its deadlocks (§3a: two calls in one restaurant) are counted, not avoided.

Then, at 8 clients: ``workaround`` (the same assigns with the functions' ``enable_indexscan = off``, the GiST rescan
workaround of docs/allocator.md §7, and without, in ABBA order; ``off_vs_on`` is what a fixed server regains) and
``contended`` / ``origin_contended`` (8 clients on 8 movable tables of one restaurant, random assign of 1-3 adjacent
tables and unassign on 40 bookings of one evening, so most calls collide; refusals counted by SQLSTATE).

In each cell the columns run in two halves, baseline / assign / origin and then origin / assign / baseline, so a
drift of the shared machine during the cell weighs on all three alike. Clients are threads, each borrowing its own
connection from a pool (psycopg releases the GIL while it waits for the server). ``client_cpu`` in each cell is the
process's CPU seconds per wall second: near 1.0 would mean the threads are GIL-bound rather than waiting for the
server; ``--processes`` runs tablemend's measured cells with one process per client instead, for comparison.
``throughput`` counts calls that succeeded.

It prints every cell, a table of the three columns by client count, writes ``bench/results/allocator-<time>.json``
and a PNG plot (matplotlib: ``pip install -e '.[bench]'``), and ends with one JSON line: ``{"bench": "allocator",
"ratio": assign / baseline at 8 clients, ...}`` with p50/p99 of the 8-client assigns, deadlocks (pg_stat_database
delta, must be 0), errors by SQLSTATE, ``origin`` (its ratio, p50/p99, deadlocks, errors) and ``by_clients``. Without
``--dsn`` the embedded cluster is used. Databases ``tablemend_bench_alloc_<pid>`` and ``tablemend_bench_origin_<pid>``
are created on the server and dropped afterwards unless ``--keep``. Exit status 1 when tablemend's column had a
deadlock or an error (the origin's are expected).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, LiteralString

from bench import origin, results
from bench.clients import (
    ClientRun,
    Group,
    Planned,
    contended_work,
    groups_from_rows,
    merged,
    percentile,
    run_clients,
    split,
    timed,
)
from tablemend import Allocator, databases, db, integrity, sample, sqlfiles
from tablemend.errors import TablemendError

__all__ = ["ClientRun", "Group", "Planned", "main", "percentile", "run", "run_clients"]

_SQL = Path(__file__).with_name("allocator.sql")
SMOKE = {"restaurants": 2, "ops": 8, "contended_ops": 16, "clients": (1, 2), "sizes": (1, 2)}
QUICK = {"restaurants": 20, "ops": 240, "contended_ops": 1600}
FULL = {"restaurants": 120, "ops": 2400, "contended_ops": 4000}
CLIENTS = (1, 4, 8, 16)
SIZES = (1, 2, 3)
TARGET_CLIENTS = 8  # the target (DESIGN.md §9): >= 0.5 of the baseline at 8 clients, p99 <= 15 ms, no deadlock
COLUMNS = ("baseline", "assign", "origin")
_EPOCH = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)  # far from the sample's own bookings
_ORIGIN_DAY = dt.date(2041, 1, 1)
RESULTS = Path(__file__).with_name("results")


def query(name: str) -> LiteralString:
    return sqlfiles.split_named(_SQL.read_text(encoding="utf-8"))[name]


def _process_client(dsn: str, kind: str, planned: list[Planned], barrier: Any, results: Any) -> None:
    """One client as its own process (``--processes``): its own pool of one connection, the same operations."""
    with Allocator.open(dsn, min_size=1, max_size=1, record_conflicts=False) as alloc:
        with contextlib.suppress(TablemendError):  # compiles the function in this session before the clock starts
            alloc.assign(uuid.uuid4(), [uuid.uuid4()])
        ops = (assign_ops if kind == "assign" else baseline_ops)(alloc, [planned])[0]
        barrier.wait()
        latencies, errors = timed(ops)
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
    return groups_from_rows(rows, size, movable=movable)


def plan_cell(conn: db.Connection, groups: Sequence[Group], clients: int, ops: int, epoch: dt.datetime
              ) -> list[list[Planned]]:
    """Per client, ``ops // clients`` fresh bookings on that client's own groups, at distinct windows; inserted."""
    plans: list[list[Planned]] = []
    rows: list[dict[str, Any]] = []
    for mine in split(groups, clients):
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


def interleaved(work: dict[str, list[list[Callable[[], object]]]]) -> list[tuple[str, ClientRun]]:
    """Each column's operations in two halves, run in the order A B C then C B A: a drift of the shared machine during
    the cell weighs on every column alike. Returns the columns in ``work``'s order, halves merged."""
    halves = {kind: ([ops[:len(ops) // 2] for ops in w], [ops[len(ops) // 2:] for ops in w])
              for kind, w in work.items()}
    done: dict[str, list[ClientRun]] = {kind: [] for kind in work}
    for half, order in ((0, list(work)), (1, list(reversed(work)))):
        for kind in order:
            done[kind].append(run_clients(halves[kind][half]))
    return [(kind, merged(done[kind])) for kind in work]


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
    rows: list[dict[str, Any]] = []
    for i in range(40):
        start = evening + dt.timedelta(minutes=15 * (i % 12))
        rows.append({"restaurant_id": restaurant_ids[0], "id": uuid.uuid4(), "start_at": start,
                     "end_at": start + dt.timedelta(hours=2), "party_size": 2})
    with db.translated(), conn.transaction(), conn.cursor() as cur:
        cur.executemany(query("insert_booking"), rows)
    bookings = [r["id"] for r in rows]
    return run_clients(contended_work(bookings, zone_tables, clients=clients, ops=ops, seed=seed,
                                      assign=alloc.assign, unassign=alloc.unassign))


def run(dsn: str, *, origin_dsn: str | None = None, restaurants: int, ops: int, contended_ops: int,
        clients: Sequence[int] = CLIENTS, sizes: Sequence[int] = SIZES, seed: int = 7, processes: bool = False,
        target_clients: int = TARGET_CLIENTS, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """The whole benchmark on ``dsn`` (a database it may write to; migrated and sampled here) and, with
    ``origin_dsn`` (an empty database on the same server), the origin's column. Returns the report."""
    target = target_clients if target_clients in clients else max(clients)
    plan = sample.plan(seed, restaurants, day=dt.date(2039, 6, 1))
    with contextlib.ExitStack() as stack:
        conn = stack.enter_context(db.connect(dsn, autocommit=True))
        loaded = sample.load(conn, plan)
        with db.translated():
            conn.execute(query("create_baseline"))
            version = conn.execute(query("server_version")).fetchone()
        ids = list(loaded.restaurant_ids)
        verdict = integrity.server_check(conn).verdict.value
        groups = {size: find_groups(conn, ids, size) for size in sizes}
        origin_conn: db.Connection | None = None
        if origin_dsn is not None:
            origin_conn = stack.enter_context(db.connect(origin_dsn, autocommit=True))
            origin.build(origin_conn, plan)
            origin_groups = {size: origin.find_groups(origin_conn, ids, size) for size in sizes}
            pool = stack.enter_context(origin.open_pool(origin_dsn, max(clients)))
        deadlocks_before = _deadlocks(conn)
        cells: list[dict[str, Any]] = []
        cell = 0
        alloc = stack.enter_context(Allocator.open(dsn, min_size=max(clients), max_size=max(clients)))
        # every pooled connection runs each statement once first (PL/pgSQL compiles per session)
        warm = plan_cell(conn, groups[sizes[0]], max(clients), 20 * max(clients), _EPOCH - dt.timedelta(days=400))
        run_clients(assign_ops(alloc, warm))
        run_clients(baseline_ops(alloc, warm))
        if origin_conn is not None:
            run_clients(origin.assign_ops(pool, origin.plan_cell(
                origin_conn, origin_groups[sizes[0]], max(clients), 20 * max(clients), _ORIGIN_DAY)))
            time.sleep(1.0)  # the warm-up's own deadlocks reach pg_stat_database before the count starts
            origin_deadlocks = origin.deadlocks(origin_conn)
        for n in clients:
            for size in sizes:
                cell += 1
                plans = plan_cell(conn, groups[size], n, ops, _EPOCH + dt.timedelta(days=400 * cell))
                work: dict[str, list[list[Callable[[], object]]]] = {
                    "baseline": baseline_ops(alloc, plans), "assign": assign_ops(alloc, plans)}
                if origin_conn is not None:
                    work["origin"] = origin.assign_ops(pool, origin.plan_cell(
                        origin_conn, origin_groups[size], n, ops, _ORIGIN_DAY + dt.timedelta(days=400 * cell)))
                if processes:
                    runs = [("baseline", run_processes(dsn, "baseline", plans)),
                            ("assign", run_processes(dsn, "assign", plans))]
                    runs += [("origin", run_clients(work["origin"]))] if "origin" in work else []
                else:
                    runs = interleaved(work)
                base = runs[0][1]
                for kind, result in runs:
                    cells.append(_cell_report(kind, n, size, result))
                log(f"{n:2d} clients, {size}-table: " + " | ".join(
                    f"{kind} {r.throughput:7.1f}/s p50 {percentile(r.latencies, 50) * 1000:5.2f} p99 "
                    f"{percentile(r.latencies, 99) * 1000:6.2f} ms" + (f" x{r.throughput / base.throughput:.3f}"
                                                                       if kind != "baseline" and base.throughput
                                                                       else "")
                    + (f" errors {dict(r.errors)}" if r.errors else "") for kind, r in runs))
        toggled = workaround_cells(alloc, conn, groups, target, ops, sizes, cell, log)
        cells += toggled
        busy = contended(alloc, conn, ids, target, contended_ops, seed)
        cells.append(_cell_report("contended", target, None, busy))
        log(f"contended, {target} clients: {busy.throughput:8.1f} calls/s p50 "
            f"{percentile(busy.latencies, 50) * 1000:5.2f} ms p99 {percentile(busy.latencies, 99) * 1000:6.2f} ms"
            f" refusals {dict(busy.errors)}")
        if origin_conn is not None:
            rival = origin.contended(pool, origin_conn, ids[0], target, contended_ops, seed,
                                     _ORIGIN_DAY - dt.timedelta(days=30))
            cells.append(_cell_report("origin_contended", target, None, rival))
            log(f"origin contended, {target} clients: {rival.throughput:8.1f} calls/s p50 "
                f"{percentile(rival.latencies, 50) * 1000:5.2f} ms p99 "
                f"{percentile(rival.latencies, 99) * 1000:6.2f} ms refusals {dict(rival.errors)}")
        deadlocks = _deadlocks(conn) - deadlocks_before
        if origin_conn is not None:
            time.sleep(1.0)  # backends report their statistics at most once a second
            origin_deadlocks = origin.deadlocks(origin_conn) - origin_deadlocks
    report = summarize(cells, deadlocks, version["v"] if version else "?", target)
    report["client_mode"] = "processes" if processes else "threads"
    report["workaround"] = summarize_workaround(toggled, verdict)
    if origin_conn is not None:
        report["origin"] = summarize_origin(cells, origin_deadlocks, target)
    report["by_clients"] = by_clients(cells)
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

    rate = _rate
    assign_top, base_top = at("assign", top), at("baseline", top)
    ratios = {str(a["tables"]): round(a["throughput"] / b["throughput"], 3) if b["throughput"] else 0.0
              for a, b in zip(assign_top, base_top, strict=True)}
    errors: Counter[str] = Counter()
    for c in cells:
        if c["kind"] == "baseline" or c["kind"].startswith("assign"):  # tablemend's own uncontended cells
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


def _rate(rows: list[dict[str, Any]]) -> float:
    """Succeeded calls per second over several cells (``throughput`` is already per cell)."""
    seconds = sum(r["seconds"] for r in rows)
    return sum(r["throughput"] * r["seconds"] for r in rows) / seconds if seconds else 0.0


def summarize_origin(cells: list[dict[str, Any]], deadlocks: int, top: int) -> dict[str, Any]:
    """The origin's column at ``top`` clients against the same cells' baseline, its deadlocks and refusals."""
    mine = [c for c in cells if c["kind"] == "origin" and c["clients"] == top]
    base = [c for c in cells if c["kind"] == "baseline" and c["clients"] == top]
    errors: Counter[str] = Counter()
    for c in cells:
        if c["kind"] == "origin":
            errors.update(c["errors"])
    return {
        "ratio": round(_rate(mine) / _rate(base), 3) if _rate(base) else 0.0,
        "per_s": round(_rate(mine), 1),
        "p50_ms": max((c["p50_ms"] for c in mine), default=0.0),
        "p99_ms": max((c["p99_ms"] for c in mine), default=0.0),
        "deadlocks": deadlocks,
        "errors": dict(errors),
        "contended": next((c for c in cells if c["kind"] == "origin_contended"), None),
    }


def by_clients(cells: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per client count, each column's succeeded calls/s over all table counts, its worst p50 / p99 and its ratio to
    the baseline (what the plot shows)."""
    out: dict[str, dict[str, Any]] = {}
    for n in sorted({c["clients"] for c in cells if c["kind"] == "baseline"}):
        row: dict[str, Any] = {}
        base = _rate([c for c in cells if c["kind"] == "baseline" and c["clients"] == n])
        for kind in COLUMNS:
            mine = [c for c in cells if c["kind"] == kind and c["clients"] == n]
            if not mine:
                continue
            rate = _rate(mine)
            row[kind] = {"per_s": round(rate, 1), "ratio": round(rate / base, 3) if base else 0.0,
                         "p50_ms": max(c["p50_ms"] for c in mine), "p99_ms": max(c["p99_ms"] for c in mine),
                         "errors": dict(sum((Counter(c["errors"]) for c in mine), Counter()))}
        out[str(n)] = row
    return out


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.allocator", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer restaurants and operations (a few minutes)")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run (2 restaurants, 1 and 2 clients, 8 operations a cell) that only proves the "
                        "tool works; its figures mean nothing")
    parser.add_argument("--dsn", help="server to create the throwaway databases on (default: embedded cluster)")
    parser.add_argument("--ops", type=int, help="operations per cell (default: 240 quick, 2400 full)")
    parser.add_argument("--no-origin", action="store_true", help="leave out the origin's column")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="directory for the JSON report and the PNG plot (default: bench/results)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--processes", action="store_true",
                        help="run each measured client as a process instead of a thread (the contended case and the "
                        "origin's column stay threads)")
    args = parser.parse_args(argv)
    size: dict[str, Any] = dict(SMOKE if args.smoke else QUICK if args.quick else FULL)
    if args.ops:
        size["ops"] = args.ops
    server = db.resolve_dsn(args.dsn)
    name = f"tablemend_bench_alloc_{os.getpid()}"
    origin_name = f"tablemend_bench_origin_{os.getpid()}"
    databases.ensure(server, name, reset=True)
    if not args.no_origin:
        databases.ensure(server, origin_name, reset=True)
    try:
        started = time.perf_counter()
        report = run(databases.dsn_for(server, name),
                     origin_dsn=None if args.no_origin else databases.dsn_for(server, origin_name),
                     restaurants=size["restaurants"], ops=size["ops"], contended_ops=size["contended_ops"],
                     clients=size.get("clients", CLIENTS), sizes=size.get("sizes", SIZES),
                     processes=args.processes, log=_log)
        report["mode"] = "smoke" if args.smoke else "quick" if args.quick else "full"
        report["quick"] = bool(args.quick)
        report["total_s"] = round(time.perf_counter() - started, 1)
        report["machine"] = results.machine()
    finally:
        if not args.keep:
            databases.drop(server, name)
            if not args.no_origin:
                databases.drop(server, origin_name)
    _log(f"server {report['server_version']}: ratio {report['ratio']} at {report['clients']} clients "
         f"({report['assign_per_s']}/s vs {report['baseline_per_s']}/s), p50 {report['p50_ms']} ms, "
         f"p99 {report['p99_ms']} ms, deadlocks {report['deadlocks']}, errors {report['errors'] or 0}")
    if "origin" in report:
        o = report["origin"]
        _log(f"origin's assign_tables_atomic_v2: ratio {o['ratio']} at {report['clients']} clients ({o['per_s']}/s), "
             f"p50 {o['p50_ms']} ms, p99 {o['p99_ms']} ms, deadlocks {o['deadlocks']}, errors {o['errors'] or 0}")
    w = report["workaround"]
    _log(f"GiST rescan workaround (server {w['server']}): assign {w['on_per_s']}/s with enable_indexscan = off, "
         f"{w['off_per_s']}/s without: off/on {w['off_vs_on']}")
    _log(results.table(report["by_clients"]))
    written = results.write(args.out, "allocator", report)
    report["files"] = [str(p) for p in written]
    _log("wrote " + ", ".join(report["files"]))
    print(json.dumps({k: v for k, v in report.items() if k != "cells"} | {"cells": report["cells"]}))
    return 0 if report["deadlocks"] == 0 and not report["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
