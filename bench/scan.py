"""Doctor scan benchmark: ``python -m bench.scan [--quick] [--dsn SERVER_DSN] [--sizes 10000,100000] [--keep]``.

For each size it builds a throwaway origin database (``bench/origin_data.py``: deterministic bookings with a known
share of drift), then times, in the same process and on the same warm cache:

* ``seq_read``: one sequential read of every table the checks read (each row's whole-row datum; the baseline);
* ``seq_count``: ``count(*)`` over the same tables with index scans off (the cheapest full pass, for reference);
* ``scan``: ``tablemend.doctor.scan`` over the whole database, findings consumed and counted, with per-check times.

Memory: ``ru_maxrss_delta_kib`` is the growth of the process's peak RSS during the timed scan (0 when it stayed
under an earlier peak); ``tracemalloc_peak_kib`` is the peak of Python allocations during a second, traced scan.
The last line is JSON: ``{"bench": "scan", "ratio": scan / seq_read at the largest size, ...}``.
Without ``--dsn`` the embedded cluster is used. The database ``tablemend_bench_scan_<pid>`` is dropped afterwards
unless ``--keep`` (its name is printed); ``--reuse NAME`` measures such a kept database again without generating
(the size is read from it): at 1M bookings the load takes minutes, the measurement under one. While generating,
the step in progress is drawn on stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench import origin_data
from tablemend import databases, db, sandbox
from tablemend.doctor import scan
from tablemend.doctor.rules import Check
from tablemend.doctor.scanner import SHARED_PASS
from tablemend.errors import TablemendError

#: per process, so two benchmark runs on one server never drop each other's database
DB_NAME = f"tablemend_bench_scan_{os.getpid()}"
QUICK_SIZES = (10_000, 100_000)
FULL_SIZES = (10_000, 100_000, 1_000_000)


def _timed(conn: db.Connection, name: str) -> float:
    start = time.perf_counter()
    with db.translated():
        conn.execute(origin_data.query(name)).fetchone()
    return time.perf_counter() - start


def _scan_once(conn: db.Connection) -> tuple[float, Counter[str], dict[str, float]]:
    """One full scan: wall time, findings by code, seconds per check (from its start to the next one's; the checks of
    the shared pass together as ``shared_pass``)."""
    per_check: dict[str, float] = {}
    current: list[Any] = [None, 0.0]

    def on_check(check: Check) -> None:
        # the checks of the shared pass are announced together before it runs: their time is the pass's
        name = "shared_pass" if check.code in SHARED_PASS else check.code
        if name == current[0]:
            return
        now = time.perf_counter()
        if current[0] is not None:
            per_check[current[0]] = now - current[1]
        current[0], current[1] = name, now

    start = time.perf_counter()
    counts = Counter(f.code for f in scan(conn, on_check=on_check))
    end = time.perf_counter()
    if current[0] is not None:
        per_check[current[0]] = end - current[1]
    return end - start, counts, per_check


def measure(conn: db.Connection) -> dict[str, Any]:
    """Time the baselines and the scan on the connected (generated) database; autocommit connection."""
    _timed(conn, "seq_read")  # warm the cache for every contender alike
    seq_read = min(_timed(conn, "seq_read") for _ in range(2))
    with db.translated():
        conn.execute(origin_data.query("seq_scans_only")).fetchone()
    seq_count = min(_timed(conn, "seq_count") for _ in range(2))
    with db.translated():
        conn.execute(origin_data.query("any_scans")).fetchone()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scan_s, counts, per_check = _scan_once(conn)
    rss_delta = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before

    tracemalloc.start()
    _scan_once(conn)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    slowest = max(per_check.items(), key=lambda kv: kv[1]) if per_check else ("", 0.0)
    return {
        "seq_read_s": round(seq_read, 4),
        "seq_count_s": round(seq_count, 4),
        "scan_s": round(scan_s, 4),
        "ratio": round(scan_s / seq_read, 2) if seq_read else None,
        "ratio_vs_count": round(scan_s / seq_count, 2) if seq_count else None,
        "ru_maxrss_delta_kib": rss_delta,
        "tracemalloc_peak_kib": traced_peak // 1024,
        # the data's findings; TMD022 (the server has the GiST rescan bug) is reported apart
        "findings": dict(sorted((code, n) for code, n in counts.items() if code != "TMD022")),
        "server_findings": {code: n for code, n in counts.items() if code == "TMD022"},
        "per_check_s": {code: round(s, 4) for code, s in sorted(per_check.items())},
        "slowest_check": slowest[0],
        # two cores shared with other work: the 1-minute load average at the end of the measurement, for reading it
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def run_size(conn: db.Connection, n: int, *, reuse: bool = False) -> dict[str, Any]:
    """Generate ``n`` bookings into the connected empty origin database (with ``reuse``: it holds them already),
    measure, and check the drift is found."""
    start = time.perf_counter()
    if reuse:
        with db.translated():
            rows = {str(r["name"]): int(r["rows"]) for r in conn.execute(origin_data.query("table_rows")).fetchall()}
    else:
        rows = origin_data.generate(conn, n, _step_progress(n) if sys.stderr.isatty() else None)
    generate_s = 0.0 if reuse else time.perf_counter() - start
    result = measure(conn)
    expected = origin_data.expected_findings(n)
    return {"bookings": n, "generate_s": round(generate_s, 2), "rows": rows, **result,
            "expected_findings": expected, "drift_found": result["findings"] == expected}


def _fresh_database(server_dsn: str) -> str:
    databases.ensure(server_dsn, DB_NAME, reset=True)
    dsn = databases.dsn_for(server_dsn, DB_NAME)
    with db.connect(dsn, autocommit=True) as conn:
        sandbox.build_origin(conn)
    return dsn


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _step_progress(n: int) -> origin_data.StepFn:
    """Draw the generator's step on one terminal line (overwritten; cleared when the load is done)."""
    start = time.perf_counter()

    def step(name: str, done: int, total: int) -> None:
        line = f"generating {n:,} bookings: {name} ({done + 1}/{total}), {time.perf_counter() - start:.0f}s"
        print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
        if done + 1 == total:  # the last step (vacuum) ends the line: the size's result follows on the next one
            print(file=sys.stderr, flush=True)

    return step


def _reused_size(server_dsn: str, name: str) -> tuple[str, int]:
    """A kept benchmark database and its size (bookings)."""
    dsn = databases.dsn_for(server_dsn, name)
    with db.connect(dsn, autocommit=True) as conn, db.translated():
        rows = {str(r["name"]): int(r["rows"]) for r in conn.execute(origin_data.query("table_rows")).fetchall()}
    return dsn, rows["bookings"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scan", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at 100k bookings (under a minute)")
    parser.add_argument("--dsn", help="server to create the throwaway database on (default: embedded cluster)")
    parser.add_argument("--sizes", help="comma-separated booking counts (overrides --quick)")
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DB_NAME} of the last size")
    parser.add_argument("--reuse", metavar="NAME",
                        help="measure a database kept by an earlier --keep run (no generation; size read from it)")
    args = parser.parse_args(argv)
    if args.reuse and (args.sizes or args.quick or args.keep):
        parser.error("--reuse measures the kept database as it is: no --sizes, --quick or --keep")
    sizes = (tuple(int(s) for s in args.sizes.split(",")) if args.sizes
             else QUICK_SIZES if args.quick else FULL_SIZES)
    server = db.resolve_dsn(args.dsn)
    with db.connect(server, autocommit=True) as conn, db.translated():
        row = conn.execute(origin_data.query("server_version")).fetchone()
    version = row["v"] if row else "?"
    results: list[dict[str, Any]] = []
    try:
        for n in sizes if not args.reuse else (0,):
            if args.reuse:
                dsn, n = _reused_size(server, args.reuse)
            else:
                dsn = _fresh_database(server)
            with db.connect(dsn, autocommit=True) as conn:
                result = run_size(conn, n, reuse=bool(args.reuse))
            results.append(result)
            _log(f"{n:>9} bookings: generate {result['generate_s']:.1f}s  seq_read {result['seq_read_s']:.3f}s  "
                 f"seq_count {result['seq_count_s']:.3f}s  scan {result['scan_s']:.3f}s  "
                 f"ratio {result['ratio']}  slowest {result['slowest_check']} "
                 f"{result['per_check_s'].get(result['slowest_check'], 0):.3f}s  "
                 f"rss+{result['ru_maxrss_delta_kib']}KiB traced {result['tracemalloc_peak_kib']}KiB  "
                 f"load {result['load_avg_1m']}  "
                 f"drift found: {result['drift_found']}")
    finally:
        if args.keep:
            _log(f"kept {DB_NAME}: measure it again with --reuse {DB_NAME}")
        elif not args.reuse:
            databases.drop(server, DB_NAME)
    last = results[-1]
    print(json.dumps({"bench": "scan", "ratio": last["ratio"], "ratio_vs_count": last["ratio_vs_count"],
                      "bookings": last["bookings"], "scan_s": last["scan_s"], "seq_read_s": last["seq_read_s"],
                      "slowest_check": last["slowest_check"], "server_version": version,
                      "drift_found": all(r["drift_found"] for r in results), "sizes": results}))
    return 0 if all(r["drift_found"] for r in results) else 1


def _cli() -> int:
    try:
        return main()
    except TablemendError as exc:
        _log(f"error [{exc.sqlstate}]: {exc.message}")
        return 2


if __name__ == "__main__":
    raise SystemExit(_cli())
