"""The HTTP benchmark's core at a tiny size: both paths run the same calls without errors and the report has its
fields (speed is not asserted here)."""

from __future__ import annotations

from bench.http import run


def test_run_reports_both_paths(tm_dsn: str) -> None:
    report = run(tm_dsn, ops=3, clients=2, restaurants=1)
    assert report["bench"] == "http" and report["clients"] == 2 and report["ratio"] > 0
    kinds = {c["kind"]: c for c in report["cells"]}
    assert set(kinds) == {"python", "http"}
    assert all(c["ops"] == 6 and c["errors"] == {} for c in kinds.values())
