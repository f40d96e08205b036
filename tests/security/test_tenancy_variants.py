"""Tenant isolation of the restaurant-keyed variants (migration 0007): a service scoped to restaurant B reaches nothing
of A through them, whether it names A's restaurant (TAF03) or its own restaurant with A's booking or hold (not found);
unscoped, they refuse (TAF01); in scope, each works (the control)."""

from __future__ import annotations

import pytest

from tablemend import security
from tablemend.errors import TablemendError
from tests.security.calls import VARIANTS, Call
from tests.security.conftest import Login, World, checksums, refusal, run


def test_every_variant_the_service_may_call_is_covered() -> None:
    assert {c.function for c in VARIANTS} == {f for f in security.SERVICE_FUNCTIONS if f.startswith("restaurant_")}


@pytest.mark.parametrize("call", VARIANTS, ids=lambda c: c.function)
def test_naming_another_restaurant_is_refused_and_changes_nothing(world: World, login: Login, call: Call) -> None:
    conn = login("service")
    before = checksums(world.dsn)
    err = refusal(conn, call.query, call.args(world.a), scope=world.b.restaurant_id)
    assert err.sqlstate == call.cross_tenant, err
    assert checksums(world.dsn) == before


@pytest.mark.parametrize("call", VARIANTS, ids=lambda c: c.function)
def test_own_restaurant_with_another_restaurants_row_is_not_found(world: World, login: Login, call: Call) -> None:
    conn = login("service")
    before = checksums(world.dsn)
    args = (world.b.restaurant_id, *call.args(world.a)[1:])  # B's id (the scope's), A's booking / hold / tables
    err = refusal(conn, call.query, args, scope=world.b.restaurant_id)
    assert err.sqlstate in {"TAN01", "TAN02", "TAV03"}, err
    assert str(world.a.restaurant_id) not in str(err)
    assert checksums(world.dsn) == before


@pytest.mark.parametrize("call", VARIANTS, ids=lambda c: c.function)
def test_an_unscoped_service_login_is_refused(world: World, login: Login, call: Call) -> None:
    conn = login("service")
    before = checksums(world.dsn)
    err = refusal(conn, call.query, call.args(world.a), scope=None)
    assert err.sqlstate == "TAF01", err
    assert checksums(world.dsn) == before


@pytest.mark.parametrize("call", VARIANTS, ids=lambda c: c.function)
def test_in_scope_each_variant_works(world: World, login: Login, call: Call) -> None:
    conn = login("service")
    before = checksums(world.dsn)
    try:
        run(conn, call.query, call.args(world.a), scope=world.a.restaurant_id)
    except TablemendError as exc:  # pragma: no cover - the failure message names the call
        raise AssertionError(f"{call.function} refused in scope: {exc}") from exc
    assert checksums(world.dsn) != before  # the control really wrote
