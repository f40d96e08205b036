"""The allocator benchmark's core at a tiny size: it seats every planned booking, writes the baseline rows, runs the
origin's column on the same floors, and reports the fields the benchmark prints (speed is not asserted here); and
``python -m bench.allocator --smoke`` end to end, so the tool cannot rot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bench.allocator import main, percentile, run

from tablemend import db, integrity


def test_run_reports_every_field_and_seats_every_booking(tm_dsn: str, origin_dsn: str) -> None:
    report = run(tm_dsn, origin_dsn=origin_dsn, restaurants=2, ops=8, contended_ops=16, clients=(1, 2),
                 sizes=(1, 2))
    for field in ("bench", "ratio", "ratio_by_tables", "assign_per_s", "baseline_per_s", "p50_ms", "p99_ms",
                  "deadlocks", "errors", "contended", "client_mode", "server_version", "cells"):
        assert field in report, field
    assert report["bench"] == "allocator" and report["clients"] == 2
    assert report["deadlocks"] == 0 and report["errors"] == {}  # uncontended cells never collide
    assert set(report["ratio_by_tables"]) == {"1", "2"} and report["ratio"] > 0
    cells = {(c["kind"], c["clients"], c["tables"]): c for c in report["cells"]}
    assert set(cells) >= {(k, n, s) for k in ("assign", "baseline") for n in (1, 2) for s in (1, 2)}
    assert all(c["ops"] == 8 for c in report["cells"] if "contended" not in c["kind"])
    assert report["contended"]["ops"] == 16
    # the origin's column: the same cells, its refusals (if any) only the deadlocks of spec §3a
    assert {(c["kind"], c["clients"], c["tables"]) for c in report["cells"] if c["kind"] == "origin"} == {
        ("origin", n, s) for n in (1, 2) for s in (1, 2)}
    origin = report["origin"]
    assert set(origin["errors"]) <= {"40P01"} and origin["contended"]["ops"] == 16
    assert set(report["by_clients"]) == {"1", "2"}
    assert all(set(row) == {"baseline", "assign", "origin"} for row in report["by_clients"].values())
    workaround = report["workaround"]
    assert workaround["on_per_s"] > 0 and workaround["off_per_s"] > 0 and workaround["off_vs_on"] > 0
    assert {(c["kind"], c["tables"]) for c in report["cells"] if c["kind"].startswith("assign_workaround")} == {
        (k, s) for k in ("assign_workaround_on", "assign_workaround_off") for s in (1, 2)}
    with db.connect(tm_dsn, autocommit=True) as conn:
        check = integrity.server_check(conn)  # the server's own setting is back
        assert set(integrity.workaround_state(conn).values()) == {check.workaround}
        # the 4 measured assign cells (8 bookings each, 1- and 2-table), all seated; their windows start in 2040
        rows = conn.execute("SELECT count(*) AS n FROM booking_table_assignments"
                            " WHERE start_at >= '2040-01-01'").fetchone()
        baseline = conn.execute("SELECT count(*) AS n FROM bench_baseline").fetchone()
    assert rows is not None and baseline is not None
    # plus the workaround cells at 2 clients: on, off, off, on, 8 bookings each, 1- and 2-table
    assert rows["n"] == 2 * (8 * 1 + 8 * 2) + 4 * (8 * 1 + 8 * 2)
    # per operation the assign's rows plus its ledger row; the warm-up wrote 40 single-table operations too
    assert baseline["n"] == 40 * 2 + 2 * (8 * 2 + 8 * 3)
    with db.connect(origin_dsn, autocommit=True) as conn:
        seated = conn.execute("SELECT count(*) AS n FROM public.booking_table_assignments"
                              " WHERE start_at >= '2041-06-01'").fetchone()
    assert seated is not None
    # the 4 measured origin cells (8 bookings each, 1- and 2-table), less the calls a deadlock refused
    refused = sum(c["errors"].get("40P01", 0) * c["tables"] for c in report["cells"] if c["kind"] == "origin")
    assert seated["n"] == 2 * (8 * 1 + 8 * 2) - refused


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([], 99) == 0.0


@pytest.mark.usefixtures("run_roles")
def test_smoke_run_writes_its_report_and_plot_and_ends_with_json(server_dsn: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", "--dsn", server_dsn, "--out", str(tmp_path)]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["bench"] == "allocator" and last["mode"] == "smoke" and last["deadlocks"] == 0
    assert set(last["by_clients"]) == {"1", "2"} and "origin" in last and last["machine"]["cpus"] >= 1
    written = sorted(p.suffix for p in tmp_path.iterdir())
    assert written == [".json", ".png"]
    saved = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert saved["ratio"] == last["ratio"] and saved["cells"] == last["cells"]
    with db.connect(server_dsn, autocommit=True) as conn:  # both throwaway databases are gone
        left = conn.execute("SELECT count(*) AS n FROM pg_database WHERE datname LIKE 'tablemend_bench_%%_' || %s",
                            (str(os.getpid()),)).fetchone()
    assert left is not None and left["n"] == 0
