"""The installed ``tablemend doctor`` CLI in a subprocess, against a fresh origin sandbox database."""

from __future__ import annotations

from pathlib import Path

from tablemend import db, sandbox
from tests.acceptance.cli import error_lines, result_of, run

ROOT = Path(__file__).resolve().parents[2]


def _seed(dsn: str, code: str) -> sandbox.StateCase:
    with db.connect(dsn, autocommit=True) as conn:
        return sandbox.seed_state(conn, code)


def test_scan_repair_verify_undo(origin_dsn: str) -> None:
    case = _seed(origin_dsn, "D1")
    p, tables = str(case.booking_id), ",".join(map(str, case.table_ids))

    scanned = run("doctor", "scan", "--dsn", origin_dsn, "--format", "json")
    assert scanned.returncode == 1, scanned.stderr
    rows = [r for r in result_of(scanned.stdout) if r["code"] != "TMD022"]  # TMD022: the server, not the data
    assert [r["code"] for r in rows] == ["TMD001"]
    assert rows[0]["booking"] == str(case.blocking_booking_ids[0]) and rows[0]["remediation"]

    assert run("doctor", "scan", "--dsn", origin_dsn, "--check", "TMD013").returncode == 0

    explained = run("doctor", "explain", "--dsn", origin_dsn, "--booking", p,
                    "--error", case.expected_message or "")
    assert explained.returncode == 0, explained.stderr
    assert str(case.blocking_booking_ids[0]) in explained.stdout and "duplicate" in explained.stdout

    planned = run("doctor", "plan", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--sql")
    assert planned.returncode == 0 and "DELETE FROM public.booking_table_assignments" in planned.stdout

    refused = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, input="")
    assert refused.returncode == 2
    assert "refusing" in refused.stderr and "Traceback" not in refused.stderr

    assert run("doctor", "verify", "--dsn", origin_dsn, "--booking", p, "--tables", tables).returncode == 0

    repaired = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--yes",
                   "--format", "json")
    assert repaired.returncode == 0, repaired.stderr
    repair_id = result_of(repaired.stdout)["repair_id"]
    # --fail-on error: an affected server (TMD022, a warning) makes every scan exit 1 until it is upgraded
    assert run("doctor", "scan", "--dsn", origin_dsn, "--fail-on", "error").returncode == 0

    undone = run("doctor", "undo", repair_id, "--dsn", origin_dsn)
    assert undone.returncode == 0, undone.stderr
    assert run("doctor", "scan", "--dsn", origin_dsn, "--fail-on", "error").returncode == 1
    retried = run("doctor", "repair", "--dsn", origin_dsn, "--booking", p, "--tables", tables, "--yes", "--retry")
    assert retried.returncode == 0 and "assignment succeeded: 2 row(s)" in retried.stdout, retried.stderr

    journal = run("doctor", "journal", "--dsn", origin_dsn, "--format", "json")
    assert [e["kind"] for e in result_of(journal.stdout)] == ["repair", "undo", "repair"]


def test_bad_input_is_one_line_and_exit_2(origin_dsn: str) -> None:
    for args in (["explain", "--booking", "not-a-uuid"],
                 ["scan", "--profile", "bogus"],
                 ["scan", "--fail-on", "loud"],
                 ["undo", "00000000-0000-0000-0000-000000000000"],
                 ["repair"]):
        result = run("doctor", *args, "--dsn", origin_dsn)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = error_lines(result.stderr)
        assert 1 <= len(lines) <= 2 and lines[0].startswith("error"), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_unreachable_database_exits_2() -> None:
    result = run("doctor", "scan", "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_docs_are_current() -> None:
    result = run("doctor", "docs", "--check", "--output", str(ROOT / "docs" / "doctor.md"))
    assert result.returncode == 0, result.stderr


def test_scan_as_github_annotations(origin_dsn: str) -> None:
    """Issue 12: findings as GitHub Actions workflow commands, one a line, in GitHub's documented format
    (::error|warning|notice title=T::message; %, CR, LF escaped, and : , in the title too)."""
    import re

    case = _seed(origin_dsn, "D1")
    done = run("doctor", "scan", "--dsn", origin_dsn, "--format", "github")
    assert done.returncode == 1, done.stderr  # the same exit code as the other formats
    lines = done.stdout.splitlines()
    shape = re.compile(r"::(error|warning|notice) title=(?:[^:,%\r\n]|%25|%0D|%0A|%3A|%2C)*::(?:[^%\r\n]|%25|%0D|%0A)+")
    assert lines and all(shape.fullmatch(ln) for ln in lines), lines
    tmd001 = [ln for ln in lines if ln.startswith("::error title=TMD001 Released booking still holds a table::")]
    assert len(tmd001) == 1 and str(case.blocking_booking_ids[0]) in tmd001[0], lines
    from tablemend.doctor.render.github import annotation

    assert annotation("notice", "a:b,c", "50% done\nnext") == "::notice title=a%3Ab%2Cc::50%25 done%0Anext"


def test_verify_prints_its_failure_on_stdout(origin_dsn: str) -> None:
    """Issue 12: a failing verify wrote its verdict to stderr in table mode (its success and its JSON: stdout)."""
    case = _seed(origin_dsn, "D1c")  # a live conflict: no automatic repair clears it
    tables = ",".join(map(str, case.table_ids))
    done = run("doctor", "verify", "--dsn", origin_dsn, "--booking", str(case.booking_id), "--tables", tables)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "still fails after" in done.stdout, done.stdout
    assert error_lines(done.stderr) == [], done.stderr
