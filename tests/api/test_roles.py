"""Each RPC runs as the configured database role when it exists: the allocator's functions as the service role (which
may only execute them), reads as the read-only role; the conflict telemetry row is the service's own write. Roles are
created per run with unique names and dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from psycopg import sql

from tablemend import db
from tablemend.api import Settings
from tests.api.conftest import live_booking, make_api


@pytest.fixture
def roles(api_dsn: str) -> Iterator[tuple[str, str]]:
    service, readonly = f"tm_test_service_{os.getpid()}", f"tm_test_readonly_{os.getpid()}"
    with db.connect(api_dsn, autocommit=True) as conn:
        for role in (service, readonly):
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
        conn.execute("REVOKE EXECUTE ON FUNCTION assign_tables_atomic_v2(uuid, uuid[], text, boolean, uuid, "
                     "timestamptz, timestamptz) FROM PUBLIC")
        conn.execute(sql.SQL("GRANT SELECT ON bookings, booking_table_assignments TO {}").format(
            sql.Identifier(readonly)))
    try:
        yield service, readonly
    finally:
        with db.connect(api_dsn, autocommit=True) as conn:
            for role in (service, readonly):
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_rpc_runs_as_the_configured_roles(api_dsn: str, roles: tuple[str, str]) -> None:
    service_role, readonly_role = roles
    for api in make_api(api_dsn, Settings(service_role=service_role, readonly_role=readonly_role)):
        assert api.service.roles == {"service": service_role, "readonly": readonly_role}
        booking = live_booking(api, api.a)
        body = {"p_booking_id": str(booking["id"]), "p_table_ids": [str(t) for t in booking["tables"]]}
        refused = api.rpc("assign_tables_atomic_v2", body)  # the service role may not execute it yet
        assert refused.status_code == 500 and refused.json()["code"] == "42501"
        with db.connect(api_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION assign_tables_atomic_v2(uuid, uuid[], text, boolean, "
                                 "uuid, timestamptz, timestamptz) TO {}").format(sql.Identifier(service_role)))
        assert api.rpc("assign_tables_atomic_v2", body).status_code == 200
        other = api.sql("SELECT id FROM bookings WHERE restaurant_id = %s AND id <> %s AND status = 'confirmed' "
                        "LIMIT 1", (api.a, booking["id"]))[0]["id"]
        clash = api.rpc("assign_tables_atomic_v2", {
            "p_booking_id": str(other), "p_table_ids": [str(booking["tables"][0])],
            "p_start_at": booking["start_at"].isoformat(), "p_end_at": booking["end_at"].isoformat()})
        assert clash.status_code == 409
        # written although the service role may not insert it: the service records it, not the tenant role
        assert api.sql("SELECT count(*) AS n FROM observability_events WHERE booking_id = %s", (other,)) == [{"n": 1}]
        assert api.rpc("get_booking", {"p_booking_id": str(booking["id"])}).status_code == 200
        with db.connect(api_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("REVOKE SELECT ON bookings FROM {}").format(sql.Identifier(readonly_role)))
        assert api.rpc("get_booking", {"p_booking_id": str(booking["id"])}).json()["code"] == "42501"
        api.service.allocator.pool.close()  # its sessions are members of the roles being dropped


def test_roles_that_do_not_exist_are_not_used(api_dsn: str) -> None:
    missing = f"tm_test_no_such_role_{os.getpid()}"
    for api in make_api(api_dsn, Settings(service_role=missing, readonly_role='x"; DROP TABLE bookings; --')):
        assert api.service.roles == {}
        booking = live_booking(api, api.a)
        assert api.rpc("get_booking", {"p_booking_id": str(booking["id"])}).status_code == 200
