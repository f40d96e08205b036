"""Ctrl-C during a machine-format command (issue 12 §8): stdout still holds one valid document that says the run was
interrupted (the JSON error envelope, a SARIF log or a JUnit error), stderr one line, exit code 130, no leaked
driver warnings."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import psycopg
import pytest

from tablemend import db, sandbox
from tests.acceptance.cli import error_of, tablemend_exe


def _waiting(conn: psycopg.Connection[tuple[int]]) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit"])
def test_interrupted_scan_leaves_a_valid_document(fmt: str, origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        sandbox.seed_state(conn, "D1")
    with psycopg.connect(origin_dsn) as blocker:  # the scan waits on this lock until it is interrupted
        blocker.execute("LOCK TABLE public.table_holds IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen([tablemend_exe(), "doctor", "scan", "--dsn", origin_dsn, "--format", fmt],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        with psycopg.connect(origin_dsn, autocommit=True) as watcher:
            while not _waiting(watcher):
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("database: ", "note: "))]
    assert lines[0] == "error [TMU17]: interrupted" and lines[1].startswith("  hint: "), err
    if fmt == "json":
        assert error_of(out)["code"] == "TMU17"
    elif fmt == "sarif":
        invocation = json.loads(out)["runs"][0]["invocations"][0]
        assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 130
    else:
        assert ET.fromstring(out).find(".//error") is not None
