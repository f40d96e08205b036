"""`tablemend sandbox origin` and `tablemend demo`: the installed CLI in a subprocess, against the test server."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tablemend import sandbox
from tests.acceptance.cli import error_lines, result_of, run, shell
from tests.conftest import _drop_database, dsn_for

_UNREACHABLE = "postgresql://postgres:x@127.0.0.1:1/nowhere?connect_timeout=2"


@pytest.fixture
def scratch_name(server_dsn: str) -> Iterator[str]:
    """A database name for the CLI to create; dropped afterwards."""
    name = f"tm_cli_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    yield name
    _drop_database(server_dsn, name)


def _one_line_error(stderr: str, *needles: str) -> None:
    """One error line; the CLI's optional indented ``detail:`` / ``hint:`` lines may follow, nothing else."""
    lines = error_lines(stderr)
    assert lines and lines[0].startswith("error ["), stderr
    assert all(ln.startswith(("  detail:", "  hint:")) for ln in lines[1:]), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0]


def _count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_sandbox_origin_all_states_in_the_dsn_database(empty_dsn: str) -> None:
    done = run("sandbox", "origin", "--dsn", empty_dsn, "--states", "all", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = result_of(done.stdout)
    assert report["built"] is True
    assert (report["legacy_overload"], report["legacy_idempotency_index"]) == (True, True)  # implied by D3 / D4
    assert [c["code"] for c in report["cases"]] == list(sandbox.ORIGIN_STATES)
    d1 = report["cases"][0]
    assert d1["expected_message"] == f"assign_tables_atomic_v2 assignment duplicate for table {d1['table_ids'][0]}"
    assert _count(empty_dsn, "SELECT count(*) FROM restaurants") == len(sandbox.ORIGIN_STATES)
    # The database really raises what the report says.
    with psycopg.connect(empty_dsn) as conn, pytest.raises(psycopg.errors.RaiseException) as info:
        conn.execute("SELECT * FROM assign_tables_atomic_v2(p_booking_id => %s, p_table_ids => %s::uuid[],"
                     " p_idempotency_key => NULL, p_require_adjacency => false, p_assigned_by => NULL,"
                     " p_start_at => NULL, p_end_at => NULL)", (d1["booking_id"], d1["table_ids"]))
    assert info.value.diag.message_primary == d1["expected_message"]
    # A second run reuses the sandbox and adds new restaurants; the table output lists the cases.
    again = run("sandbox", "origin", "--dsn", empty_dsn, "--states", "D1,D2")
    assert again.returncode == 0, again.stderr
    assert "reused" in again.stdout and "D2" in again.stdout
    assert _count(empty_dsn, "SELECT count(*) FROM restaurants") == len(sandbox.ORIGIN_STATES) + 2


def test_sandbox_origin_named_database_and_reset(server_dsn: str, scratch_name: str) -> None:
    first = run("sandbox", "origin", "--dsn", server_dsn, "--database", scratch_name, "--states", "D1", "-f", "json")
    assert first.returncode == 0, first.stderr
    assert result_of(first.stdout)["created"] is True
    target = dsn_for(server_dsn, scratch_name)
    assert _count(target, "SELECT count(*) FROM restaurants") == 1
    # Without the legacy pieces the existing sandbox cannot hold D4; nothing is seeded.
    refused = run("sandbox", "origin", "--dsn", server_dsn, "--database", scratch_name, "--states", "D4")
    assert refused.returncode == 2
    _one_line_error(refused.stderr, "5-argument overload")
    assert _count(target, "SELECT count(*) FROM restaurants") == 1
    reset = run("sandbox", "origin", "--dsn", server_dsn, "--database", scratch_name, "--states", "D4", "--reset",
                "-f", "json")
    assert reset.returncode == 0, reset.stderr
    assert result_of(reset.stdout)["created"] is True
    assert _count(target, "SELECT count(*) FROM restaurants") == 1


def test_sandbox_origin_bad_input_changes_nothing(empty_dsn: str) -> None:
    bad = run("sandbox", "origin", "--dsn", empty_dsn, "--states", "D1,D9")
    assert bad.returncode == 2
    _one_line_error(bad.stderr, "D9")
    assert _count(empty_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    no_name = run("sandbox", "origin", "--dsn", empty_dsn, "--reset")
    assert no_name.returncode == 2
    _one_line_error(no_name.stderr, "--database")
    assert _count(empty_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    system = run("sandbox", "origin", "--dsn", empty_dsn, "--database", "postgres", "--reset")
    assert system.returncode == 2
    _one_line_error(system.stderr, "postgres")


def test_unreachable_dsn_is_one_line_and_exit_2() -> None:
    for args in (("sandbox", "origin", "--states", "D1"), ("demo",)):
        done = run(*args, "--dsn", _UNREACHABLE)
        assert done.returncode == 2, done.stdout
        _one_line_error(done.stderr, "cannot connect")


def test_demo_fails_explains_plans_repairs_and_retries(server_dsn: str, scratch_name: str) -> None:
    for _ in range(2):  # the demo database is recreated on every run
        done = run("demo", "--dsn", server_dsn, "--database", scratch_name)
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        failure = re.search(r"ERROR P0001: assign_tables_atomic_v2 assignment duplicate for table (\S+)", out)
        assert failure is not None, out
        # explain names the blocker, its status and the very error above; plan lists the row it deletes
        explained = re.search(r"(TMD001-\w+) \(safe\): booking B (\S+) is cancelled but still holds T1", out)
        assert explained is not None, out
        assert f"causes: P0001 assign_tables_atomic_v2 assignment duplicate for table {failure[1]}" in out
        assert re.search(r"│ delete │ booking_table_assignments │ [0-9a-f-]{36} │", out), out
        assert f"for {explained[1]}; computed in a transaction that was rolled back: nothing written yet" in out
        repair = re.search(r"repair (\S+): 1 row change\(s\) in one transaction", out)
        assert repair is not None, out
        assert "assigned 2 tables to booking P" in out
        undo_line = re.search(r"^to undo: (tablemend demo --undo .*)$", out, re.MULTILINE)
        assert undo_line is not None and repair[1] in undo_line[1], out
    target = dsn_for(server_dsn, scratch_name)
    assert _count(target, "SELECT count(*) FROM restaurants") == 1
    assert _count(target, "SELECT count(*) FROM booking_table_assignments") == 2  # P's two rows; B's is gone
    with psycopg.connect(target) as conn:
        kinds = conn.execute("SELECT kind FROM tablemend_doctor.journal WHERE id = %s", (repair[1],)).fetchall()
    assert kinds == [("repair",)]
    # doctor undo alone is refused while P holds T1 (naming the row); the printed command, run literally in a
    # shell, releases P and restores B's row (issue 12: the demo's own undo command used to fail with TMD94).
    refused = run("doctor", "undo", repair[1], "--dsn", target)
    assert refused.returncode == 2, refused.stdout
    _one_line_error(refused.stderr, "cannot undo", "booking_table_assignments")
    assert "set PGPASSWORD" in out  # as the demo says: the printed DSN leaves the password out
    undone = shell(undo_line[1], env={"PGPASSWORD": conninfo_to_dict(server_dsn).get("password") or ""})
    assert undone.returncode == 0, undone.stderr
    assert f"repair {repair[1]} undone by" in undone.stdout
    assert _count(target, "SELECT count(*) FROM booking_table_assignments b JOIN bookings k ON k.id = b.booking_id"
                          " WHERE k.status = 'cancelled'") == 1
