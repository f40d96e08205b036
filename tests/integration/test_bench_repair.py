"""The repair benchmark's round trip at a tiny size: plan, repair, undo and the plain statements run, report the
fields the benchmark prints, and leave the drift as it was (speed is not asserted here)."""

from __future__ import annotations

from collections import Counter

import pytest
from bench import origin_data
from bench.repair import plain, round_trip, row_counts

from tablemend import db
from tablemend.doctor import context, repair, scan, undo


def test_round_trip_reports_and_restores(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        origin_data.generate(conn, 2_000)
        before = Counter(f.id for f in scan(conn))
    result = round_trip(origin_dsn, "test")
    for field in ("plan_s", "plan_peak_rss_kib", "repair_s", "repair_detect_s", "undo_s", "plain_s", "ratio",
                  "estimate_s", "hold_member_delete_s", "scan_s", "library_repair_s"):
        assert result[field] is not None, field
    assert result["findings"] > sum(origin_data.expected_findings(2_000).values()) // 2
    assert result["changes"] >= result["findings"] > 0
    with db.connect(origin_dsn, autocommit=True) as conn:
        assert Counter(f.id for f in scan(conn)) == before


def test_the_plain_baseline_must_leave_the_rows_the_repair_left(origin_conn: db.Connection) -> None:
    origin_data.generate(origin_conn, 2_000)
    result = repair(origin_conn, context(origin_conn))
    assert result.repair_id is not None
    repaired = row_counts(origin_conn)
    undo(origin_conn, result.repair_id)
    applied = result.plan.selection.apply
    assert plain(origin_conn, applied, expected=repaired) >= 0
    fewer = [f for f in applied if f.code != "TMD001"]  # a baseline that skips some of the work is refused
    with pytest.raises(RuntimeError, match="plain statements left"):
        plain(origin_conn, fewer, expected=repaired)
