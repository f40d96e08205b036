"""Bad JSON, wrong types, unknown functions and arguments, huge arrays and bodies: one 4xx in PostgREST's body each,
and nothing changed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.api.conftest import Api, live_booking, snapshot

_SHAPE = {"code", "message", "details", "hint"}


def _refused(api: Api, response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == _SHAPE and body["code"] == code, body
    return body


def test_bad_requests_change_nothing(api: Api) -> None:
    booking = live_booking(api, api.a)
    bid, table = str(booking["id"]), str(booking["tables"][0])
    before = snapshot(api)
    url = "/rest/v1/rpc/unassign_tables_atomic"
    h = {"Content-Type": "application/json"}
    _refused(api, api.request("POST", url, content=b'{"p_booking_id": ', headers=h), 400, "TMH06")
    _refused(api, api.request("POST", url, content=b"\xff\xfe", headers=h), 400, "TMH06")
    _refused(api, api.request("POST", url, content=b'["p_booking_id"]', headers=h), 400, "TMH06")
    wrong_types: list[dict[str, Any]] = [
        {"p_booking_id": 42},
        {"p_booking_id": "not-a-uuid"},
        {"p_booking_id": [bid]},
        {"p_booking_id": bid, "p_table_ids": table},
        {"p_booking_id": bid, "p_table_ids": [1, 2]},
        {"p_booking_id": bid, "p_table_ids": [table], "p_extra": True},
        {},
    ]
    for body in wrong_types:
        named = _refused(api, api.rpc("unassign_tables_atomic", body), 422, "TMH07")
        assert "unassign_tables_atomic" in named["message"]
    assign = {"p_booking_id": bid, "p_table_ids": [table]}
    for field, value in (("p_require_adjacency", "yes"), ("p_require_adjacency", 1),
                         ("p_start_at", "2030-06-03 19:00"), ("p_start_at", "tomorrow"), ("p_idempotency_key", 5)):
        body = _refused(api, api.rpc("assign_tables_atomic_v2", {**assign, field: value}), 422, "TMH07")
        assert field in body["message"]
    _refused(api, api.rpc("drop_everything", {"p_booking_id": bid}), 404, "TMH05")
    mismatch = api.rpc("assign_tables_atomic_v2", {**assign, "p_idempotency_key": "a"},
                       headers={"Idempotency-Key": "b"})
    _refused(api, mismatch, 422, "TMH07")
    many = [str(uuid.uuid4()) for _ in range(10_000)]
    small = json.dumps({"p_booking_id": bid, "p_table_ids": ["00000000-0000-0000-0000-000000000000"] * 10_000})
    _refused(api, api.request("POST", "/rest/v1/rpc/assign_tables_atomic_v2", content=small.encode(), headers=h),
             413, "TMH08")
    api_big = api.service.settings.max_body_bytes
    assert len(json.dumps({"p_booking_id": bid, "p_table_ids": many})) > api_big
    compact = json.dumps({"p_booking_id": bid, "p_table_ids": [table] * 10_000}, separators=(",", ":"))
    assert len(compact) > api_big  # even the tightest 10,000-element array is past the body limit
    megabyte = json.dumps({"p_booking_id": bid, "p_idempotency_key": "x" * 1_000_000})
    _refused(api, api.request("POST", url, content=megabyte.encode(), headers=h), 413, "TMH08")
    _refused(api, api.request("POST", "/doctor/plan", json={"include": ["x"] * 10_000}), 422, "TMH07")
    _refused(api, api.request("POST", "/doctor/plan", json={"restaurant_id": 5}), 422, "TMH07")
    _refused(api, api.request("POST", "/doctor/repair", json={"all_safe": "yes"}), 422, "TMH07")
    _refused(api, api.request("POST", "/doctor/plan", content=b"{", headers=h), 400, "TMH06")
    _refused(api, api.request("GET", "/doctor/findings?limit=0"), 422, "TMH07")
    _refused(api, api.request("GET", "/no/such/route"), 404, "TMH05")
    _refused(api, api.request("GET", url), 405, "TMH05")
    assert snapshot(api) == before


def test_arrays_past_the_cap_are_refused_under_a_larger_body_limit(api_dsn: str) -> None:
    from tablemend.api import Settings
    from tests.api.conftest import make_api

    for big in make_api(api_dsn, Settings(max_body_bytes=2_000_000)):
        booking = live_booking(big, big.a)
        before = snapshot(big)
        many = [str(uuid.uuid4()) for _ in range(10_000)]
        body = _refused(big, big.rpc("assign_tables_atomic_v2", {"p_booking_id": str(booking["id"]),
                                                                 "p_table_ids": many}), 422, "TMH07")
        assert "10000 elements" in body["message"]
        assert snapshot(big) == before
