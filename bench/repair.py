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
* ``library_repair``: what the CLI's repair does after its process has started (connect, scope, the GiST server
  probe, the occupancy-index pre-check, ``tablemend.doctor.repair``), once more in this process (the same changes,
  checked), timed by the phase each progress label starts (``phases``: detect, tmd023, lock, snapshot_before,
  statements, snapshot_after_and_diff, estimate, journal, commit, …; ``phase_labels``: per label, e.g. per check);
  ``repair_detect_s`` is detection, ``repair_apply_s`` the rest, ``process_s`` the CLI child's wall time minus the
  library's (interpreter start, imports, output, and whatever the load did between the two runs); undone;
* ``plan_matches_repair``: the row changes ``plan`` listed (relation, kind, primary key, counted) are exactly those
  the CLI's repair journalled, or the benchmark stops (issue 12);
* ``scan``: one read-only ``tablemend.doctor.scan`` of the database, first (what the repair's detection costs at
  least; and the cache is as warm for the plan, the first write, as for everything after it);
* ``plan``: ``tablemend doctor plan --format json > FILE`` in a child process: wall time and peak RSS;
* ``hold_member_delete_s``: one expired hold's ``DELETE FROM table_hold_members`` (rolled back).

Progress goes to stderr, then a table per size and one of where the repair's time goes; the last line on stdout is
JSON: ``{"bench": "repair", "ratio": repair / plain with the indexes at the largest size, ...}``. Without ``--dsn``
the embedded cluster is used. The database ``tablemend_bench_repair_<n>`` is dropped afterwards unless ``--keep``
(then a later run reuses it).
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
from tablemend import databases, db, integrity, sandbox, sqlfiles
from tablemend.doctor import context, costs, indexes, profile, reindex, repairs, scan
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


class PhaseClock:
    """Progress callback that adds up the time spent under each phase label the repair reports (a phase lasts until
    the next label), so the repair's time splits into detection per check, locks, snapshots, statements per check,
    the diff, the journal and the commit."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.current: tuple[str, float] | None = None

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        label = _label(phase)
        now = time.perf_counter()
        if self.current is not None and self.current[0] == label:
            return
        self._close(now)
        self.current = (label, now)

    def _close(self, now: float) -> None:
        if self.current is not None:
            self.spent[self.current[0]] = self.spent.get(self.current[0], 0.0) + now - self.current[1]
            self.current = None

    def done(self) -> dict[str, float]:
        self._close(time.perf_counter())
        return self.spent


def _label(phase: str) -> str:
    """A phase label without its figures ("estimated 12s for 300 finding(s)" is "estimating")."""
    if phase.startswith("estimated"):
        return "estimating"
    return phase


#: how the phase labels add up in the breakdown (the first prefix that matches)
PHASE_GROUPS = (("connecting", "connecting"), ("reading the scope", "reading the scope"), ("finding", "detect"),
                ("checking the server", "server_check"),
                ("checking occupancy indexes", "tmd023"), ("reading the profile", "profile"),
                ("locking", "lock"), ("snapshotting", "snapshot_before"), ("repairing", "statements"),
                ("recording changes", "snapshot_after_and_diff"), ("estimating", "estimate"),
                ("journalling", "journal"), ("committing", "commit"))


def group_phases(spent: dict[str, float]) -> dict[str, float]:
    groups: dict[str, float] = {}
    for label, seconds in spent.items():
        name = next((g for prefix, g in PHASE_GROUPS if label.startswith(prefix)), "other")
        groups[name] = groups.get(name, 0.0) + seconds
    return groups


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


def plan_child(dsn: str, out: str | None = None) -> tuple[float, int]:
    """``tablemend doctor plan --format json`` in a child process (stdout to ``out``, else discarded): wall seconds
    and peak RSS (KiB)."""
    elapsed, rss, text = _child("doctor", "plan", "--dsn", dsn, "--format", "json", keep_stdout=out is not None)
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
    return elapsed, rss


Change = tuple[str, str, str]  # relation, op, primary key as canonical JSON


def _change(relation: str, op: str, pk: Any) -> Change:
    return relation, op, json.dumps(pk, sort_keys=True, default=str)


def planned_changes(path: str) -> list[Change]:
    """The row changes a ``plan --format json`` document lists, read a line at a time (one change per line)."""
    found: list[Change] = []
    with open(path, encoding="utf-8") as f:
        in_changes = False
        for line in f:
            text = line.strip()
            if not in_changes:
                in_changes = text.startswith('"changes": [')
                continue
            if text.startswith("{"):
                c = json.loads(text.rstrip(","))
                found.append(_change(c["relation"], c["op"], c["pk"]))
    return found


def journalled_changes(conn: db.Connection, repair_id: uuid.UUID) -> list[Change]:
    """The row changes the journal recorded for one repair."""
    with db.translated():
        rows = conn.execute(_query("journalled"), {"id": repair_id}).fetchall()
    return [_change(r["relation"], r["op"], r["pk"]) for r in rows]


def compare_plan(planned: Sequence[Change], journalled: Sequence[Change]) -> None:
    """The plan must list exactly the row changes the repair journals (same tables, keys and kinds, counted)."""
    if sorted(planned) == sorted(journalled):
        return
    from collections import Counter

    extra, missing = Counter(planned) - Counter(journalled), Counter(journalled) - Counter(planned)

    def summary(c: Counter[Change]) -> str:
        kinds = Counter((rel, op) for (rel, op, _), n in c.items() for _ in range(n))
        return ", ".join(f"{n} {op} {rel}" for (rel, op), n in sorted(kinds.items())) + \
            f" (e.g. {next(iter(c))})"

    raise RuntimeError("the plan differs from what the repair journalled: planned only "
                       f"{summary(extra) if extra else '-'}; journalled only {summary(missing) if missing else '-'}")


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


def library_repair(dsn: str) -> tuple[repairs.RepairResult, dict[str, float], float]:
    """What ``doctor repair --all-safe --yes`` does once its process has started, run here with every step timed:
    connect, scope, the damaged-index pre-check, then the repair with a :class:`PhaseClock` as its progress. Returns
    the result, seconds by phase label and the total."""
    clock = PhaseClock()
    start = time.perf_counter()
    clock("connecting", 0, None)
    with db.connect(dsn, autocommit=True) as conn:
        clock("reading the scope", 0, None)
        ctx = context(conn)
        clock("checking the server (GiST rescan probe)", 0, None)
        integrity.server_check(conn, refresh=True)  # a new process probes (an origin database has no cached verdict)
        clock("checking occupancy indexes (TMD023, before the transaction)", 0, None)
        actions = reindex.rebuild_selected(conn, ctx, profile=None, all_safe=True, include=())
        result = repairs.repair(conn, ctx, collect=False, progress=clock,  # default options, as the CLI's
                                indexes_checked=reindex.sound(actions, all_safe=True))
    spent = clock.done()
    return result, spent, time.perf_counter() - start


def round_trip(dsn: str, label: str) -> dict[str, Any]:
    """plan, repair (the CLI, then the library for its phases), undo, plain, scan on the database as it is (each
    repair is undone: the database is back where it was). Refuses a plan that lists other row changes than the
    repair journals."""
    out: dict[str, Any] = {}
    with db.connect(dsn, autocommit=True) as conn, tempfile.TemporaryDirectory() as tmp:
        # first a read-only scan: timed, and every measurement after it starts from the same warm cache
        start = time.perf_counter()
        out["scan_findings"] = sum(1 for _ in scan(conn))
        out["scan_s"] = time.perf_counter() - start
        out["hold_member_delete_s"] = hold_member_delete(conn)
        _log(f"  [{label}] scan {out['scan_s']:.1f}s; one hold-member delete: {out['hold_member_delete_s']}s; "
             "planning …")
        plan_json = os.path.join(tmp, "plan.json")
        out["plan_s"], out["plan_peak_rss_kib"] = plan_child(dsn, plan_json)
        planned = planned_changes(plan_json)
        os.unlink(plan_json)
        _log(f"  [{label}] plan {out['plan_s']:.1f}s, peak RSS {out['plan_peak_rss_kib'] // 1024} MiB, "
             f"{len(planned)} changes; repair --all-safe --yes …")
        before = row_counts(conn)
        out["repair_s"], done = repair_child(dsn)
        out["findings"], out["changes"] = len(done["findings"]), done["changes"]
        repaired = row_counts(conn)
        compare_plan(planned, journalled_changes(conn, uuid.UUID(done["repair_id"])))
        out["plan_matches_repair"] = True
        _log(f"  [{label}] repair {out['repair_s']:.1f}s ({out['findings']} findings, {out['changes']} changes, "
             "the plan's exactly); undo …")
        out["undo_s"] = _undo(conn, uuid.UUID(done["repair_id"]), before)
        _log(f"  [{label}] undo {out['undo_s']:.1f}s (rows restored); the library's repair, for its phases …")
        result, spent, out["library_repair_s"] = library_repair(dsn)
        out["phases"] = group_phases(spent)
        out["phase_labels"] = spent
        out["repair_detect_s"] = out["phases"].get("detect", 0.0)
        out["repair_apply_s"] = out["library_repair_s"] - out["repair_detect_s"]
        out["process_s"] = out["repair_s"] - out["library_repair_s"]  # interpreter, imports, output (approximate)
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
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
        _log(f"  [{label}] plain {out['plain_s']:.1f}s: repair / plain = {out['ratio']} (the library's repair "
             f"spent {out['repair_detect_s']:.1f}s finding, {out['repair_apply_s']:.1f}s on the rest: "
             f"{out['ratio_without_detection']}x plain); load {out['load_average']}")
    rounded: dict[str, Any] = _rounded(out)
    return rounded


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


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
            f"{x['plan_peak_rss_kib'] // 1024:>8} {x['hold_member_delete_s'] or 0:>9.3f} "
            f"{x['load_average'][0]:>5.1f}")


#: the phase table's columns: the CLI child's time not spent in the library, then the groups in order
PHASE_COLUMNS = ("process", "connecting", "reading the scope", "server_check", "tmd023", "profile", "detect", "lock",
                 "snapshot_before", "statements", "snapshot_after_and_diff", "estimate", "journal", "commit",
                 "other")


def _phase_table(results: Sequence[dict[str, Any]]) -> list[str]:
    """Where the repair's time goes, seconds per phase (the library's run; "process" is the CLI child's wall time
    minus the library's: interpreter start, imports, output)."""
    lines = [f"{'bookings':>8} {'indexes':<16} " + " ".join(f"{c[:10]:>10}" for c in PHASE_COLUMNS)]
    for r in results:
        for key in ("without_indexes", "with_indexes"):
            x = r[key]
            if "phases" not in x:
                continue
            values = {**x["phases"], "process": x["process_s"]}
            lines.append(f"{r['bookings']:>8} {key:<16} " + " ".join(f"{values.get(c, 0.0):>10.2f}"
                                                                    for c in PHASE_COLUMNS))
    return lines


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
              f"{'ratio':>6} {'undo_s':>8} {'plan_s':>8} {'plan_MiB':>8} {'hold_del_s':>9} {'load':>5}")
    _log(header)
    for r in results:
        if "repair_s" in r["without_indexes"]:
            _log(_row(r, "without_indexes"))
        else:
            _log(f"{r['bookings']:>8} without_indexes  not run; the doctor estimates the repair at "
                 f"{r['without_indexes']['estimate_s']}s")
        _log(_row(r, "with_indexes"))
    _log("where the repair's time goes (seconds):")
    for line in _phase_table(results):
        _log(line)
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
