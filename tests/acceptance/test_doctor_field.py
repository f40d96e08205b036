"""Issue 10's field findings through the installed CLI: ids from a scan usable with --include, a repair that changes
nothing exits non-zero naming what remains, reviewed plan files."""

from __future__ import annotations

import json

from tablemend import db, sandbox
from tests.acceptance.cli import run


def _seed(dsn: str, code: str) -> sandbox.StateCase:
    with db.connect(dsn, autocommit=True) as conn:
        return sandbox.seed_state(conn, code)


def test_scan_id_works_with_repair_booking_include(origin_dsn: str) -> None:
    """Found item 6: P's leftover allocations on terrace tables (outside its request) are named by a whole-database
    scan; those ids are accepted by `repair --booking P --include`, and an unknown id's hint is a working command."""
    case = _seed(origin_dsn, "zone-lock-drift")
    p, tables = str(case.booking_id), ",".join(map(str, case.table_ids))
    scanned = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json")
    ids = [f["id"] for f in json.loads(scanned.stdout) if f["code"] == "TMD002" and f["booking"] == p]
    assert len(ids) == 2, scanned.stdout
    include = [arg for i in ids for arg in ("--include", i)]
    repaired = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, *include, "--yes",
                   "-f", "json")
    assert repaired.returncode == 0, repaired.stderr
    assert set(ids) <= set(json.loads(repaired.stdout)["findings"])
    rescanned = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json")
    assert not set(ids) & {f["id"] for f in json.loads(rescanned.stdout)}

    gone = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--include", ids[0],
               "--yes")
    assert gone.returncode == 2 and f"no current finding with id {ids[0]}" in gone.stderr
    hint = next(line for line in gone.stderr.splitlines() if "hint:" in line)
    command = hint.split("`")[1].split()
    assert command[:3] == ["tablemend", "doctor", "scan"]
    assert run(*command[1:], "--dsn", origin_dsn).returncode in (0, 1), "the hinted command runs"


def test_repair_that_changes_nothing_exits_non_zero(origin_dsn: str) -> None:
    """Found item 7: every finding is 'confirm' (B's live row without an allocation): nothing is applied, exit 1,
    and the remaining finding is named (JSON: an error object on stdout)."""
    case = _seed(origin_dsn, "D1c")
    p, tables = str(case.booking_id), ",".join(map(str, case.table_ids))
    scanned = run("doctor", "scan", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "-f", "json")
    remaining = [f["id"] for f in json.loads(scanned.stdout)]
    assert remaining and all(f["safety"] != "safe" for f in json.loads(scanned.stdout))
    result = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--yes")
    assert result.returncode == 1, result.stderr
    assert "nothing was repaired" in result.stderr and all(i in result.stderr for i in remaining)
    result = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--yes", "-f", "json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "TMD84" and all(i in error["details"] for i in remaining)
    journal = run("doctor", "journal", "--dsn", origin_dsn, "-f", "json")
    assert json.loads(journal.stdout) == []
