"""``Allocator.scoped``: each call one transaction in one restaurant's tenant scope (and role), leaving nothing behind
on the pooled connection; and the database, not only the app, refusing another restaurant's ids."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator

import pytest
from psycopg import sql

from tablemend import Allocator, db, errors
from tablemend.sample import load, plan

DAY = dt.date(2030, 6, 3)


@pytest.fixture
def two(tm_dsn: str) -> Iterator[tuple[Allocator, list[uuid.UUID]]]:
    with db.connect(tm_dsn, autocommit=True) as conn:
        load(conn, plan(7, 2, day=DAY, days=1, bookings_per_restaurant=8))
        ids = [r["id"] for r in conn.execute("SELECT id FROM restaurants ORDER BY name, id").fetchall()]
    with Allocator.open(tm_dsn, min_size=1, max_size=1) as alloc:
        yield alloc, ids


def _seated(alloc: Allocator, restaurant: uuid.UUID) -> tuple[uuid.UUID, list[uuid.UUID]]:
    with alloc.pool.connection() as conn:
        row = conn.execute("""SELECT booking_id, array_agg(table_id ORDER BY table_id) AS t
                              FROM booking_table_assignments WHERE restaurant_id = %s
                              GROUP BY booking_id ORDER BY booking_id LIMIT 1""", (restaurant,)).fetchone()
    assert row is not None
    return row["booking_id"], list(row["t"])


def _session(alloc: Allocator) -> dict[str, object]:
    with alloc.pool.connection() as conn:  # max_size=1: the very connection the scoped call used
        row = conn.execute("SELECT current_setting('tablemend.restaurant_id', true) AS scope, "
                           "current_user::text AS who, session_user::text AS login").fetchone()
    assert row is not None
    return dict(row)


def test_a_scoped_call_leaves_no_scope_and_no_role_on_the_pooled_connection(two: tuple[Allocator, list[uuid.UUID]]
                                                                            ) -> None:
    alloc, (a, _) = two
    booking, tables = _seated(alloc, a)
    assert alloc.scoped(a).assign(booking, tables, require_adjacency=len(tables) > 1)
    after = _session(alloc)
    assert after["scope"] in (None, "") and after["who"] == after["login"]


def test_the_role_is_set_for_the_call_only_and_names_are_never_spliced(tm_dsn: str,
                                                                       two: tuple[Allocator, list[uuid.UUID]]) -> None:
    alloc, (a, _) = two
    role = f"tm_test_nobody_{os.getpid()}"
    with db.connect(tm_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
    try:
        booking, _ = _seated(alloc, a)
        assert alloc.role_usable(role)
        assert not alloc.role_usable('x"; DROP TABLE bookings; --')
        assert not alloc.role_usable(f"{role}_missing")
        with pytest.raises(errors.TablemendError) as caught:  # the role may not read bookings: it is in effect
            alloc.scoped(a, role=role).booking(booking)
        assert caught.value.sqlstate == "42501"
        assert alloc.scoped(a).booking(booking).booking_id == booking
        after = _session(alloc)
        assert after["who"] == after["login"]
    finally:
        alloc.pool.close()  # its sessions were members of the role
        with db.connect(tm_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_database_refuses_another_restaurants_booking_when_the_app_check_is_bypassed(
        two: tuple[Allocator, list[uuid.UUID]]) -> None:
    alloc, (a, b) = two
    booking, _ = _seated(alloc, b)
    before = alloc.booking(booking)
    scoped_to_a = alloc.scoped(a)  # as if the app had skipped its own check for a key of A
    with pytest.raises(errors.BookingNotFound):  # migration 0003: another restaurant's booking is not found
        scoped_to_a.unassign(booking)
    with pytest.raises(errors.BookingNotFound):
        scoped_to_a.set_booking_status(booking, "cancelled")
    assert alloc.booking(booking) == before
