"""Doctor repair benchmark: ``python -m bench.repair [--dsn SERVER_DSN] [--sizes 100000,500000] [--keep]``.

For each size it builds (or, with ``--keep``, reuses) an origin database with the origin's real triggers and foreign
keys (``sync_table_hold_windows``, ``trg_allocations_refresh`` → ``refresh_table_status``, ``ON DELETE SET NULL`` on
the unindexed ``booking_table_assignments.allocation_id``) and ``bench/origin_data.py``'s ~2 % drift, then times, in
the same process and on the same warm cache, first without and then with the indexes TMD032 recommends:

* ``plain``: the same row changes as plain set-based statements (each check's ``bulk_repair*`` statements keyed by
  the findings the repair applied, in the order it applied them), triggers firing, no detection, no lock, no
  snapshot, no journal; rolled back, after checking that it left the same rows per table as the repair did;
* ``repair``: ``tablemend doctor repair --all-safe --yes --format json`` (default options) in a child process, as
  an operator runs it (the damaged-index pre-check, detect, lock, repair, journal), committed;
* ``undo``: ``tablemend.doctor.undo`` of that repair (checked: the same rows per table as before the repair);
* ``library_repair``: ``tablemend.doctor.repair`` once more (the same changes, checked), timed by phase: detection
  (``repair_detect_s``) and the rest (``repair_apply_s``: locks, before/after images, statements, journal); undone;
* ``scan``: one read-only ``tablemend.doctor.scan`` of the database, first (what the repair's detection costs at
  least; and the cache is as warm for the plan, the first write, as for everything after it);
* ``plan``: ``tablemend doctor plan --format json > /dev/null`` in a child process: wall time and peak RSS;
* ``hold_member_delete_s``: one expired hold's ``DELETE FROM table_hold_members`` (rolled back).

Progress goes to stderr; the last line on stdout is JSON: ``{"bench": "repair", "ratio": repair / plain with the
indexes at the largest size, ...}``. Without ``--dsn`` the embedded cluster is used. The database
``tablemend_bench_repair_<n>`` is dropped afterwards unless ``--keep`` (then a later run reuses it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, LiteralString

from psycopg.types.json import Jsonb

from bench import origin_data
from tablemend import databases, db, sandbox, sqlfiles
from tablemend.doctor import context, costs, indexes, profile, repairs, scan
from tablemend.doctor.rules import Finding, registry
from tablemend.errors import TablemendError

DEFAULT_SIZES = (100_000, 500_000)
_SQL = Path(__file__).with_name("repair.sql")


def _query(name: str) -> LiteralString:
    # shipped with the repository, never built from input
    return sqlfiles.split_named(_SQL.read_text(encoding="utf-8"))[name]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def db_name(n: int) -> str:
    return f"tablemend_bench_repair_{n}"


def _prepare(server: str, n: int, keep: bool) -> str:
    """An origin database with n bookings of drifted data: reused when ``keep`` and it is there, else built."""
    name = db_name(n)
    dsn = databases.dsn_for(server, name)
    if keep and databases.exists(server, name):
        with db.connect(dsn, autocommit=True) as conn, db.translated():
            row = conn.execute(_query("bookings")).fetchone()
        if row and row["n"] == n:
            _log(f"{n:>9} bookings: reusing database {name}")
            return dsn
    databases.ensure(server, name, reset=True)
    with db.connect(dsn, autocommit=True) as conn:
        sandbox.build_origin(conn)
        start = time.perf_counter()
        _log(f"{n:>9} bookings: generating (minutes at 500k) …")
        origin_data.generate(conn, n)
        _log(f"{n:>9} bookings: generated in {time.perf_counter() - start:.0f}s")
    return dsn


def _runs(findings: Sequence[Finding]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The findings' keys by check, in the order the repair applied them (consecutive findings of one check)."""
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    for f in findings:
        if not runs or runs[-1][0] != f.code:
            runs.append((f.code, []))
        runs[-1][1].append(json.loads(json.dumps(dict(f.key), default=str)))
    return runs


def row_counts(conn: db.Connection) -> dict[str, Any]:
    """Rows per origin table (and the columns the updates change, hashed): the state plain and repair leave."""
    with db.translated():
        row = conn.execute(_query("row_counts")).fetchone()
    return dict(row) if row else {}


def plain(conn: db.Connection, findings: Sequence[Finding], expected: dict[str, Any] | None = None) -> float:
    """The repair's row changes as plain set-based statements (each check's ``bulk_repair*`` statements keyed by the
    findings the repair applied, in the order it applied them), triggers firing, then rolled back; seconds. With
    ``expected`` (:func:`row_counts` after the repair), refuses a baseline that did not leave the same rows."""
    checks = registry()
    runs = _runs(findings)
    with db.translated(), conn.transaction(force_rollback=True):
        conn.execute(_query("no_timeout"))
        start = time.perf_counter()
        for code, keys in runs:
            for name, statement in checks[code]().sql().items():
                if name.startswith("bulk_repair"):
                    conn.execute(statement, {"keys": Jsonb(keys)})
        elapsed = time.perf_counter() - start
        if expected is not None and row_counts(conn) != expected:
            raise RuntimeError(f"plain statements left {row_counts(conn)}, the repair {expected}")
    return elapsed


def hold_member_delete(conn: db.Connection) -> float | None:
    """One expired hold's member delete (the origin's trigger deletes its shadow allocation), rolled back."""
    with db.translated():
        row = conn.execute(_query("expired_hold")).fetchone()
    if row is None:
        return None
    start = time.perf_counter()
    with db.translated(), conn.transaction(force_rollback=True):
        conn.execute(_query("delete_hold_members"), {"hold_id": row["hold_id"]})
    return time.perf_counter() - start


class _Phases:
    """Progress callback that adds up the repair's time in detection ("finding …") and in everything else."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.current: tuple[str, float] | None = None

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        kind = "finding" if phase.startswith("finding") else "applying"
        now = time.perf_counter()
        if self.current is not None and self.current[0] != kind:
            self.totals[self.current[0]] = self.totals.get(self.current[0], 0.0) + now - self.current[1]
            self.current = (kind, now)
        elif self.current is None:
            self.current = (kind, now)

    def done(self) -> dict[str, float]:
        if self.current is not None:
            self.totals[self.current[0]] = self.totals.get(self.current[0], 0.0) + time.perf_counter() - self.current[1]
            self.current = None
        return self.totals


def _child(*args: str, keep_stdout: bool = False) -> tuple[float, int, str]:
    """``tablemend ARGS`` in a child process: wall seconds, its peak RSS (KiB) and, with ``keep_stdout``, its stdout."""
    exe = os.path.join(os.path.dirname(sys.executable), "tablemend")
    start = time.perf_counter()
    with (tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err,
          open(os.devnull, "wb") as sink,
          subprocess.Popen([exe, *args], stdout=out if keep_stdout else sink, stderr=err) as child):
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS
        child.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        err.seek(0)
        message = err.read().decode()
        out.seek(0)
        text = out.read().decode()
    if child.returncode != 0:
        raise RuntimeError(f"tablemend {args[0]} {args[1]} failed: {message}")
    return elapsed, usage.ru_maxrss, text


def plan_child(dsn: str) -> tuple[float, int]:
    """``tablemend doctor plan --format json`` in a child process: wall seconds and peak RSS (KiB)."""
    elapsed, rss, _ = _child("doctor", "plan", "--dsn", dsn, "--format", "json")
    return elapsed, rss


def repair_child(dsn: str) -> tuple[float, dict[str, Any]]:
    """``tablemend doctor repair --all-safe --yes --format json`` (default options) in a child process: the time and
    the envelope's ``result``."""
    elapsed, _, text = _child("doctor", "repair", "--all-safe", "--yes", "--dsn", dsn, "--format", "json",
                              keep_stdout=True)
    result: dict[str, Any] = json.loads(text)["result"]
    return elapsed, result


def _undo(conn: db.Connection, repair_id: uuid.UUID, before: dict[str, Any]) -> float:
    start = time.perf_counter()
    repairs.undo(conn, repair_id, timeouts=repairs.Timeouts(statement_timeout="0"))
    elapsed = time.perf_counter() - start
    if row_counts(conn) != before:
        raise RuntimeError(f"undo left {row_counts(conn)}, not {before}")
    return elapsed


def round_trip(dsn: str, label: str) -> dict[str, Any]:
    """plan, repair (the CLI, then the library for its phases), undo, plain, scan on the database as it is (each
    repair is undone: the database is back where it was)."""
    out: dict[str, Any] = {}
    with db.connect(dsn, autocommit=True) as conn:
        # first a read-only scan: timed, and every measurement after it starts from the same warm cache
        start = time.perf_counter()
        out["scan_findings"] = sum(1 for _ in scan(conn))
        out["scan_s"] = time.perf_counter() - start
        out["hold_member_delete_s"] = hold_member_delete(conn)
        _log(f"  [{label}] scan {out['scan_s']:.1f}s; one hold-member delete: {out['hold_member_delete_s']}s; "
             "planning …")
        out["plan_s"], out["plan_peak_rss_kib"] = plan_child(dsn)
        _log(f"  [{label}] plan {out['plan_s']:.1f}s, peak RSS {out['plan_peak_rss_kib'] // 1024} MiB; "
             "repair --all-safe --yes …")
        before = row_counts(conn)
        out["repair_s"], done = repair_child(dsn)
        out["findings"], out["changes"] = len(done["findings"]), done["changes"]
        repaired = row_counts(conn)
        _log(f"  [{label}] repair {out['repair_s']:.1f}s ({out['findings']} findings, {out['changes']} changes); "
             "undo …")
        out["undo_s"] = _undo(conn, uuid.UUID(done["repair_id"]), before)
        _log(f"  [{label}] undo {out['undo_s']:.1f}s (rows restored); the library's repair, for its phases …")
        phases = _Phases()
        start = time.perf_counter()
        result = repairs.repair(conn, context(conn), collect=False, progress=phases)  # default options
        out["library_repair_s"] = time.perf_counter() - start
        out["repair_detect_s"] = phases.done().get("finding", 0.0)
        out["repair_apply_s"] = out["library_repair_s"] - out["repair_detect_s"]
        estimate = result.plan.estimate
        out["estimate_s"] = round(estimate.seconds, 1) if estimate else None
        if row_counts(conn) != repaired or result.plan.count != out["changes"]:
            raise RuntimeError("the library's repair did not make the CLI's changes")
        assert result.repair_id is not None
        _undo(conn, result.repair_id, before)
        _log(f"  [{label}] library repair {out['library_repair_s']:.1f}s; plain statements …")
        out["plain_s"] = plain(conn, result.plan.selection.apply, expected=repaired)
        out["ratio"] = round(out["repair_s"] / out["plain_s"], 2) if out["plain_s"] else None
        out["plan_vs_repair"] = round(out["plan_s"] / out["repair_s"], 2) if out["repair_s"] else None
        out["ratio_without_detection"] = (round(out["repair_apply_s"] / out["plain_s"], 2) if out["plain_s"]
                                          else None)
        _log(f"  [{label}] plain {out['plain_s']:.1f}s: repair / plain = {out['ratio']} (the library's repair "
             f"spent {out['repair_detect_s']:.1f}s finding, {out['repair_apply_s']:.1f}s repairing and "
             f"journalling: {out['ratio_without_detection']}x plain)")
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def run_size(server: str, n: int, keep: bool, *, unindexed: bool = True) -> dict[str, Any]:
    dsn = _prepare(server, n, keep)
    result: dict[str, Any] = {"bookings": n}
    with db.connect(dsn, autocommit=True) as conn:
        result["traps"] = [t.constraint for t in costs.traps(conn)]
        if unindexed:
            result["without_indexes"] = round_trip(dsn, "no index")
        else:  # only what the doctor estimates from the findings
            prof = profile.detect(conn)
            found = repairs.select(scan(conn), all_safe=True).apply
            result["without_indexes"] = {"estimate_s": round(costs.estimate(conn, prof, found).seconds, 1),
                                         "hold_member_delete_s": None}
    with db.connect(dsn, autocommit=True) as conn:
        entry = indexes.create(conn)
    try:
        result["with_indexes"] = round_trip(dsn, "indexes")
    finally:
        if entry is not None:
            with db.connect(dsn, autocommit=True) as conn:
                repairs.undo(conn, entry.journal_id)
    return result


def _row(r: dict[str, Any], key: str) -> str:
    x = r[key]
    return (f"{r['bookings']:>8} {key:<16} {x['findings']:>8} {x['changes']:>8} {x['plain_s']:>8.1f} "
            f"{x['repair_s']:>8.1f} {x['ratio']:>6} {x['undo_s']:>8.1f} {x['plan_s']:>8.1f} "
            f"{x['plan_peak_rss_kib'] // 1024:>8} {x['hold_member_delete_s'] or 0:>9.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.repair", description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to create the databases on (default: embedded cluster)")
    parser.add_argument("--sizes", help="comma-separated booking counts (default 100000,500000)")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the generated databases")
    parser.add_argument("--generate-only", action="store_true", help="build the databases (with --keep) and stop")
    parser.add_argument("--unindexed-up-to", type=int, default=200_000,
                        help="measure without the indexes only up to this size (default 200000: above it a repair "
                        "without them runs for tens of minutes; the doctor's estimate is reported instead)")
    args = parser.parse_args(argv)
    if args.generate_only:
        server = db.resolve_dsn(args.dsn)
        for n in (tuple(int(s) for s in args.sizes.split(",")) if args.sizes else DEFAULT_SIZES):
            _prepare(server, n, keep=True)
        return 0
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else DEFAULT_SIZES
    server = db.resolve_dsn(args.dsn)
    results: list[dict[str, Any]] = []
    for n in sizes:
        try:
            results.append(run_size(server, n, args.keep, unindexed=n <= args.unindexed_up_to))
        finally:
            if not args.keep:
                databases.drop(server, db_name(n))
    header = (f"{'bookings':>8} {'indexes':<16} {'findings':>8} {'changes':>8} {'plain_s':>8} {'repair_s':>8} "
              f"{'ratio':>6} {'undo_s':>8} {'plan_s':>8} {'plan_MiB':>8} {'hold_del_s':>9}")
    _log(header)
    for r in results:
        if "repair_s" in r["without_indexes"]:
            _log(_row(r, "without_indexes"))
        else:
            _log(f"{r['bookings']:>8} without_indexes  not run; the doctor estimates the repair at "
                 f"{r['without_indexes']['estimate_s']}s")
        _log(_row(r, "with_indexes"))
    last = results[-1]
    print(json.dumps({"bench": "repair", "ratio": last["with_indexes"]["ratio"],
                      "ratio_without_indexes": last["without_indexes"].get("ratio"), "bookings": last["bookings"],
                      "plan_peak_rss_kib": max(r[k]["plan_peak_rss_kib"] for r in results
                                               for k in ("with_indexes", "without_indexes")
                                               if "plan_peak_rss_kib" in r[k]),
                      "sizes": results}))
    return 0


def _cli() -> int:
    try:
        return main()
    except TablemendError as exc:
        _log(f"error [{exc.sqlstate}]: {exc.message}")
        return 2


if __name__ == "__main__":
    raise SystemExit(_cli())
