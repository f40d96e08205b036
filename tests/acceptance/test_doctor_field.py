"""Issue 10's field findings through the installed CLI: ids from a scan usable with --include, a repair that changes
nothing exits non-zero naming what remains, reviewed plan files."""

from __future__ import annotations

import json

from tablemend import db, sandbox
from tests.acceptance.cli import error_of, result_of, run


def _seed(dsn: str, code: str) -> sandbox.StateCase:
    with db.connect(dsn, autocommit=True) as conn:
        return sandbox.seed_state(conn, code)


def test_scan_id_works_with_repair_booking_include(origin_dsn: str) -> None:
    """Found item 6: P's leftover allocations on terrace tables (outside its request) are named by a whole-database
    scan; those ids are accepted by `repair --booking P --include`, and an unknown id's hint is a working command."""
    case = _seed(origin_dsn, "zone-lock-drift")
    p, tables = str(case.booking_id), ",".join(map(str, case.table_ids))
    scanned = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json")
    ids = [f["id"] for f in result_of(scanned.stdout) if f["code"] == "TMD002" and f["booking"] == p]
    assert len(ids) == 2, scanned.stdout
    include = [arg for i in ids for arg in ("--include", i)]
    repaired = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, *include, "--yes",
                   "-f", "json")
    assert repaired.returncode == 0, repaired.stderr
    assert set(ids) <= set(result_of(repaired.stdout)["findings"])
    rescanned = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json")
    assert not set(ids) & {f["id"] for f in result_of(rescanned.stdout)}

    gone = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--include", ids[0],
               "--yes")
    assert gone.returncode == 2 and f"no current finding with id {ids[0]}" in gone.stderr
    hint = next(line for line in gone.stderr.splitlines() if "hint:" in line)
    command = hint.split("`")[1].split()
    assert command[:3] == ["tablemend", "doctor", "scan"]
    assert run(*command[1:], "--dsn", origin_dsn).returncode in (0, 1), "the hinted command runs"


def test_repair_that_changes_nothing_exits_non_zero(origin_dsn: str) -> None:
    """Found item 7: no finding is safe (B is live and seated on P's table: a live conflict, human): nothing is
    applied, exit 1, and the remaining finding is named (JSON: an error object on stdout)."""
    case = _seed(origin_dsn, "D1c")
    p, tables = str(case.booking_id), ",".join(map(str, case.table_ids))
    scanned = run("doctor", "scan", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "-f", "json")
    # (TMD022 is the server's own finding on an affected server: repaired by no row change, listed apart)
    remaining = [f["id"] for f in result_of(scanned.stdout) if f["code"] != "TMD022"]
    assert remaining and all(f["safety"] != "safe" for f in result_of(scanned.stdout))
    result = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--yes")
    assert result.returncode == 1, result.stderr
    assert "nothing was repaired" in result.stderr and all(i in result.stderr for i in remaining)
    result = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--yes", "-f", "json")
    assert result.returncode == 1
    error = error_of(result.stdout)
    assert error["code"] == "TMD84" and all(i in error["details"] for i in remaining)
    journal = run("doctor", "journal", "--dsn", origin_dsn, "-f", "json")
    assert result_of(journal.stdout) == []


def _clone(server_dsn: str, source_dsn: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    from tests.conftest import _create_database, _drop_database, dsn_for

    _drop_database(server_dsn, name)
    _create_database(server_dsn, name, str(conninfo_to_dict(source_dsn)["dbname"]))
    return dsn_for(server_dsn, name)


def _checksums(dsn: str) -> dict[str, str]:
    from tests.integration.test_doctor_states import checksums

    with db.connect(dsn, autocommit=True) as conn:
        return checksums(conn)


def test_reviewed_plan_staging_then_production(origin_dsn: str, server_dsn: str, tmp_path: object) -> None:
    """plan --out in staging (a copy of production), repair --plan there and then in production: the same rows
    change; the journal records the plan's sha256; a second apply is refused (the rows moved on)."""
    import os
    from pathlib import Path

    case = _seed(origin_dsn, "D1")  # a cancelled B's row on P's (table, slot)
    p, tables = str(case.booking_id), ",".join(map(str, case.table_ids))
    staging = _clone(server_dsn, origin_dsn, f"tm_field_staging_{os.getpid()}")
    try:
        scanned = result_of(run("doctor", "scan", "--dsn", staging, "--booking", p, "--tables", tables,
                                 "-f", "json").stdout)
        include = [arg for f in scanned if f["safety"] == "confirm" for arg in ("--include", f["id"])]
        path = Path(str(tmp_path)) / "plan.json"
        planned = run("doctor", "plan", "--dsn", staging, "--booking", p, "--tables", tables, *include,
                      "--out", str(path))
        assert planned.returncode == 0, planned.stderr
        doc = json.loads(path.read_text())
        assert doc["findings"] and doc["changes"] and "BEGIN;" in doc["sql"]
        assert all(c["before_sha256"] or c["op"] == "insert" for c in doc["changes"])
        sha = __import__("hashlib").sha256(path.read_bytes()).hexdigest()

        after: dict[str, dict[str, str]] = {}
        for where in (staging, origin_dsn):
            applied = run("doctor", "repair", "--dsn", where, "--plan", str(path), "--yes", "-f", "json")
            assert applied.returncode == 0, applied.stderr
            assert result_of(applied.stdout)["plan_sha256"] == sha
            assert json.loads(applied.stdout)["profile"] == "origin"  # the envelope's, from the plan
            entries = result_of(run("doctor", "journal", "--dsn", where, "-f", "json").stdout)
            assert [e["plan_sha256"] for e in entries] == [sha]
            after[where] = _checksums(where)
            with db.connect(where, autocommit=True) as conn:
                assert sandbox.call_assign(conn, case), "P's retry succeeds after the reviewed plan"
        assert after[staging] == after[origin_dsn], "the same plan made the same changes in both"

        again = run("doctor", "repair", "--dsn", origin_dsn, "--plan", str(path), "--yes", "-f", "json")
        assert again.returncode == 2
        assert error_of(again.stdout)["code"] == "TMD85"
    finally:
        from tests.conftest import _drop_database

        _drop_database(server_dsn, f"tm_field_staging_{os.getpid()}")


def test_plan_refused_when_a_row_changed_since(origin_dsn: str, tmp_path: object) -> None:
    """A planned row edited after the plan: refused, the row named, nothing changed; a fresh plan applies."""
    from pathlib import Path

    case = _seed(origin_dsn, "D1")
    p, tables = str(case.booking_id), ",".join(map(str, case.table_ids))
    path = Path(str(tmp_path)) / "plan.json"
    assert run("doctor", "plan", "--dsn", origin_dsn, "--booking", p, "--tables", tables,
               "--out", str(path)).returncode == 0
    doc = json.loads(path.read_text())
    row = next(c for c in doc["changes"] if c["relation"] == "public.booking_table_assignments")
    with db.connect(origin_dsn, autocommit=True) as conn:
        conn.execute("UPDATE public.booking_table_assignments SET notes = 'edited after review' WHERE id = %s",
                      (row["pk"]["id"],))
    before = _checksums(origin_dsn)
    refused = run("doctor", "repair", "--dsn", origin_dsn, "--plan", str(path), "--yes")
    assert refused.returncode == 2
    assert "TMD85" in refused.stderr and row["pk"]["id"] in refused.stderr and "changed" in refused.stderr
    assert _checksums(origin_dsn) == before, "nothing changed"
    assert result_of(run("doctor", "journal", "--dsn", origin_dsn, "-f", "json").stdout) == []

    path.write_text(json.dumps({**doc, "findings": [{**doc["findings"][0], "key": {"x": 1}}]}))
    edited = run("doctor", "repair", "--dsn", origin_dsn, "--plan", str(path), "--yes")
    assert edited.returncode == 2 and "TMD86" in edited.stderr

    assert run("doctor", "plan", "--dsn", origin_dsn, "--booking", p, "--tables", tables,
               "--out", str(path)).returncode == 0
    assert run("doctor", "repair", "--dsn", origin_dsn, "--plan", str(path), "--yes").returncode == 0


def test_plan_without_findings_is_refused(origin_dsn: str, tmp_path: object) -> None:
    """A plan whose only finding is 'confirm' and was not included applies nothing: refused, not a silent no-op."""
    from pathlib import Path

    case = _seed(origin_dsn, "D1c")
    path = Path(str(tmp_path)) / "plan.json"
    assert run("doctor", "plan", "--dsn", origin_dsn, "--booking", str(case.booking_id), "--tables",
               ",".join(map(str, case.table_ids)), "--out", str(path)).returncode == 0
    assert json.loads(path.read_text())["findings"] == []
    refused = run("doctor", "repair", "--dsn", origin_dsn, "--plan", str(path), "--yes")
    assert refused.returncode == 2 and "repairs nothing" in refused.stderr
