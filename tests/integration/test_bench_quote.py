"""The quote benchmark's core at a tiny size: every field it prints, the naive baseline agreeing with the quote's
enumeration, and no double hold from the concurrent clients (speed is not asserted here)."""

from __future__ import annotations

from bench.quote import run


def test_run_reports_every_field_and_no_double_hold(tm_dsn: str) -> None:
    report = run(tm_dsn, sizes=(12, 20), quotes=7, naive_budget_s=30.0, hold_ops=3, clients=3)
    assert report["bench"] == "quote" and [r["tables"] for r in report["sizes"]] == [12, 20]
    for r in report["sizes"]:
        for field in ("p50_ms", "p99_ms", "roundtrip_p99_ms", "server_ms", "search_space", "grown_per_quote",
                      "quote_combinations_per_s", "naive_combinations_per_s", "python_ms", "speedup_vs_naive"):
            assert field in r, field
        assert r["quotes"] == 7 and sum(r["outcomes"].values()) == 7
        assert r["naive_complete"] and r["naive_agrees"]  # the whole space was searched, same ranked sets
    holds = report["holds"]
    assert holds["ops"] == 9 and sum(holds["outcomes"].values()) == 9
    assert set(holds["outcomes"]) <= {"held", "TAC21"}
    assert holds["double_holds"] == 0 and holds["deadlocks"] == 0
