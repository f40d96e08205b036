"""The installed command: ``tablemend serve`` in a subprocess, driven over real HTTP, stopped with SIGTERM."""

from __future__ import annotations

import signal

import httpx

from tests.api.conftest import _build
from tests.api.server import serve
from tests.conftest import TemplateFactory


def test_serve_prints_a_one_time_admin_key_answers_and_stops_cleanly(templates: TemplateFactory) -> None:
    with templates.database("api", _build) as dsn, serve(dsn) as server:
        assert server.admin_key.startswith("tmk_")
        auth = {"Authorization": f"Bearer {server.admin_key}"}
        assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"
        restaurants = httpx.get(f"{server.url}/api/restaurants", headers=auth).json()
        assert len(restaurants) == 2
        refused = httpx.post(f"{server.url}/rest/v1/rpc/get_booking", json={"p_booking_id": "x"}, headers=auth)
        assert refused.status_code == 422 and refused.json()["code"] == "TMH07"
        assert "X-Request-Id" in refused.headers
        assert httpx.get(f"{server.url}/rest/v1/rpc/get_booking").status_code == 405
        assert "tablemend_pool_size" in httpx.get(f"{server.url}/metrics").text
    # SIGTERM: uvicorn finishes the requests in flight, the app closes its pool, then the signal ends the process
    assert server.process.returncode in (0, -signal.SIGTERM)
    assert any("allocator pool closed" in line for line in server.stderr), server.stderr
    with templates.database("api", _build) as dsn:
        from tablemend import db, keys

        with db.connect(dsn, autocommit=True) as conn:
            keys.create(conn, "existing", all_restaurants=True, scopes=["read"])
        with serve(dsn) as again:  # a database with a key gets no new admin key
            assert httpx.get(f"{again.url}/healthz").status_code == 200
        assert again.admin_key == ""
