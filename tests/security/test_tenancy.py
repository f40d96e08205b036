"""Tenant isolation: the service role scoped to restaurant B gets a typed refusal for every call on A's rows and
changes nothing; an unscoped service login is refused; row-level security shows and lets write only the scope."""

from __future__ import annotations

import pytest
from psycopg import sql

from tablemend.errors import AllocatorForbidden, AllocatorNotFound, TablemendError
from tests.integration.tmdata import at
from tests.security.calls import CALLS, Call
from tests.security.conftest import TENANT_TABLES, Login, World, checksums, refusal, run


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.function)
def test_a_service_scoped_to_another_restaurant_is_refused_and_changes_nothing(world: World, login: Login,
                                                                                call: Call) -> None:
    conn = login("service")
    before = checksums(world.dsn)
    err = refusal(conn, call.query, call.args(world.a), scope=world.b.restaurant_id)
    assert err.sqlstate == call.cross_tenant, err
    assert isinstance(err, AllocatorNotFound | AllocatorForbidden)
    if call.cross_tenant != "TAF03":  # (TAF03 echoes the restaurant id the caller passed itself)
        # "not found": the message and DETAIL name only the caller's own restaurant, never A's
        assert str(world.a.restaurant_id) not in str(err)
    assert checksums(world.dsn) == before


@pytest.mark.parametrize("query", [
    "SELECT * FROM assign_tables_atomic_v2(%(booking)s, %(tables)s)",
    "SELECT create_table_hold(%(restaurant)s, %(tables)s, %(start)s, %(end)s, now() + interval '5 minutes')",
], ids=["assign", "create_hold"])
def test_another_restaurants_table_is_unknown_to_a_scoped_caller(world: World, login: Login, query: str) -> None:
    conn = login("service")
    before = checksums(world.dsn)
    params = {"booking": world.b.free, "tables": [world.a.tables[1]], "restaurant": world.b.restaurant_id,
              "start": at(19), "end": at(21)}
    err = refusal(conn, query, params, scope=world.b.restaurant_id)
    assert err.sqlstate == "TAV03" and str(world.a.restaurant_id) not in str(err), err
    assert checksums(world.dsn) == before


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.function)
def test_an_unscoped_service_login_is_refused(world: World, login: Login, call: Call) -> None:
    conn = login("service")
    before = checksums(world.dsn)
    for scope in (None, ""):
        err = refusal(conn, call.query, call.args(world.a), scope=scope)
        assert err.sqlstate == "TAF01" and err.http_status == 403, err
        assert err.hint and "tablemend.restaurant_id" in err.hint
    assert checksums(world.dsn) == before


def test_a_scope_that_is_not_a_uuid_is_refused(world: World, login: Login) -> None:
    conn = login("service")
    call = CALLS[0]
    for bad in ("not-a-uuid", "' OR true --", str(world.a.restaurant_id).replace("-", "")):
        err = refusal(conn, call.query, call.args(world.a), scope=bad)
        assert err.sqlstate == "TAF02", (bad, err)


def test_the_same_calls_in_scope_succeed(world: World, login: Login) -> None:
    """The control: scoped to its own restaurant, the service role can do everything the refusals above deny."""
    conn = login("service")
    a = world.a
    for call in CALLS:
        try:
            run(conn, call.query, call.args(a), scope=a.restaurant_id)
        except TablemendError as exc:  # pragma: no cover - the failure message names the call
            raise AssertionError(f"{call.function} refused in scope: {exc}") from exc


def test_readonly_sees_only_its_scope_and_nothing_unscoped(world: World, login: Login) -> None:
    conn = login("readonly")
    for name in (*TENANT_TABLES, "allocations"):
        column = "id" if name == "restaurants" else "restaurant_id"
        query = sql.SQL("SELECT array_agg(DISTINCT {}) AS ids, count(*) AS n FROM {}").format(
            sql.Identifier(column), sql.Identifier("public", name))
        scoped = run(conn, query, scope=world.a.restaurant_id)[0]
        assert scoped["ids"] in ([world.a.restaurant_id], None), name
        assert run(conn, query)[0]["n"] == 0, name
    seen = run(conn, "SELECT count(*) AS n FROM bookings", scope=world.a.restaurant_id)[0]["n"]
    assert seen == 3  # assigned, free, held: the scope shows A's own rows


def test_readonly_cannot_write(world: World, login: Login) -> None:
    conn = login("readonly")
    err = refusal(conn, "UPDATE bookings SET notes = 'x'", scope=world.a.restaurant_id)
    assert err.sqlstate == "42501"


def test_row_level_security_limits_writes_to_the_scope(world: World, login: Login) -> None:
    conn = login("repair")
    before = checksums(world.dsn)
    rows = run(conn, "UPDATE bookings SET notes = 'x' WHERE restaurant_id = %s RETURNING id", (world.b.restaurant_id,),
               scope=world.a.restaurant_id)
    assert rows == []
    rows = run(conn, "DELETE FROM table_adjacencies WHERE restaurant_id = %s RETURNING table_a",
               (world.b.restaurant_id,), scope=world.a.restaurant_id)
    assert rows == []
    err = refusal(conn, "INSERT INTO zones (restaurant_id, name) VALUES (%s, 'Terrace')", (world.b.restaurant_id,),
                  scope=world.a.restaurant_id)
    assert err.sqlstate == "42501" and "row-level security" in err.message
    err = refusal(conn, "UPDATE zones SET restaurant_id = %s WHERE restaurant_id = %s",
                  (world.b.restaurant_id, world.a.restaurant_id), scope=world.a.restaurant_id)
    assert err.sqlstate in ("42501", "23503"), err
    assert checksums(world.dsn) == before
