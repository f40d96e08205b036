"""Health, readiness, metrics, request ids, the page's fragments and /openapi.json against the routes."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.routing import APIRoute

from tablemend import db, integrity
from tests.api.conftest import DAY, Api, live_booking, seed_expired_hold


def test_health_and_readiness(api: Api) -> None:
    assert api.request("GET", "/healthz", key=None).json() == {"status": "ok"}
    ready = api.request("GET", "/readyz", key=None)
    assert ready.status_code == 200 and ready.json()["schema"] == "current"
    with db.connect(api.dsn) as conn:  # the same verdict the CLI's `db check` gives for this server
        verdict = integrity.server_check(conn).verdict
    assert ready.json()["server_self_test"] == verdict.value
    assert ready.json()["workaround"] is (verdict is not integrity.Verdict.fixed)
    api.sql("DELETE FROM tablemend.schema_migrations WHERE version = '0005' RETURNING version")
    behind = api.request("GET", "/readyz", key=None)
    assert (behind.status_code, behind.json()["code"]) == (503, "TMU06")
    assert "0005_api_keys" in behind.json()["message"]


def test_request_id_is_echoed_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tablemend.access"):
        given = api.request("GET", "/healthz", key=None, headers={"X-Request-Id": "abc-123"})
        made = api.request("GET", "/healthz", key=None, headers={"X-Request-Id": "bad id\n"})
    assert given.headers["X-Request-Id"] == "abc-123"
    assert made.headers["X-Request-Id"] != "bad id\n" and len(made.headers["X-Request-Id"]) == 32
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tablemend.access"]
    assert lines[0]["request_id"] == "abc-123" and lines[0]["status"] == 200 and lines[0]["path"] == "/healthz"


def test_metrics_count_assign_latency_conflicts_errors_findings_and_pool(api: Api) -> None:
    booking = live_booking(api, api.a)
    body = {"p_booking_id": str(booking["id"]), "p_table_ids": [str(t) for t in booking["tables"]]}
    assert api.rpc("assign_tables_atomic_v2", body).status_code == 200
    api.rpc("assign_tables_atomic_v2", {**body, "p_table_ids": []})
    seed_expired_hold(api, api.a)
    api.request("GET", "/doctor/findings", key="a")
    text = api.request("GET", "/metrics", key=None).text
    assert 'tablemend_rpc_seconds_count{function="assign_tables_atomic_v2"} 2.0' in text
    assert 'tablemend_errors_total{code="TAV01",status="422"} 1.0' in text
    assert 'tablemend_findings_reported_total{code="TMD019"} 1.0' in text
    assert "tablemend_pool_max 4.0" in text and "tablemend_pool_size" in text


def test_a_conflict_is_counted_by_code(api: Api) -> None:
    holder = live_booking(api, api.a)
    other = api.sql("SELECT id FROM bookings WHERE restaurant_id = %s AND id <> %s AND status = 'confirmed' LIMIT 1",
                    (api.a, holder["id"]))[0]["id"]
    r = api.rpc("assign_tables_atomic_v2", {"p_booking_id": str(other), "p_table_ids": [str(holder["tables"][0])],
                                            "p_start_at": holder["start_at"].isoformat(),
                                            "p_end_at": holder["end_at"].isoformat()})
    assert r.status_code == 409
    text = api.request("GET", "/metrics", key=None).text
    assert 'tablemend_conflicts_total{code="TAC01",function="assign_tables_atomic_v2"} 1.0' in text


def test_page_shell_fragments_and_static(api: Api) -> None:
    shell = api.request("GET", "/", key=None)
    assert shell.status_code == 200 and '<label for="apikey">' in shell.text
    assert api.request("GET", "/static/page.js", key=None).headers["content-type"].startswith("text/javascript")
    assert api.request("GET", "/static/../keys.py", key=None).status_code == 404
    seeded = seed_expired_hold(api, api.a)
    booking = live_booking(api, api.a)
    html = api.request("GET", f"/ui/timeline?restaurant_id={api.a}&day={DAY}", key="a_read").text
    assert f'data-hold="{seeded["hold_id"]}"' in html
    hold_bar = html.split(f'data-hold="{seeded["hold_id"]}"')[0].rsplit("<button", 1)[1]
    assert "finding" in hold_bar  # highlighted in red
    assert f'data-booking="{booking["id"]}"' in html and "TMD019" in html
    panel = api.request("GET", f"/ui/booking/{booking['id']}", key="a_read").text
    assert "Explain" in panel and "succeeds" in panel


def test_openapi_lists_every_route_and_every_rpc_argument(api: Api) -> None:
    from tablemend.api.rpc import FUNCTIONS

    spec = api.request("GET", "/openapi.json", key=None).json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes = {(r.path, m) for r in api.app.routes if isinstance(r, APIRoute) for m in r.methods}
    assert documented == routes
    for fn in FUNCTIONS.values():
        op = spec["paths"][f"/rest/v1/rpc/{fn.name}"]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert list(schema["properties"]) == [p.name for p in fn.params]
        assert schema["required"] == [p.name for p in fn.params if p.required]
