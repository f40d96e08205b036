"""Issue 12, item 1: with only libpq's ``PG*`` variables set, every command works on the database they name and says
so on the first line of stderr (once the same setup scanned the embedded cluster and printed "no rows")."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from psycopg.conninfo import conninfo_to_dict

from tablemend import db, sandbox
from tests.acceptance.cli import run


def _pg_env(dsn: str) -> dict[str, str]:
    """The DSN as PG* variables, without PGHOST (the reported trap), and with no way to the embedded cluster."""
    info = conninfo_to_dict(dsn)
    env = {"PGHOSTADDR": "127.0.0.1" if info.get("host") in (None, "localhost") else str(info["host"]),
           "PGPORT": str(info.get("port") or 5432), "PGDATABASE": str(info["dbname"]),
           "PGUSER": str(info.get("user") or "postgres"), "PGPASSWORD": str(info.get("password") or ""),
           # were the embedded cluster used, starting it would fail: the test never touches a cluster of its own
           "TABLEMEND_HOME": "/proc/tablemend-no-cluster", "TABLEMEND_DSN": ""}
    return env


def _clean_env(env: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k not in ("DATABASE_URL",)}
    return {**base, **env}


def _first_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines, stderr
    return lines[0]


@pytest.fixture
def seeded(origin_dsn: str) -> tuple[str, sandbox.StateCase]:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1")
    return origin_dsn, case


def test_doctor_scan_and_gate_use_the_pg_database(seeded: tuple[str, sandbox.StateCase],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    dsn, case = seeded
    env = _pg_env(dsn)
    for key in [k for k in os.environ if k.startswith("PG") or k == "DATABASE_URL"]:
        monkeypatch.delenv(key)
    where = f"/{env['PGDATABASE']} as {env['PGUSER']}"

    scanned = run("doctor", "scan", "-f", "json", env=_clean_env(env))
    assert scanned.returncode == 1, scanned.stderr  # D1's finding, in the database the variables name
    assert str(case.blocking_booking_ids[0]) in scanned.stdout
    first = _first_line(scanned.stderr)
    assert first.startswith("database: ") and where in first and "PGDATABASE" in first, scanned.stderr

    gate = run("doctor", "gate", "-f", "json", env=_clean_env(env))
    assert gate.returncode in (0, 1), gate.stderr
    database = json.loads(gate.stdout)["database"]  # the JSON envelope says which database and how it was chosen
    assert (database["dbname"], database["source"]) == (env["PGDATABASE"], "PG*")
    assert where in _first_line(gate.stderr)

    checked = run("db", "check", "-f", "json", env=_clean_env(env))
    assert checked.returncode in (0, 1), checked.stderr
    assert where in _first_line(checked.stderr)


def test_unknown_booking_names_the_database_first(origin_dsn: str) -> None:
    env = _pg_env(origin_dsn)
    missing = run("doctor", "explain", "--booking", str(uuid.uuid4()), env=_clean_env(env))
    lines = [ln for ln in missing.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("database: ") and f"/{env['PGDATABASE']} " in lines[0], missing.stderr
    assert lines[1].startswith("error ["), missing.stderr


def test_dsn_resolution_reads_any_libpq_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("PG") or k == "DATABASE_URL"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PGDATABASE", "origin_sandbox")
    monkeypatch.setenv("PGUSER", "postgres")
    assert db.resolve_dsn(None) == ""  # libpq's own defaults and variables, never the embedded cluster
    assert db.describe_dsn("") == "local socket:5432/origin_sandbox"
