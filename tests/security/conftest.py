"""The attack suite's world: two restaurants with bookings, assignments and holds, logins with chosen roles, and a
checksum of every tenant table to prove that a refused call changed nothing."""

from __future__ import annotations

import itertools
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from tablemend import db
from tablemend.errors import TablemendError
from tests.integration import tmdata
from tests.integration.tmdata import at

_logins = itertools.count()

#: Every table with a restaurant_id (and restaurants itself): the relations row-level security guards.
TENANT_TABLES = (
    "restaurants", "zones", "table_inventory", "table_adjacencies", "bookings", "table_holds", "table_hold_members",
    "booking_table_assignments", "booking_table_assignments_archive", "booking_assignment_idempotency",
    "observability_events",
)


@dataclass(frozen=True)
class Side:
    """One restaurant: tables T1..T4, booking ``assigned`` on T1, booking ``free`` with none, an active hold of
    ``held`` on T3, and an out-of-service table T5."""

    restaurant_id: uuid.UUID
    tables: list[uuid.UUID]
    assigned: uuid.UUID
    free: uuid.UUID
    held: uuid.UUID
    hold_id: uuid.UUID
    broken_table: uuid.UUID


@dataclass(frozen=True)
class World:
    dsn: str
    a: Side
    b: Side


def _side(conn: db.Connection, name: str) -> Side:
    f = tmdata.floor(conn, tables=4, name=name)
    broken = tmdata.table(conn, f.restaurant_id, f.zone_id, "T5", status="out_of_service")
    assigned = tmdata.booking(conn, f.restaurant_id)
    free = tmdata.booking(conn, f.restaurant_id)
    held = tmdata.booking(conn, f.restaurant_id)
    conn.execute("SELECT * FROM assign_tables_atomic_v2(%s, %s, 'k1')", (assigned, [f.by_number["T1"]]))
    row = conn.execute("SELECT create_table_hold(%s, %s, %s, %s, now() + interval '30 minutes', %s) AS id",
                       (f.restaurant_id, [f.by_number["T3"]], at(19), at(21), held)).fetchone()
    assert row is not None
    return Side(f.restaurant_id, [f.by_number[f"T{i}"] for i in range(1, 5)], assigned, free, held, row["id"],
                broken)


@pytest.fixture
def world(tm_dsn: str) -> World:
    with db.connect(tm_dsn, autocommit=True) as conn:
        return World(tm_dsn, _side(conn, "Alpha"), _side(conn, "Beta"))


def checksums(dsn: str) -> dict[str, str]:
    """md5 of every table's rows in public and tablemend (read as the superuser: row-level security hides nothing)."""
    out: dict[str, str] = {}
    with db.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('public', 'tablemend') AND c.relkind = 'r' ORDER BY 1, 2").fetchall()
        assert {t["relname"] for t in tables} >= set(TENANT_TABLES)
        for t in tables:
            query = sql.SQL("SELECT count(*) AS n, md5(COALESCE(string_agg(t::text, '|' ORDER BY t::text), '')) AS h "
                            "FROM {} t").format(sql.Identifier(t["nspname"], t["relname"]))
            row = conn.execute(query).fetchone()
            assert row is not None
            out[f"{t['nspname']}.{t['relname']}"] = f"{row['n']}:{row['h']}"
    return out


Login = Callable[..., psycopg.Connection[Any]]


@pytest.fixture
def login(login_dsn: Callable[..., str]) -> Iterator[Login]:
    """``login(*kinds)``: a connection as a new login (see ``login_dsn``), closed afterwards."""
    made: list[psycopg.Connection[Any]] = []

    def connect(*kinds: str, autocommit: bool = True) -> psycopg.Connection[Any]:
        conn = psycopg.connect(login_dsn(*kinds), autocommit=autocommit, row_factory=dict_row,
                               prepare_threshold=None)
        made.append(conn)
        return conn

    yield connect
    for conn in made:
        conn.close()


@pytest.fixture
def login_dsn(tm_dsn: str, run_roles: dict[str, str]) -> Iterator[Callable[..., str]]:
    """``login_dsn(*kinds)``: the DSN of a new login role that is a member of the run's roles ``kinds`` (none: a login
    with no grants at all). The roles are dropped afterwards."""
    made: list[str] = []

    def create(*kinds: str) -> str:
        name = f"tm_{os.getpid()}_login_{next(_logins)}"
        password = secrets.token_hex(16)
        with psycopg.connect(tm_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name),
                                                                               sql.Literal(password)))
            for kind in kinds:
                admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(run_roles[kind]), sql.Identifier(name)))
        made.append(name)
        return make_conninfo(tm_dsn, user=name, password=password)

    yield create
    with psycopg.connect(tm_dsn, autocommit=True) as admin:
        for name in made:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def run(conn: psycopg.Connection[Any], query: Any, params: Any = None, *,
        scope: uuid.UUID | str | None = None) -> list[dict[str, Any]]:
    """One transaction: set the tenant scope (when given) the way a service does, run ``query``, return its rows;
    a refusal comes back as the typed tablemend error."""
    with db.translated(), conn.transaction():
        if scope is not None:
            conn.execute("SELECT set_config('tablemend.restaurant_id', %s, true)", (str(scope),))
        return list(conn.execute(query, params).fetchall())


def refusal(conn: psycopg.Connection[Any], query: Any, params: Any = None, *,
            scope: uuid.UUID | str | None = None) -> TablemendError:
    try:
        run(conn, query, params, scope=scope)
    except TablemendError as exc:
        return exc
    raise AssertionError(f"not refused: {query}")
