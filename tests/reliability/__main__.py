"""The long form: ``python -m tests.reliability [--clients 16] [--ops 10000] ...``.

Runs, on the test server of tests/conftest.py (``TABLEMEND_TEST_DSN``, or the embedded cluster in
``TABLEMEND_TEST_HOME``), each in a fresh database:

1. the history run: ``--clients`` threads × ``--ops`` calls through one Allocator pool, checked by
   :func:`tests.reliability.history.check`;
2. faults: a second history run with backends terminated inside assign / confirm / move and clients dropping their
   connection mid-transaction; doctor repair and undo terminated at random points (``--repair-trials``); the server
   stopped immediately and restarted ``--crashes`` times (a private embedded cluster);
3. bad input: tests/reliability/test_fuzz.py with ``TABLEMEND_FUZZ_PROFILE=long`` (1,800 examples per test, in a
   pytest subprocess);
4. the origin sandbox's functions under the same checker, for comparison.

Prints the figures as it goes and ends with one JSON line; exits 1 when anything but the origin had an anomaly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tablemend import Allocator, db, sandbox
from tests.conftest import TemplateFactory, _admin_dsn, _build_origin, _build_tablemend
from tests.reliability import faults as f
from tests.reliability import history as h
from tests.reliability import workload as w


def _say(*lines: str) -> None:
    for line in lines:
        print(line, flush=True)


def _history_run(templates: TemplateFactory, args: argparse.Namespace) -> dict[str, Any]:
    with templates.database("tablemend", _build_tablemend) as dsn:
        start = time.monotonic()
        _world, history = w.run_tablemend(dsn, clients=args.clients, ops=args.ops, seed=args.seed,
                                          restaurants=args.restaurants, bookings=24)
        took = time.monotonic() - start
        report = h.check(history.ops)
        broken = f.broken_invariants(dsn)
    _say(f"history: {len(history.ops)} operations in {took:.0f} s ({len(history.ops) / took:.0f}/s)",
         *h.summary(report), f"invariants broken: {broken or 'none'}", f"outcomes: {history.counts()}")
    return {"operations": len(history.ops), "seconds": round(took, 1), "rate": round(len(history.ops) / took),
            "claims": report.claims, "reads_checked": report.reads_checked, "replays_checked": report.replays_checked,
            "anomalies": len(report.anomalies) + len(broken)}


def _fault_run(templates: TemplateFactory, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with templates.database("tablemend", _build_tablemend) as dsn:
        with db.connect(dsn, autocommit=True) as conn:
            world = w.setup_tablemend(conn, restaurants=args.restaurants, bookings=24, seed=args.seed + 1)
        history = h.History()
        killer = f.Killer(dsn, seed=args.seed)
        stop = threading.Event()
        dropped: list[int] = []
        dropper = threading.Thread(target=lambda: dropped.append(w.dropping_client(world, dsn, history, stop, 9)))
        with Allocator.open(dsn, min_size=args.clients, max_size=args.clients, record_conflicts=False) as alloc:
            killer.start()
            dropper.start()
            w.run_threads(lambda i: w.tablemend_client(world, alloc, history, i, args.fault_ops, 7000 + i),
                          args.clients)
            stop.set()
            dropper.join(60)
            kills = killer.finish()
            w.final_reads(world, alloc, history)
        report = h.check(history.ops, faults=True)
        broken = f.broken_invariants(dsn)
    lost = sum(1 for op in history.ops if op.outcome == "info")
    _say(f"faults: {kills} backends terminated inside a call, {dropped[0] if dropped else 0} connections dropped "
         f"mid-transaction, {lost} calls lost their answer", *h.summary(report),
         f"invariants broken: {broken or 'none'}")
    out.update(fault_operations=len(history.ops), backends_terminated=kills,
               connections_dropped=dropped[0] if dropped else 0, anomalies=len(report.anomalies) + len(broken))
    with templates.database("origin", _build_origin) as dsn:
        with db.connect(dsn, autocommit=True) as conn:
            for state in ("D1", "D1b", "leftover-allocation", "orphan-merge-groups", "ledger-replay-empty"):
                sandbox.seed_state(conn, state)
        counts = f.repair_undo_trials(dsn, trials=args.repair_trials, seed=args.seed)
    _say(f"repair/undo terminated at random points: {counts}")
    out.update(counts)
    crash_history, crash_broken = f.crash_run(cycles=args.crashes, clients=4, ops=args.crash_ops, seed=args.seed)
    crash_report = h.check(crash_history.ops, faults=True)
    crash_lost = sum(1 for op in crash_history.ops if op.outcome == "info")
    _say(f"server stopped immediately {args.crashes} times: {len(crash_history.ops)} operations, {crash_lost} lost "
         "their answer", *h.summary(crash_report), f"invariants broken: {crash_broken or 'none'}")
    out.update(crashes=args.crashes, crash_operations=len(crash_history.ops),
               anomalies=out["anomalies"] + len(crash_report.anomalies) + len(crash_broken))
    out["faults"] = (kills + out["connections_dropped"] + counts["repair_killed"] + counts["undo_killed"]
                     + args.crashes)
    return out


def _fuzz_run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("r", suffix=".count") as counted:
        env = {**os.environ, "TABLEMEND_FUZZ_PROFILE": "long", "TABLEMEND_FUZZ_COUNT_FILE": counted.name}
        start = time.monotonic()
        rc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(Path(__file__).with_name("test_fuzz.py"))], env=env).returncode
        text = Path(counted.name).read_text().split()
    inputs, refused = (int(text[0]), int(text[1])) if len(text) == 2 else (0, 0)
    _say(f"fuzz: {inputs} inputs ({refused} refused, all typed, none changed a row) in "
         f"{time.monotonic() - start:.0f} s, pytest exit {rc}")
    return {"inputs": inputs, "refused": refused, "anomalies": 0 if rc == 0 else 1}


def _origin_run(templates: TemplateFactory, args: argparse.Namespace) -> dict[str, Any]:
    with templates.database("origin", _build_origin) as dsn:
        _world, history = w.run_origin(dsn, clients=4, ops=args.origin_ops, seed=args.seed)
    report = h.check(history.ops)
    codes: dict[str, int] = {}
    for a in report.anomalies:
        if a.kind == "untyped":
            codes[a.witness[0].sqlstate or "?"] = codes.get(a.witness[0].sqlstate or "?", 0) + 1
    _say("origin sandbox:", *h.summary(report), f"untyped refusals by SQLSTATE: {codes}")
    return {"operations": len(history.ops), "anomalies": report.by_kind(), "untyped_by_sqlstate": codes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ops", type=int, default=10_000, help="calls per client in the history run")
    parser.add_argument("--restaurants", type=int, default=4)
    parser.add_argument("--fault-ops", type=int, default=600, help="calls per client in the fault run")
    parser.add_argument("--repair-trials", type=int, default=20)
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--crash-ops", type=int, default=600)
    parser.add_argument("--origin-ops", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip", action="append", default=[], choices=["history", "faults", "fuzz", "origin"])
    args = parser.parse_args(argv)
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)  # every injected fault would print a reconnect line
    templates = TemplateFactory(_admin_dsn())
    result: dict[str, Any] = {"clients": args.clients}
    try:
        if "history" not in args.skip:
            result["history"] = _history_run(templates, args)
        if "faults" not in args.skip:
            result["faults"] = _fault_run(templates, args)
        if "fuzz" not in args.skip:
            result["fuzz"] = _fuzz_run(args)
        if "origin" not in args.skip:
            result["origin"] = _origin_run(templates, args)
    finally:
        templates.close()
    ours = sum(result[k]["anomalies"] for k in ("history", "faults", "fuzz") if k in result)
    result["anomalies"] = ours
    print(json.dumps(result), flush=True)
    return 1 if ours else 0


if __name__ == "__main__":
    raise SystemExit(main())
