"""The auto-assign CLI (quote, hold best, repack propose / apply): the installed ``tablemend`` in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from tablemend import db
from tests.acceptance.cli import error_lines, result_of, run
from tests.integration import tmdata as d

WINDOW = ("--start", "2030-06-01T19:00Z", "--end", "2030-06-01T21:00Z")


def test_quote_hold_best_and_a_repack_round_trip(tm_dsn: str, tmp_path: Path) -> None:
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn, tables=4, capacity=2)
        d.table(conn, f.restaurant_id, f.zone_id, "T5", capacity=2)
        x = d.booking(conn, f.restaurant_id, d.at(19), d.at(21), party_size=2)
        d.assign(conn, x, [f.by_number["T2"]])
    rid = str(f.restaurant_id)
    done = run("quote", rid, "--party", "2", *WINDOW, "--limit", "2", "--dsn", tm_dsn, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert [c["table_numbers"] for c in result_of(done.stdout)] == [["T1"], ["T3"]]
    refused = run("quote", rid, "--party", "8", *WINDOW, "--dsn", tm_dsn)
    assert refused.returncode == 3 and refused.stdout == ""
    assert error_lines(refused.stderr)[0].startswith("error [TAC21]:")
    plan = tmp_path / "plan.json"
    proposed = run("repack", "propose", rid, "--party", "8", *WINDOW, "--out", str(plan), "--dsn", tm_dsn)
    assert proposed.returncode == 0, proposed.stderr
    assert [m["to_numbers"] for m in json.loads(plan.read_text())["moves"]] == [["T5"]]
    applied = run("repack", "apply", str(plan), "--dsn", tm_dsn, "--format", "json")
    assert applied.returncode == 0, applied.stderr
    assert result_of(applied.stdout)["moved_bookings"] == 1
    stale = run("repack", "apply", str(plan), "--dsn", tm_dsn)
    assert stale.returncode == 3 and error_lines(stale.stderr)[0].startswith("error [TAC23]:")
    # the freed T1..T4 are held for the party now, T5 is x's: nothing is left over the window; later, T1 is best
    taken = run("hold", "best", rid, "--party", "2", *WINDOW, "--dsn", tm_dsn)
    assert taken.returncode == 3 and error_lines(taken.stderr)[0].startswith("error [TAC21]:")
    held = run("hold", "best", rid, "--party", "2", "--start", "2030-06-01T22:00Z", "--end", "2030-06-01T23:00Z",
               "--dsn", tm_dsn, "--format", "json")
    assert held.returncode == 0, held.stderr
    assert result_of(held.stdout)["table_numbers"] == ["T1"]


def test_bad_plan_file_is_a_usage_error(tm_dsn: str, tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{not json", encoding="utf-8")
    done = run("repack", "apply", str(bad), "--dsn", tm_dsn)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error_lines(done.stderr)[0].startswith("error [TMU01]:")
