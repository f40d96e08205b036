"""HTTP benchmark: ``python -m bench.http [--dsn SERVER_DSN] [--ops N] [--clients N] [--keep]``.

The same assign calls, in the same run, on a throwaway database with sample data: once through the Python API
(:meth:`tablemend.Allocator.assign`, threads sharing one pool) and once as ``POST /rest/v1/rpc/assign_tables_atomic_v2``
to a real ``tablemend serve`` subprocess (threads, one keep-alive HTTP client each, an all-restaurants key). Each
operation re-assigns a seated booking its own tables (a full assign: locks, checks, the set replaced); clients get
disjoint bookings, so nobody waits on anybody's rows.

What HTTP adds per call: the request and JSON, the key lookup, the booking's restaurant lookup, and the call in a
scoped transaction (``set_config`` of the tenant, and ``SET LOCAL ROLE`` where the service role exists). The last
line is JSON: ``{"bench": "http", "ratio": http / python requests per second, ...}``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from bench.allocator import ClientRun, percentile, run_clients
from tablemend import Allocator, databases, db, sample
from tablemend.errors import TablemendError


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def served(dsn: str, pool: int) -> Iterator[tuple[str, str]]:
    """``tablemend serve`` on a free port; yields its URL and the one-time admin key it printed."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tablemend", "serve", "--dsn", dsn, "--port", str(port),
                             "--pool", str(pool)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        proc.stdout.readline()  # "serving on …"
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url, key
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def _bookings(conn: db.Connection) -> list[tuple[str, list[str]]]:
    rows = conn.execute("""
        SELECT a.booking_id, array_agg(a.table_id ORDER BY a.table_id) AS tables
        FROM booking_table_assignments a GROUP BY a.restaurant_id, a.booking_id ORDER BY a.booking_id""").fetchall()
    return [(str(r["booking_id"]), [str(t) for t in r["tables"]]) for r in rows]


def _split(items: Sequence[Any], clients: int, ops: int) -> list[list[Any]]:
    """``ops`` operations per client, each client cycling over its own disjoint share of ``items``."""
    shares = [list(items[i::clients]) for i in range(clients)]
    return [[share[n % len(share)] for n in range(ops)] for share in shares]


def _http_ops(url: str, key: str, plans: list[list[tuple[str, list[str]]]]) -> tuple[list[list[Callable[[], object]]],
                                                                                      list[httpx.Client]]:
    clients = [httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) for _ in plans]

    def op(client: httpx.Client, booking: str, tables: list[str]) -> Callable[[], object]:
        def call() -> object:
            r = client.post("/rest/v1/rpc/assign_tables_atomic_v2",
                            json={"p_booking_id": booking, "p_table_ids": tables,
                                  "p_require_adjacency": len(tables) > 1})
            if r.status_code != 200:
                body = r.json()
                raise TablemendError(body["message"], sqlstate=body["code"])
            return r

        return call

    return [[op(c, b, t) for b, t in plan] for c, plan in zip(clients, plans, strict=True)], clients


def _py_ops(alloc: Allocator, plans: list[list[tuple[str, list[str]]]]) -> list[list[Callable[[], object]]]:
    def op(booking: str, tables: list[str]) -> Callable[[], object]:
        return lambda: alloc.assign(booking, tables, require_adjacency=len(tables) > 1)

    return [[op(b, t) for b, t in plan] for plan in plans]


def _cell(kind: str, run: ClientRun) -> dict[str, Any]:
    return {"kind": kind, "ops": run.ops, "per_s": round(run.throughput, 1),
            "p50_ms": round(percentile(run.latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(run.latencies, 99) * 1000, 2), "errors": dict(run.errors)}


def run(dsn: str, *, ops: int, clients: int, restaurants: int = 10,
        log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    with db.connect(dsn, autocommit=True) as conn:
        sample.load(conn, sample.plan(7, restaurants, day=dt.date(2039, 6, 1)))
        bookings = _bookings(conn)
    plans = _split(bookings, clients, ops)
    warm = _split(bookings, clients, 20)
    with Allocator.open(dsn, min_size=clients, max_size=clients) as alloc:
        run_clients(_py_ops(alloc, warm))
        py = run_clients(_py_ops(alloc, plans))
    log(f"python API, {clients} clients: {py.throughput:8.1f}/s p50 {percentile(py.latencies, 50) * 1000:.2f} ms")
    with served(dsn, clients) as (url, key):
        work, http_clients = _http_ops(url, key, warm)
        run_clients(work)
        for c in http_clients:
            c.close()
        work, http_clients = _http_ops(url, key, plans)
        http = run_clients(work)
        for c in http_clients:
            c.close()
    log(f"HTTP,       {clients} clients: {http.throughput:8.1f}/s p50 {percentile(http.latencies, 50) * 1000:.2f} ms")
    ratio = http.throughput / py.throughput if py.throughput else 0.0
    return {"bench": "http", "ratio": round(ratio, 3), "clients": clients, "ops": ops,
            "http_per_s": round(http.throughput, 1), "python_per_s": round(py.throughput, 1),
            "cells": [_cell("python", py), _cell("http", http)]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dsn", help="server to create the throwaway database on (default: embedded cluster)")
    parser.add_argument("--ops", type=int, default=500, help="assign calls per client and path (default 500)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    server = db.resolve_dsn(args.dsn)
    name = f"tablemend_bench_http_{os.getpid()}"
    databases.ensure(server, name, reset=True)
    try:
        report = run(databases.dsn_for(server, name), ops=args.ops, clients=args.clients,
                     log=lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        if not args.keep:
            databases.drop(server, name)
    print(json.dumps(report))
    errors = [c["errors"] for c in report["cells"] if c["errors"]]
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
