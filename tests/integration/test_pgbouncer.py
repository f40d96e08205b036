"""Through a real PgBouncer in transaction mode with stock settings: migrate, every doctor verb and the Allocator work,
and timestamps come back in UTC although the database's TimeZone is not UTC."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from psycopg import sql

from tablemend import Allocator, db, integrity, sandbox
from tests.acceptance.cli import result_of, run
from tests.integration import tmdata as d
from tests.pgbouncer import PgBouncer

ZONE = "America/New_York"


def _not_utc(dsn: str) -> None:
    with db.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET TimeZone = {}").format(sql.Identifier(conn.info.dbname),
                                                                            sql.Literal(ZONE)))


def test_a_startup_options_parameter_is_refused_by_the_stock_pooler(pgbouncer: PgBouncer, empty_dsn: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(pgbouncer.dsn(empty_dsn), options="-c TimeZone=UTC", connect_timeout=10)
    with db.connect(pgbouncer.dsn(empty_dsn)) as conn:  # tablemend's connections send none
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}


def test_migrate_and_the_allocator_through_the_pooler(pgbouncer: PgBouncer, empty_dsn: str) -> None:
    _not_utc(empty_dsn)
    via = pgbouncer.dsn(empty_dsn)
    migrated = run("migrate", "--dsn", via)
    assert migrated.returncode == 0, migrated.stderr
    assert "gist rescan:" in migrated.stdout
    with db.connect(via, autocommit=True) as conn:
        check = integrity.server_check(conn)
        assert set(integrity.workaround_state(conn).values()) == {check.workaround}
        f = d.floor(conn)
        first, second = d.booking(conn, f.restaurant_id), d.booking(conn, f.restaurant_id, d.at(21), d.at(23))
    with Allocator.open(via, min_size=2, max_size=2) as alloc:
        assert alloc.workaround is check.workaround
        (row,) = alloc.assign(first, [f.tables[0]], key="k1")
        assert (row.start_at, row.end_at) == (d.at(19), d.at(21)) and row.start_at.tzname() == "UTC"
        hold = alloc.create_hold(f.restaurant_id, [f.tables[1]], d.at(21), d.at(23), booking_id=second)
        assert hold.expires_at.tzname() == "UTC"
        assert [a.table_id for a in alloc.confirm_hold(hold.hold_id)] == [f.tables[1]]
        moved = alloc.move_booking(first, d.at(17), d.at(19))
        assert (moved.start_at, moved.start_at.tzname()) == (d.at(17), "UTC")
        assert alloc.set_booking_status(second, "cancelled").released
        state = alloc.booking(first)
        assert state.table_ids == (f.tables[0],) and state.start_at.tzname() == "UTC"
    shown = run("booking", "show", str(first), "--dsn", via, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert "2030-06-01T17:00:00+00:00" in shown.stdout and "-04:00" not in shown.stdout


def test_every_doctor_verb_through_the_pooler(pgbouncer: PgBouncer, origin_dsn: str) -> None:
    _not_utc(origin_dsn)
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1")
    via = pgbouncer.dsn(origin_dsn)
    refusals = pgbouncer.log().count("unsupported startup parameter")
    p, tables = str(case.booking_id), ",".join(map(str, case.table_ids))

    scanned = run("doctor", "scan", "--dsn", via, "--format", "json")
    assert scanned.returncode == 1, scanned.stderr
    assert "TMD001" in [r["code"] for r in result_of(scanned.stdout)]
    explained = run("doctor", "explain", "--dsn", via, "--booking", p, "--error", case.expected_message or "")
    assert explained.returncode == 0, explained.stderr
    planned = run("doctor", "plan", "--dsn", via, "--booking", p, "--tables", tables, "--format", "json")
    assert planned.returncode == 0, planned.stderr
    assert run("doctor", "verify", "--dsn", via, "--booking", p, "--tables", tables).returncode == 0
    repaired = run("doctor", "repair", "--dsn", via, "--booking", p, "--tables", tables, "--yes", "--format", "json")
    assert repaired.returncode == 0, repaired.stderr
    undone = run("doctor", "undo", result_of(repaired.stdout)["repair_id"], "--dsn", via)
    assert undone.returncode == 0, undone.stderr
    retried = run("doctor", "repair", "--dsn", via, "--booking", p, "--tables", tables, "--yes", "--retry",
                  "--format", "json")
    assert retried.returncode == 0, retried.stderr
    starts = [r["start_at"] for r in result_of(retried.stdout)["assigned"]]
    assert starts and all(dt.datetime.fromisoformat(s).utcoffset() == dt.timedelta(0) for s in starts), starts
    gated = run("doctor", "gate", "--dsn", via, "--format", "json")
    assert gated.returncode in (0, 1), gated.stderr
    journal = run("doctor", "journal", "--dsn", via, "--format", "json")
    assert journal.returncode == 0, journal.stderr
    entries = result_of(journal.stdout)
    assert [e["kind"] for e in entries] == ["repair", "undo", "repair"]
    assert all(str(e["created_at"]).endswith("+00:00") for e in entries), entries
    assert pgbouncer.log().count("unsupported startup parameter") == refusals
