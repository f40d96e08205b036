"""Each RPC runs as the security model's configured roles (per-run names in tests): the allocator's functions as the
service role (which may only execute them), reads as the read-only role; the conflict telemetry row is the service's
own write."""

from __future__ import annotations

import os

from psycopg import sql

from tablemend import db
from tablemend.api import Settings
from tablemend.security import Roles
from tests.api.conftest import Api, live_booking, make_api

_ASSIGN = "assign_tables_atomic_v2(uuid, uuid[], text, boolean, uuid, timestamptz, timestamptz)"


def test_rpc_runs_as_the_configured_roles(api: Api, api_dsn: str) -> None:
    roles = Roles.from_env()
    assert api.service.roles == {"service": roles.service, "readonly": roles.readonly}
    booking = live_booking(api, api.a)
    body = {"p_booking_id": str(booking["id"]), "p_table_ids": [str(t) for t in booking["tables"]]}
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
    with db.connect(api_dsn, autocommit=True) as conn:  # this database only: grants are per database
        conn.execute(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM {}").format(sql.SQL(_ASSIGN),
                                                                            sql.Identifier(roles.service)))
    refused = api.rpc("assign_tables_atomic_v2", body)  # the role is in effect: it may not execute it now
    assert (refused.status_code, refused.json()["code"]) == (403, "42501")


def test_roles_that_do_not_exist_are_not_used(api_dsn: str) -> None:
    missing = f"tm_test_no_such_role_{os.getpid()}"
    for api in make_api(api_dsn, Settings(service_role=missing, readonly_role='x"; DROP TABLE bookings; --')):
        assert api.service.roles == {}
        booking = live_booking(api, api.a)
        assert api.rpc("get_booking", {"p_booking_id": str(booking["id"])}).status_code == 200
