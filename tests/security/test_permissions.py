"""Roles and grants: nothing is executable by PUBLIC, a login with no grants is refused everything, the service role
may only call the allocator's functions, and the owner role (NOLOGIN) owns every object."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tablemend import db, security
from tablemend.errors import PermissionDenied
from tablemend.migrations import migrate
from tests.security.calls import CALLS, Call
from tests.security.conftest import TENANT_TABLES, Login, World, checksums, refusal

_OURS = """
    SELECT p.oid, p.proname AS name, p.prosecdef AS definer, pg_get_userbyid(p.proowner) AS owner, p.proconfig,
           COALESCE(p.proacl, acldefault('f', p.proowner)) AS acl
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('public', 'tablemend')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
    ORDER BY p.proname"""


def _functions(conn: db.Connection) -> list[dict[str, Any]]:
    rows = list(conn.execute(_OURS).fetchall())
    assert len(rows) > 20, "the catalog query found too few functions: the checks below would be vacuous"
    return rows


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.function)
def test_a_login_without_grants_is_denied_every_public_function(world: World, login: Login, call: Call) -> None:
    """Found 1: a login with zero privileges cancelled and unassigned another restaurant's bookings."""
    conn = login()
    before = checksums(world.dsn)
    for scope in (None, world.a.restaurant_id):
        err = refusal(conn, call.query, call.args(world.a), scope=scope)
        assert isinstance(err, PermissionDenied) and err.sqlstate == "42501", err
        assert err.http_status == 403
    assert checksums(world.dsn) == before


def test_a_login_without_grants_reads_and_writes_no_table(world: World, login: Login) -> None:
    conn = login()
    for name in (*TENANT_TABLES, "allocations"):
        err = refusal(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", name)))
        assert err.sqlstate == "42501", name


def test_no_function_is_executable_by_public(tm_conn: db.Connection) -> None:
    rows = _functions(tm_conn)
    public = [r["name"] for r in rows
              if tm_conn.execute("SELECT bool_or(x.grantee = 0) AS p FROM aclexplode(%s) x",
                                 (r["acl"],)).fetchone() == {"p": True}]
    assert public == []


def test_every_function_pins_pg_temp_last_and_is_owned_by_the_owner_role(tm_conn: db.Connection,
                                                                          run_roles: dict[str, str]) -> None:
    rows = _functions(tm_conn)
    assert [r["name"] for r in rows if f"search_path={security.SEARCH_PATH}" not in (r["proconfig"] or [])] == []
    assert {r["owner"] for r in rows} == {run_roles["owner"]}
    definers = sorted(r["name"] for r in rows if r["definer"])
    # plus the ledger's deferred check, which fires at commit, outside the definer function that wrote the row
    assert definers == sorted([*security.SERVICE_FUNCTIONS, "booking_assignment_idempotency_check"])


def test_every_relation_and_type_is_owned_by_the_nologin_owner_role(tm_conn: db.Connection,
                                                                    run_roles: dict[str, str]) -> None:
    owners = tm_conn.execute("""
        SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
        WHERE c.relnamespace IN ('public'::regnamespace, 'tablemend'::regnamespace)
          AND c.relkind IN ('r', 'v', 'S', 'i', 'p')
        UNION ALL
        SELECT t.typname, pg_get_userbyid(t.typowner) FROM pg_type t
        WHERE t.typnamespace = 'public'::regnamespace AND t.typtype = 'e'
        UNION ALL
        SELECT 'schema tablemend', pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'tablemend'
    """).fetchall()
    assert len(owners) > 30
    assert {r["name"]: r["owner"] for r in owners if r["owner"] != run_roles["owner"]} == {}
    roles = tm_conn.execute("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY (%s)",
                            (list(run_roles.values()),)).fetchall()
    assert sorted(r["rolname"] for r in roles) == sorted(run_roles.values())
    assert not any(r["rolcanlogin"] for r in roles)


def test_the_service_role_may_execute_only_the_allocators_functions(tm_conn: db.Connection,
                                                                    run_roles: dict[str, str]) -> None:
    service = run_roles["service"]
    rows = _functions(tm_conn)
    allowed = sorted(r["name"] for r in rows
                     if tm_conn.execute("SELECT has_function_privilege(%s, %s::oid, 'EXECUTE') AS ok",
                                        (service, r["oid"])).fetchone() == {"ok": True})
    assert allowed == sorted(security.SERVICE_FUNCTIONS)
    tables = tm_conn.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v')"
        " AND has_table_privilege(%s, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')", (service,)).fetchall()
    assert tables == []


def test_every_role_reads_the_servers_gist_verdict(tm_conn: db.Connection, run_roles: dict[str, str]) -> None:
    """Allocator.open reads the verdict migrate recorded; without SELECT a service login would probe on every open."""
    for name in ("service", "readonly", "doctor", "repair"):
        row = tm_conn.execute("SELECT has_table_privilege(%s, 'tablemend.server_checks', 'SELECT') AS ok",
                              (run_roles[name],)).fetchone()
        assert row == {"ok": True}, name


def test_functions_created_later_start_without_execute_for_public(tm_conn: db.Connection,
                                                                  run_roles: dict[str, str]) -> None:
    tm_conn.execute("CREATE FUNCTION public.tm_probe_migrator() RETURNS int LANGUAGE sql RETURN 1")
    owner = sql.Identifier(run_roles["owner"])
    tm_conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(owner))  # only for this probe
    tm_conn.execute(sql.SQL("SET ROLE {}").format(owner))
    tm_conn.execute("CREATE FUNCTION public.tm_probe_owner() RETURNS int LANGUAGE sql RETURN 1")
    tm_conn.execute("RESET ROLE")
    for name in ("tm_probe_migrator", "tm_probe_owner"):
        row = tm_conn.execute("SELECT has_function_privilege('public', %s::regproc::oid, 'EXECUTE') AS ok",
                              (f"public.{name}",)).fetchone()
        assert row == {"ok": False}, name


def test_two_migrates_creating_the_same_roles_at_once_both_succeed(templates: Any, server_dsn: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    roles = security.Roles(*(f"tm_race_{suffix}_{k}" for k in ("owner", "service", "readonly", "doctor", "repair")))
    barrier = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []
    made = [templates.fresh("empty", lambda _dsn: None) for _ in range(2)]
    names = [name for name, _ in made]

    def worker(dsn: str) -> None:
        try:
            with db.connect(dsn) as conn:
                barrier.wait()
                migrate(conn, roles=roles)
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(dsn,)) for _, dsn in made]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with psycopg.connect(server_dsn) as conn:
            found = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s",
                                 (f"tm_race_{suffix}_%",)).fetchone()
        assert found == (5,)
    finally:
        for name in names:
            templates.drop(name, wait=True)
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            for role in roles.all():
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_role_names_come_from_the_environment() -> None:
    roles = security.Roles.from_env({"TABLEMEND_SERVICE_ROLE": "service_role",
                                     "TABLEMEND_READONLY_ROLE": "authenticated"})
    assert (roles.owner, roles.service, roles.readonly) == ("tablemend_owner", "service_role", "authenticated")
    from tablemend.errors import MigrationError

    with pytest.raises(MigrationError, match="must differ"):
        security.Roles(owner="x", service="x")


def test_migrate_takes_back_grants_it_did_not_make(tm_conn: db.Connection, run_roles: dict[str, str]) -> None:
    """Supabase grants anon, authenticated and service_role everything in public by default: security.apply leaves
    strangers nothing and tablemend's own roles exactly their grants."""
    stranger = f"{run_roles['owner']}_stranger"
    tm_conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(stranger)))
    try:
        for grantee in (stranger, run_roles["service"]):
            tm_conn.execute(sql.SQL("GRANT ALL ON TABLE public.bookings TO {}").format(sql.Identifier(grantee)))
            tm_conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION public.lock_booking TO {}").format(
                sql.Identifier(grantee)))
        with tm_conn.transaction():
            security.apply(tm_conn)
        for grantee in (stranger, run_roles["service"]):
            row = tm_conn.execute(
                "SELECT has_table_privilege(%(r)s, 'public.bookings', 'SELECT, UPDATE') AS t,"
                " has_function_privilege(%(r)s, 'public.lock_booking(uuid, uuid)', 'EXECUTE') AS f",
                {"r": grantee}).fetchone()
            assert row == {"t": False, "f": False}, grantee
        row = tm_conn.execute("SELECT has_function_privilege(%s, 'public.move_booking(uuid, timestamptz, timestamptz)',"
                              " 'EXECUTE') AS ok", (run_roles["service"],)).fetchone()
        assert row == {"ok": True}
    finally:
        tm_conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(stranger)))
        tm_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(stranger)))


def test_a_service_login_can_open_the_allocator_and_is_asked_for_a_scope(world: World,
                                                                          login_dsn: Callable[..., str]) -> None:
    from tablemend.allocator import Allocator
    from tablemend.errors import ScopeRequired

    with Allocator.open(login_dsn("service"), record_conflicts=False) as alloc, pytest.raises(ScopeRequired):
        alloc.set_booking_status(world.a.free, "cancelled")
