"""The schema stays distributable on Citus by restaurant_id (docs/scale.md), checked from the catalog without Citus.

Each cause that broke the distribution on a real Citus cluster (issue 14) has a case: a scratch schema built with
exactly that defect, which :func:`tablemend.distribution.check` must report, beside a clean twin it must not. The real
schema must have no defect at all.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tablemend import distribution, security
from tablemend.db import Connection

# The smallest distributable pair of tenant tables; each case adds one defect to it.
BASE = """
CREATE SCHEMA scratch;
CREATE TABLE scratch.restaurants (id uuid PRIMARY KEY);
CREATE TABLE scratch.bookings (
    restaurant_id uuid NOT NULL REFERENCES scratch.restaurants (id) ON DELETE CASCADE,
    id uuid NOT NULL, zone_id uuid, status text NOT NULL DEFAULT 'pending',
    PRIMARY KEY (restaurant_id, id)
);
CREATE TABLE scratch.zones (restaurant_id uuid NOT NULL, id uuid NOT NULL, PRIMARY KEY (restaurant_id, id));
"""

CASES: dict[str, tuple[str, str]] = {
    "tenant_column": (
        "CREATE TABLE scratch.notes (id uuid, body text)",
        "notes",
    ),
    "key_without_tenant": (
        "CREATE UNIQUE INDEX bookings_id_key ON scratch.bookings (id)",
        "bookings.bookings_id_key",
    ),
    "foreign_key_without_tenant": (
        "ALTER TABLE scratch.bookings ADD CONSTRAINT bookings_zone_fkey FOREIGN KEY (zone_id, restaurant_id)"
        " REFERENCES scratch.zones (restaurant_id, id)",
        "bookings.bookings_zone_fkey",
    ),
    "foreign_key_action": (
        "ALTER TABLE scratch.bookings ADD CONSTRAINT bookings_zone_fkey FOREIGN KEY (restaurant_id, zone_id)"
        " REFERENCES scratch.zones (restaurant_id, id) ON DELETE SET NULL (zone_id)",
        "bookings.bookings_zone_fkey",
    ),
    "transition_table_trigger": (
        """
        CREATE FUNCTION scratch.touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM scratch.zones z JOIN new_rows n ON n.restaurant_id = z.restaurant_id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER bookings_touch AFTER INSERT ON scratch.bookings REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION scratch.touch();
        """,
        "bookings.bookings_touch",
    ),
    "policy_with_subquery": (
        """
        ALTER TABLE scratch.bookings ENABLE ROW LEVEL SECURITY;
        CREATE POLICY scoped ON scratch.bookings
            USING (restaurant_id = (SELECT current_setting('x.restaurant_id', true)::uuid));
        """,
        "bookings.scoped",
    ),
    "id_only_lookup": (
        """
        CREATE FUNCTION scratch.lock_booking(p_booking_id uuid) RETURNS text LANGUAGE plpgsql AS $$
        DECLARE v text;
        BEGIN
            -- restaurant_id in a comment routes nothing
            SELECT b.status INTO v FROM bookings b WHERE b.id = p_booking_id FOR UPDATE;
            RAISE NOTICE 'restaurant_id=%', v;  -- nor in a string
            RETURN v;
        END $$;
        """,
        "scratch.lock_booking(uuid)",
    ),
    "forced_generic_plan": (
        """
        CREATE FUNCTION scratch.count_bookings(p_restaurant_id uuid) RETURNS bigint LANGUAGE sql
            SET plan_cache_mode = force_generic_plan
        RETURN (SELECT count(*) FROM scratch.bookings b WHERE b.restaurant_id = p_restaurant_id);
        """,
        "scratch.count_bookings(uuid)",
    ),
}

# The same intent written the distributable way: none of these may be reported.
CLEAN_TWINS: dict[str, str] = {
    "tenant_column": (
        "CREATE TABLE scratch.notes (restaurant_id uuid NOT NULL, id uuid, PRIMARY KEY (restaurant_id, id))"
    ),
    "key_without_tenant": "CREATE UNIQUE INDEX bookings_id_key ON scratch.bookings (restaurant_id, id)",
    "foreign_key_without_tenant": (
        "ALTER TABLE scratch.bookings ADD CONSTRAINT bookings_zone_fkey FOREIGN KEY (restaurant_id, zone_id)"
        " REFERENCES scratch.zones (restaurant_id, id)"
    ),
    "foreign_key_action": (
        "ALTER TABLE scratch.bookings ADD CONSTRAINT bookings_zone_fkey FOREIGN KEY (restaurant_id, zone_id)"
        " REFERENCES scratch.zones (restaurant_id, id) ON DELETE CASCADE"
    ),
    "transition_table_trigger": """
        CREATE FUNCTION scratch.touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM scratch.zones z WHERE z.restaurant_id = NEW.restaurant_id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER bookings_touch AFTER INSERT ON scratch.bookings
            FOR EACH ROW EXECUTE FUNCTION scratch.touch();
    """,
    "policy_with_subquery": """
        ALTER TABLE scratch.bookings ENABLE ROW LEVEL SECURITY;
        CREATE POLICY scoped ON scratch.bookings
            USING (restaurant_id = current_setting('x.restaurant_id', true)::uuid);
    """,
    "id_only_lookup": """
        CREATE FUNCTION scratch.lock_booking(p_restaurant_id uuid, p_booking_id uuid) RETURNS text
        LANGUAGE plpgsql AS $$
        DECLARE v text;
        BEGIN
            SELECT b.status INTO v FROM bookings b
            WHERE b.restaurant_id = p_restaurant_id AND b.id = p_booking_id FOR UPDATE;
            RETURN v;
        END $$;
    """,
    "forced_generic_plan": """
        CREATE FUNCTION scratch.count_bookings(p_restaurant_id uuid) RETURNS bigint LANGUAGE sql
        RETURN (SELECT count(*) FROM scratch.bookings b WHERE b.restaurant_id = p_restaurant_id);
    """,
}


@pytest.fixture
def scratch(tm_conn: Connection) -> Iterator[Connection]:
    tm_conn.execute(BASE)
    try:
        yield tm_conn
    finally:
        tm_conn.execute("DROP SCHEMA scratch CASCADE")


def test_every_cause_has_a_case() -> None:
    assert set(CASES) == set(distribution.CAUSES) == set(CLEAN_TWINS)


def test_the_base_of_the_cases_distributes(scratch: Connection) -> None:
    assert distribution.check(scratch, "scratch") == []


@pytest.mark.parametrize("cause", list(CASES))
def test_each_defect_is_caught(scratch: Connection, cause: str) -> None:
    ddl, subject = CASES[cause]
    scratch.execute(ddl)
    found = distribution.check(scratch, "scratch")
    assert [(d.cause, d.subject) for d in found] == [(cause, subject)], found


@pytest.mark.parametrize("cause", list(CLEAN_TWINS))
def test_the_distributable_form_passes(scratch: Connection, cause: str) -> None:
    scratch.execute(CLEAN_TWINS[cause])
    assert distribution.check(scratch, "scratch") == []


def test_a_definer_entry_keyed_by_booking_is_caught(scratch: Connection) -> None:
    scratch.execute("""
        CREATE FUNCTION scratch.cancel(p_booking_id uuid, p_restaurant_id uuid) RETURNS void
        LANGUAGE sql SECURITY DEFINER
        BEGIN ATOMIC
            UPDATE scratch.bookings SET status = 'cancelled'
            WHERE restaurant_id = p_restaurant_id AND id = p_booking_id;
        END
    """)
    found = distribution.check(scratch, "scratch")
    assert [(d.cause, d.subject) for d in found] == [("id_only_lookup", "scratch.cancel(uuid,uuid)")]
    assert "first argument" in found[0].detail


def test_a_compatibility_entry_must_call_its_keyed_variant(scratch: Connection) -> None:
    scratch.execute("""
        CREATE FUNCTION scratch.set_booking_status(p_booking_id uuid, p_status text) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER AS $$
        BEGIN
            UPDATE scratch.bookings b SET status = p_status WHERE b.id = p_booking_id;
        END $$;
    """)
    found = distribution.check(scratch, "scratch")
    assert [(d.cause, d.subject) for d in found] == [("id_only_lookup", "scratch.set_booking_status(uuid,text)")]
    assert "restaurant_set_booking_status" in found[0].detail


def test_a_call_to_a_compatibility_entry_is_caught(scratch: Connection) -> None:
    scratch.execute("""
        CREATE FUNCTION scratch.cancel_all(p_restaurant_id uuid, p_booking_ids uuid[]) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_booking_status(x, 'cancelled') FROM unnest(p_booking_ids) AS x;
        END $$;
    """)
    found = distribution.check(scratch, "scratch")
    assert [(d.cause, d.subject) for d in found] == [("id_only_lookup", "scratch.cancel_all(uuid,uuid[])")]
    assert "restaurant_set_booking_status" in found[0].detail


def test_an_optional_restaurant_filter_routes_nothing(scratch: Connection) -> None:
    scratch.execute("""
        CREATE FUNCTION scratch.lock_booking(p_restaurant_id uuid, p_booking_id uuid) RETURNS text
        LANGUAGE plpgsql AS $$
        DECLARE v text;
        BEGIN
            SELECT b.status INTO v FROM bookings b
            WHERE b.id = p_booking_id AND (p_restaurant_id IS NULL OR b.restaurant_id = p_restaurant_id) FOR UPDATE;
            RETURN v;
        END $$;
    """)
    found = distribution.check(scratch, "scratch")
    assert [(d.cause, d.subject) for d in found] == [("id_only_lookup", "scratch.lock_booking(uuid,uuid)")]


def test_the_schema_distributes(tm_conn: Connection) -> None:
    # a single server: migrate forced generic plans on the entry points, the one defect distribute removes itself
    forced = distribution.generic_plans(tm_conn)
    assert forced and all(forced.values())
    assert {(d.cause, d.subject.split("(")[0]) for d in distribution.check(tm_conn)} == {
        ("forced_generic_plan", name) for name in forced}
    distribution.set_generic_plans(tm_conn, False)
    assert distribution.check(tm_conn) == []


def test_generic_plans_cover_every_service_function(tm_conn: Connection) -> None:
    assert set(distribution.generic_plans(tm_conn)) == set(security.SERVICE_FUNCTIONS)
    assert distribution.apply_plan_mode(tm_conn) is True  # no Citus here


def test_allocator_tables_exist(tm_conn: Connection) -> None:
    names = {r["name"] for r in tm_conn.execute(
        "SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")}
    expected = {
        "restaurants", "zones", "table_inventory", "table_adjacencies", "bookings", "table_holds",
        "table_hold_members", "booking_table_assignments", "booking_table_assignments_archive",
        "booking_assignment_idempotency", "observability_events",
    }
    assert expected <= names
