"""Temporary tables cannot hijack the functions: every function's search_path names pg_temp last, so a caller's
temporary relation of the same name as one of tablemend's is never read or written by them."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tablemend import db
from tests.security.calls import CALLS
from tests.security.conftest import Login, World, checksums, refusal, run


def _relations(dsn: str) -> list[str]:
    with db.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
                            " AND c.relkind IN ('r', 'v') ORDER BY 1").fetchall()
    names = [r["relname"] for r in rows]
    assert len(names) >= 12
    return names


def _rows(dsn: str, relation: str) -> list[dict[str, Any]]:
    with db.connect(dsn, autocommit=True) as conn:
        query = sql.SQL("SELECT to_jsonb(t) AS r FROM {} t").format(sql.Identifier("public", relation))
        return [r["r"] for r in conn.execute(query).fetchall()]


def _shadow(conn: psycopg.Connection[Any], relation: str, rows: list[dict[str, Any]]) -> None:
    """A temporary table named like ``relation`` holding ``rows`` (the attacker's version of the truth)."""
    conn.execute(sql.SQL("CREATE TEMP TABLE {} AS SELECT * FROM jsonb_populate_recordset(NULL::{}, %s::jsonb)").format(
        sql.Identifier(relation), sql.Identifier("public", relation)), (json.dumps(rows),))


def _forged(world: World) -> dict[str, list[dict[str, Any]]]:
    """The issue's attack: no hold members (so A's active hold on T3 is invisible) and the out-of-service table T5
    shown as available."""
    tables = _rows(world.dsn, "table_inventory")
    for row in tables:
        if row["id"] == str(world.a.broken_table):
            row["status"] = "available"
    return {"table_hold_members": [], "table_inventory": tables}


@pytest.mark.parametrize("kinds", [(), ("service",)], ids=["no_grants", "service"])
def test_a_temp_table_does_not_hijack_the_definer_functions(world: World, login: Login,
                                                            kinds: tuple[str, ...]) -> None:
    """Found 2: with a temporary table_hold_members a login assigned a table under another booking's active hold,
    and with a temporary table_inventory an out-of-service table."""
    conn = login(*kinds)
    for relation, rows in _forged(world).items():
        _shadow(conn, relation, rows)
    before = checksums(world.dsn)
    a = world.a
    held = refusal(conn, "SELECT * FROM assign_tables_atomic_v2(%s, %s)", (a.free, [a.tables[2]]),
                   scope=a.restaurant_id)
    broken = refusal(conn, "SELECT * FROM assign_tables_atomic_v2(%s, %s)", (a.free, [a.broken_table]),
                     scope=a.restaurant_id)
    if kinds:
        assert (held.sqlstate, broken.sqlstate) == ("TAC02", "TAV05"), (held, broken)
    else:
        assert (held.sqlstate, broken.sqlstate) == ("42501", "42501"), (held, broken)
    assert checksums(world.dsn) == before


def test_shadowing_every_relation_changes_nothing_the_service_does(world: World, login: Login) -> None:
    """An empty temporary twin of every table and view: each public function still sees the real rows (a call that
    read a twin would find no booking, hold or table and fail)."""
    conn = login("service")
    for relation in _relations(world.dsn):
        _shadow(conn, relation, [])
    a = world.a
    for call in CALLS:
        run(conn, call.query, call.args(a), scope=a.restaurant_id)
    after = _rows(world.dsn, "booking_table_assignments")
    # assign gave `free` T2, set_booking_status cancelled it again; `assigned` was unassigned; the hold confirmed
    assert {(r["booking_id"], r["table_id"]) for r in after if r["restaurant_id"] == str(a.restaurant_id)} == {
        (str(a.held), str(a.tables[2]))}
    archived = {(r["booking_id"], r["release_reason"]) for r in _rows(world.dsn, "booking_table_assignments_archive")}
    assert {(str(a.free), "status:cancelled"), (str(a.assigned), "unassigned")} <= archived
    twins = run(conn, "SELECT count(*) AS n FROM pg_temp.booking_table_assignments")
    assert twins == [{"n": 0}]  # and nothing was written into the twins either
