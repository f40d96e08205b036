"""``python -m bench.breakdown`` at a tiny size on an embedded cluster of its own (pg_stat_statements and auto_explain
preloaded by the tool itself): it finds the allocator's nested statements, functions and triggers, and the baseline's
single insert (speed is not asserted here)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from bench.breakdown import main, per_call
from bench.clients import ClientRun

from tablemend.embedded import EmbeddedCluster


def test_per_call_divides_by_the_calls_and_splits_top_level_from_nested() -> None:
    run = ClientRun(seconds=1.0, latencies=[0.002] * 4, errors=Counter(), cpu=0.5, server_cpu=0.004)
    statements = [
        {"toplevel": True, "calls": 4, "plans": 4, "exec_ms": 4.0, "plan_ms": 0.4, "rows": 8, "wal_bytes": 400,
         "query": "SELECT f()"},
        {"toplevel": False, "calls": 8, "plans": 0, "exec_ms": 2.0, "plan_ms": 0.0, "rows": 8, "wal_bytes": 300,
         "query": "INSERT x"},
        {"toplevel": False, "calls": 4, "plans": 4, "exec_ms": 0.4, "plan_ms": 0.2, "rows": 4, "wal_bytes": 0,
         "query": "SELECT y"},
    ]
    functions = [{"name": "f", "calls": 4, "total_ms": 3.6, "self_ms": 2.0, "is_trigger": False},
                 {"name": "t", "calls": 4, "total_ms": 0.8, "self_ms": 0.8, "is_trigger": True}]
    got = per_call(run, statements, functions)
    assert got["server_exec_ms"] == 1.0 and got["server_plan_ms"] == 0.15 and got["nested_plan_ms"] == 0.05
    assert got["statements_per_call"] == 3.0 and got["distinct_statements"] == 2
    assert got["replanned_statements"] == 1  # "SELECT y" is planned on every execution
    assert got["client_latency_ms"] == 2.0 and got["outside_statements_ms"] == 0.9  # 2.0 - (4.0 + 0.4) / 4
    assert got["server_cpu_ms"] == 1.0 and got["trigger_self_ms"] == 0.2 and got["function_self_ms"] == 0.7
    assert got["wal_bytes"] == 100.0  # top-level statements only: nested WAL is part of it


def test_a_tiny_run_reports_the_allocators_statements_functions_and_triggers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "cluster"
    try:
        # 40 calls: enough for the 10 ms session sampler to see them (6 could all finish between two samples)
        assert main(["--calls", "40", "--sizes", "2", "--restaurants", "2", "--explain", "1", "--home", str(home),
                     "--out", str(tmp_path / "out")]) == 0
    finally:
        EmbeddedCluster(home).stop()
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["settings"] == {"track": "all", "track_planning": "on", "track_functions": "all"}
    assign, baseline = report["phases"]["assign_2"], report["phases"]["baseline_2"]
    assert assign["calls"] == 40 and assign["errors"] == {} and baseline["calls"] == 40
    # the assign runs nested statements (track = all sees inside PL/pgSQL), the baseline none
    assert assign["statements_per_call"] >= 10 and baseline["statements_per_call"] == 0
    assert any(s["query"].startswith("INSERT INTO booking_table_assignments") for s in assign["statements"])
    names = {f["name"]: f for f in assign["functions"]}
    assert names["assign_tables_atomic_v2"]["per_call"] == 1.0
    assert any(f["trigger"] for f in assign["functions"])  # trigger functions are flagged
    assert {t["trigger"] for t in report["triggers"]} >= {"booking_assignment_idempotency_check"}
    assert set(report["verdict"]) == {"2"} and report["verdict"]["2"]["assign_server_ms"] > 0
    assert "Trigger" in Path(report["explain_log"]).read_text()  # auto_explain with trigger times
    # WAL by record type (pg_walinspect): the assign writes assignment rows and index entries
    assert {"Heap/INSERT", "Btree/INSERT_LEAF", "Transaction/COMMIT"} <= {w["record"] for w in assign["wal_records"]}
    assert sum(assign["session_states"].values()) == pytest.approx(1.0, abs=0.01)  # sampled session states
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".json", ".log"]
