"""Machine output does not depend on the terminal: ``--format json`` on stdout is the same bytes whether stdin and
stderr are a terminal (progress shown on stderr) or not (nothing extra), as in ``doctor scan -f json > f.json``."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import tempfile

from tablemend import db, sandbox
from tests.acceptance.cli import error_lines, result_of, run, tablemend_exe

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: instants written by the run itself (updated_at = now() in the after-images): the only bytes that may differ
_NOW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00")


def _same_run(text: str) -> str:
    return _NOW.sub("NOW", text)


def run_on_terminal(*args: str) -> tuple[int, str, bytes]:
    """The CLI with stdin and stderr on a pseudo-terminal and stdout to a file: exit code, stdout, terminal bytes."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    env.pop("DATABASE_URL", None)
    master, slave = pty.openpty()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen([tablemend_exe(), *args], stdin=slave, stdout=out, stderr=slave, env=env,
                                 close_fds=True)
        os.close(slave)
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal's other end closed (Linux: EIO)
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
            elif child.poll() is not None:
                break
        code = child.wait(timeout=180)
        os.close(master)
        out.seek(0)
        return code, out.read().decode(), seen


def test_json_is_the_same_bytes_with_and_without_a_terminal(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        sandbox.seed_state(conn, "D1")
    for command in (("doctor", "scan"), ("doctor", "plan")):
        args = (*command, "--dsn", origin_dsn, "--format", "json")
        piped = run(*args)
        code, stdout, _ = run_on_terminal(*args)
        assert code == piped.returncode, piped.stderr
        assert result_of(piped.stdout), command  # findings / a plan, not an empty document
        assert _same_run(stdout) == _same_run(piped.stdout), command

    code, on_terminal, _ = run_on_terminal("doctor", "repair", "--all-safe", "--yes", "--dsn", origin_dsn,
                                           "--format", "json")
    assert code == 0
    undone = run("doctor", "undo", result_of(on_terminal)["repair_id"], "--dsn", origin_dsn)
    assert undone.returncode == 0, undone.stderr
    piped = run("doctor", "repair", "--all-safe", "--yes", "--dsn", origin_dsn, "--format", "json")
    assert piped.returncode == 0, piped.stderr
    assert result_of(piped.stdout)["changes"] > 0
    # the same bytes but for the new repair's id
    assert _UUID.sub("ID", on_terminal.replace(result_of(on_terminal)["repair_id"], "ID")) == _UUID.sub(
        "ID", piped.stdout.replace(result_of(piped.stdout)["repair_id"], "ID"))


def test_progress_is_drawn_on_a_terminal_only(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        sandbox.seed_state(conn, "D1")
    piped = run("doctor", "plan", "--dsn", origin_dsn, "--format", "json")
    assert error_lines(piped.stderr) == []  # only the database it works on
    code, _, terminal = run_on_terminal("doctor", "plan", "--dsn", origin_dsn, "--format", "json")
    assert code == 0
    assert b"finding" in terminal or b"repairing" in terminal or b"writing changes" in terminal, terminal


def test_sample_and_sandbox_say_what_they_do_on_a_terminal_only(empty_dsn: str, origin_dsn: str) -> None:
    """Issue 12, item 2: `sample` and `sandbox origin` worked silently; on a terminal they show a spinner and end
    with a summary line and the time taken, on stderr; piped, stderr has only the database line."""
    code, out, terminal = run_on_terminal("sample", "--restaurants", "1", "--seed", "5", "--dsn", empty_dsn)
    assert code == 0, terminal
    assert b"restaurant(s) loaded in " in terminal, terminal
    assert "loading sample" not in out  # stdout carries the result only
    piped = run("sample", "--restaurants", "1", "--seed", "5", "--dsn", empty_dsn)
    assert piped.returncode == 0 and error_lines(piped.stderr) == [], piped.stderr
    code, _, terminal = run_on_terminal("sandbox", "origin", "--states", "D2", "--dsn", origin_dsn)
    assert code == 0 and b"origin sandbox: 1 state(s) seeded in " in terminal, terminal


def test_repair_shows_its_phases_with_counts_on_a_terminal(origin_dsn: str) -> None:
    """Issue 12: `repair --all-safe` on a terminal says which check it is looking at, of how many, then what it
    repairs; stdout still carries only the JSON."""
    from bench import origin_data

    with db.connect(origin_dsn, autocommit=True) as conn:
        origin_data.generate(conn, 2_000)
    code, out, terminal = run_on_terminal("doctor", "repair", "--all-safe", "--yes", "--dsn", origin_dsn,
                                          "--format", "json")
    assert code == 0, terminal
    assert result_of(out)["changes"] > 0
    assert re.search(rb"finding TMD\d{3}", terminal), terminal  # detection, check by check
    assert re.search(rb"\d+/\d+", terminal), terminal  # with counts
