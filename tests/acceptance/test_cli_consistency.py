"""Issue 12, item 6: behaviours that surprised a new user, each pinned (the installed CLI in a subprocess)."""

from __future__ import annotations

import uuid

from tablemend import db, sandbox
from tests.acceptance.cli import error_lines, run


def _error(done: object, code: str, exit_code: int) -> str:
    assert done.returncode == exit_code, (done.returncode, done.stdout, done.stderr)  # type: ignore[attr-defined]
    lines = error_lines(done.stderr)  # type: ignore[attr-defined]
    assert lines and lines[0].startswith(f"error [{code}]:"), lines
    assert "Traceback" not in done.stderr  # type: ignore[attr-defined]
    return lines[0]


def test_empty_tables_list_is_refused_not_replaced_by_p_current_tables(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1")
    done = run("doctor", "explain", "--booking", str(case.booking_id), "--tables", "", "--dsn", origin_dsn)
    assert "--tables names no table" in _error(done, "TMU01", 2)


def test_an_explicit_profile_on_a_database_without_it_is_schema_missing(empty_dsn: str) -> None:
    done = run("doctor", "scan", "--profile", "tablemend", "--dsn", empty_dsn)
    assert "--profile tablemend" in _error(done, "TMU06", 2)  # was a raw 42P01


def test_the_doctors_unknown_booking_exits_4_like_the_allocators(origin_dsn: str, tm_dsn: str) -> None:
    missing = str(uuid.uuid4())
    doctor = run("doctor", "explain", "--booking", missing, "--dsn", origin_dsn)
    assert missing in _error(doctor, "TMD60", 4)
    allocator = run("booking", "show", missing, "--dsn", tm_dsn)
    _error(allocator, "TAN01", 4)


def test_hold_ttl_and_expires_together_are_refused() -> None:
    hold = str(uuid.uuid4())
    done = run("hold", "extend", hold, "--ttl", "60", "--expires", "2030-06-01T19:00:00Z",
               "--dsn", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    assert "not both" in _error(done, "TMU01", 2)  # refused before connecting


def test_flags_show_no_value_in_help() -> None:
    done = run("assign", "--help")
    assert done.returncode == 0
    line = next(ln for ln in done.stdout.splitlines() if "--adjacency" in ln and "Require" in ln)
    assert "<bool>" not in line, line


def test_reusing_a_sandbox_says_it_adds_beside_the_old_states(empty_dsn: str) -> None:
    first = run("sandbox", "origin", "--dsn", empty_dsn, "--states", "D1")
    assert first.returncode == 0 and "--reset" not in first.stderr, first.stderr
    again = run("sandbox", "origin", "--dsn", empty_dsn, "--states", "D1", "-f", "json")
    assert again.returncode == 0, again.stderr
    assert "already existed" in again.stderr and "--reset" in again.stderr


def test_shell_completion() -> None:
    # the script depends on the calling shell (detected from the process tree); the protocol it drives does not
    assert "--install-completion" in run("--help").stdout
    completed = run(env={"_TABLEMEND_COMPLETE": "complete_bash", "COMP_WORDS": "tablemend doc", "COMP_CWORD": "1"})
    assert completed.stdout.split() == ["doctor"], completed.stdout + completed.stderr
