"""Re-pack placement, hand-written search against OR-Tools CP-SAT: ``python -m bench.repack_solver [--dsn SERVER]``.

Not run by CI and ``ortools`` is not a dependency (the hand-written search was kept, docs/auto-assign.md §7): install
it first (``pip install ortools``). On a throwaway database it builds the restaurants of ``bench.quote`` (20, 60 and
150 tables, half booked), reads ``repack_state`` for parties of 6 to 20 over the evening, and times
:func:`tablemend.autoassign.propose_repack` (best of 5) with its depth-first placement and with a CP-SAT model of the
same step: one Boolean per (blocker, option), exactly one option per blocker, no two options sharing a table for
blockers whose windows overlap, minimising the sum of the options' ranks. The last line is JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import quote as bq
from tablemend import autoassign, databases, db
from tablemend.errors import PartyTooLarge, RepackNotFound

PARTIES = (6, 8, 10, 12, 14, 16, 18, 20)


def place_cpsat(movers: Sequence[Any], options: Sequence[list[tuple[int, ...]]]) -> list[tuple[int, ...]] | None:
    """The placement step as a CP-SAT model (same contract as ``autoassign._place``)."""
    cp: Any = importlib.import_module("ortools.sat.python.cp_model")
    model = cp.CpModel()
    chosen = [[model.NewBoolVar(f"x{k}_{o}") for o in range(len(opts))] for k, opts in enumerate(options)]
    for row in chosen:
        if not row:
            return None
        model.AddExactlyOne(row)
    for k in range(len(movers)):
        for j in range(k):
            if autoassign._overlaps(movers[k].start, movers[k].end, movers[j].start, movers[j].end):
                for a, option_a in enumerate(options[k]):
                    for b, option_b in enumerate(options[j]):
                        if not set(option_a).isdisjoint(option_b):
                            model.AddBoolOr([chosen[k][a].Not(), chosen[j][b].Not()])
    model.Minimize(sum(rank * var for row in chosen for rank, var in enumerate(row)))
    solver = cp.CpSolver()
    solver.parameters.num_workers = 1
    if solver.Solve(model) not in (cp.OPTIMAL, cp.FEASIBLE):
        return None
    return [options[k][next(o for o, var in enumerate(row) if solver.Value(var))] for k, row in enumerate(chosen)]


def _outcome(state: dict[str, Any]) -> tuple[float, object]:
    best = float("inf")
    outcome: object = None
    for _ in range(5):
        began = time.perf_counter()
        try:
            plan = autoassign.propose_repack(state)
            outcome = (plan.table_ids, tuple((m.booking_id, m.to_table_ids) for m in plan.moves))
        except (RepackNotFound, PartyTooLarge) as exc:
            outcome = exc.sqlstate
        best = min(best, time.perf_counter() - began)
    return best, outcome


def run(dsn: str, *, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    states: list[tuple[int, dict[str, Any]]] = []
    with db.connect(dsn, autocommit=True) as conn:
        from tablemend.migrations import migrate

        migrate(conn)
        for tables in bq.SIZES:
            with conn.transaction():
                rid = bq.build_restaurant(conn, tables, rng)
            for party in PARTIES:
                found = conn.execute("SELECT repack_state(%s, %s, %s, %s) AS s",
                                     (rid, party, bq.START, bq.END)).fetchone()
                assert found is not None
                states.append((tables, found["s"]))
    hand: Callable[..., Any] = autoassign._place
    results: dict[str, list[tuple[int, float, object]]] = {}
    try:
        for label, place in (("hand", hand), ("cpsat", place_cpsat)):
            autoassign._place = place
            results[label] = [(tables, *_outcome(state)) for tables, state in states]
    finally:
        autoassign._place = hand
    sizes = []
    for tables in bq.SIZES:
        row: dict[str, Any] = {"tables": tables}
        for label, rows in results.items():
            times = [t * 1000 for n, t, _ in rows if n == tables]
            row[f"{label}_median_ms"] = round(statistics.median(times), 3)
            row[f"{label}_max_ms"] = round(max(times), 3)
        sizes.append(row)
    same = sum(h[2] == c[2] for h, c in zip(results["hand"], results["cpsat"], strict=True))
    return {"bench": "repack_solver", "states": len(states), "same_plan": same, "sizes": sizes}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.repack_solver", description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to create the throwaway database on (default: embedded cluster)")
    args = parser.parse_args(argv)
    try:
        importlib.import_module("ortools.sat.python.cp_model")
    except ImportError:
        print("ortools is not installed: pip install ortools", file=sys.stderr)
        return 2
    server = db.resolve_dsn(args.dsn)
    name = f"tablemend_bench_repack_{os.getpid()}"
    databases.ensure(server, name, reset=True)
    try:
        report = run(databases.dsn_for(server, name))
    finally:
        databases.drop(server, name)
    for r in report["sizes"]:
        print(f"{r['tables']:>4} tables: hand {r['hand_median_ms']} ms (max {r['hand_max_ms']}), "
              f"CP-SAT {r['cpsat_median_ms']} ms (max {r['cpsat_max_ms']})", file=sys.stderr)
    print(f"same plan in {report['same_plan']} of {report['states']} states", file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
