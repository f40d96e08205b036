"""`tablemend db …` against a private embedded cluster in a temporary TABLEMEND_HOME."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.acceptance.cli import result_of, run


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("tmhome")
    yield path
    run("db", "stop", env={"TABLEMEND_HOME": str(path)})


def _env(home: Path) -> dict[str, str]:
    return {"TABLEMEND_HOME": str(home)}


def test_start_twice_reuses_the_running_cluster(home: Path) -> None:
    first = run("db", "start", env=_env(home))
    assert first.returncode == 0, first.stderr
    assert "started" in first.stdout
    second = run("db", "start", env=_env(home))
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    url = run("db", "url", env=_env(home)).stdout.strip()
    assert url.startswith("postgresql://postgres:")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
        assert row is not None and row[0] >= 180000
        assert conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'btree_gist'").fetchone() == (1,)


def test_status_reports_running_and_exit_codes(home: Path) -> None:
    run("db", "start", env=_env(home))
    status = run("db", "status", "--format", "json", env=_env(home))
    assert status.returncode == 0
    assert '"running": true' in status.stdout
    stop = run("db", "stop", env=_env(home))
    assert stop.returncode == 0 and "stopped" in stop.stdout
    again = run("db", "stop", env=_env(home))
    assert again.returncode == 0 and "not running" in again.stdout
    down = run("db", "status", env=_env(home))
    assert down.returncode == 1
    assert "running:     False" in down.stdout


def test_killed_postmaster_is_recovered_on_start(home: Path) -> None:
    assert run("db", "start", env=_env(home)).returncode == 0
    pid = int((home / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    restarted = run("db", "start", env=_env(home))
    assert restarted.returncode == 0, restarted.stderr
    assert "note:" in restarted.stderr and "stale pid file" in restarted.stderr  # notes go to stderr
    with psycopg.connect(run("db", "url", env=_env(home)).stdout.strip()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_migrate_uses_the_embedded_cluster_by_default(home: Path) -> None:
    first = run("migrate", env=_env(home))
    assert first.returncode == 0, first.stderr
    second = run("migrate", env=_env(home))
    assert second.returncode == 0
    assert "nothing to do" in second.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("migrate", "--dsn", "postgresql://nobody@127.0.0.1:1/nowhere"), "cannot connect to 127.0.0.1:1/nowhere"),
        (("migrate", "--dsn", "not a dsn ==="), "invalid DSN"),
        (("db", "start", "--bogus"), "No such option"),
        (("no-such-command",), "No such command"),
    ],
)
def test_bad_input_is_one_clear_error_without_traceback(args: tuple[str, ...], needle: str, tmp_path: Path) -> None:
    result = run(*args, env=_env(tmp_path))
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_database_is_a_clear_error(server_dsn: str) -> None:
    from psycopg.conninfo import make_conninfo

    result = run("migrate", "--dsn", make_conninfo(server_dsn, dbname="tablemend_no_such_db"))
    assert result.returncode == 2
    assert 'database "tablemend_no_such_db" does not exist' in result.stderr
    assert "Traceback" not in result.stderr


def test_status_reports_the_embedded_servers_gist_rescan_verdict(home: Path) -> None:
    assert run("db", "start", env=_env(home)).returncode == 0
    status = run("db", "status", "--format", "json", env=_env(home))
    assert status.returncode == 0, status.stderr
    verdict = result_of(status.stdout)["gist_rescan"]
    assert verdict["verdict"] == "affected" and verdict["workaround"] is True  # the embedded 18.6 (docs §7)
    assert "gist rescan: affected" in run("db", "status", env=_env(home)).stdout


def test_db_check_probes_records_and_sets_the_workaround(tm_dsn: str) -> None:
    from tests.integration.test_integrity import MEASURED

    checked = run("db", "check", "--dsn", tm_dsn, "--format", "json")
    body = result_of(checked.stdout)
    version = body["gist_rescan"]["server_version"].split()[0]
    expected = MEASURED[version]
    assert checked.returncode == (1 if expected.value == "affected" else 0), checked.stderr
    assert body["gist_rescan"]["verdict"] == expected.value and body["gist_rescan"]["cached"] is False
    # the 8 origin entries and the 7 restaurant-keyed variants of migration 0007
    assert set(body["functions"].values()) == {expected.value == "affected"} and len(body["functions"]) == 15
    text = run("db", "check", "--dsn", tm_dsn)
    assert f"gist rescan: {expected.value}" in text.stdout and "workaround:" in text.stdout
