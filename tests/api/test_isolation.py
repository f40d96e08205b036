"""A key of restaurant A gets zero successes on restaurant B's ids, on every route (403, or 404 where existence would
leak), and nothing of B changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tablemend.api.rpc import FUNCTIONS
from tests.api.conftest import Api, free_table, live_booking, seed_expired_hold, snapshot


def _b_ids(api: Api) -> dict[str, Any]:
    booking = live_booking(api, api.b)
    hold = api.rpc("create_table_hold", {
        "p_restaurant_id": str(api.b), "p_table_ids": [str(free_table(api, api.b))],
        "p_start_at": "2030-06-10T19:00:00+00:00", "p_end_at": "2030-06-10T20:00:00+00:00"}, key="b").json()
    assert isinstance(hold, str), hold
    expired = seed_expired_hold(api, api.b)
    findings = api.request("GET", "/doctor/findings", key="b").json()["findings"]
    finding = next(f["id"] for f in findings if f["code"] == "TMD019")
    repaired = api.request("POST", "/doctor/repair", key="b", json={"include": [finding]})
    assert repaired.status_code == 200, repaired.text
    # put the finding back (undo), so B still has one for A to try to see
    undo = api.request("POST", "/doctor/undo", key="b", json={"repair_id": repaired.json()["repair_id"]})
    assert undo.status_code == 200, undo.text
    again = api.request("POST", "/doctor/repair", key="b", json={"include": [finding]}).json()["repair_id"]
    return {"booking": str(booking["id"]), "tables": [str(t) for t in booking["tables"]], "hold": hold,
            "start": booking["start_at"], "end": booking["end_at"], "repair": again, "finding": finding,
            "expired": expired}


def _rpc_attempts(b: dict[str, Any], a_table: str, restaurant_b: str) -> dict[str, dict[str, Any]]:
    later = b["start"] + dt.timedelta(days=3)
    return {
        "assign_tables_atomic_v2": {"p_booking_id": b["booking"], "p_table_ids": b["tables"]},
        "unassign_tables_atomic": {"p_booking_id": b["booking"]},
        "create_table_hold": {"p_restaurant_id": restaurant_b, "p_table_ids": b["tables"],
                              "p_start_at": later.isoformat(), "p_end_at": (later + dt.timedelta(hours=1)).isoformat()},
        "extend_table_hold": {"p_hold_id": b["hold"],
                              "p_expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).isoformat()},
        "release_table_hold": {"p_hold_id": b["hold"]},
        "confirm_hold_assignment": {"p_hold_id": b["hold"]},
        "set_booking_status": {"p_booking_id": b["booking"], "p_status": "cancelled"},
        "move_booking": {"p_booking_id": b["booking"], "p_start_at": later.isoformat(),
                         "p_end_at": (later + dt.timedelta(hours=2)).isoformat()},
        "get_booking": {"p_booking_id": b["booking"]},
    }


def test_a_key_of_restaurant_a_gets_nothing_of_b(api: Api) -> None:
    b = _b_ids(api)
    a_table = str(free_table(api, api.a))
    before = snapshot(api)
    hold_before = api.sql("SELECT status::text AS s, expires_at FROM table_holds WHERE id = %s", (b["hold"],))
    journal_before = api.sql("SELECT count(*) AS n FROM tablemend_doctor.journal")[0]["n"]
    attempts = _rpc_attempts(b, a_table, str(api.b))
    assert set(attempts) == set(FUNCTIONS)  # every RPC function is tried
    outcomes: dict[str, tuple[int, str]] = {}
    for fn, body in attempts.items():
        r = api.rpc(fn, body, key="a")
        outcomes[fn] = (r.status_code, r.json()["code"])
    # a booking or hold of B answers exactly like an unknown one; naming B itself is forbidden
    assert outcomes == {
        "assign_tables_atomic_v2": (404, "TAN01"), "unassign_tables_atomic": (404, "TAN01"),
        "create_table_hold": (403, "TMH04"), "extend_table_hold": (404, "TAN02"),
        "release_table_hold": (404, "TAN02"), "confirm_hold_assignment": (404, "TAN02"),
        "set_booking_status": (404, "TAN01"), "move_booking": (404, "TAN01"), "get_booking": (404, "TAN01"),
    }
    # A's booking with B's tables: B's table ids look like unknown ones
    mine = live_booking(api, api.a)
    mixed = api.rpc("assign_tables_atomic_v2", {"p_booking_id": str(mine["id"]), "p_table_ids": b["tables"]}, key="a")
    assert (mixed.status_code, mixed.json()["code"]) == (422, "TAV03")
    assert str(api.b) not in mixed.text

    doctor_and_page: list[tuple[str, str, Any, int]] = [
        ("GET", f"/doctor/findings?restaurant_id={api.b}", None, 403),
        ("GET", f"/doctor/findings?booking_id={b['booking']}", None, 404),
        ("GET", f"/doctor/findings/stream?restaurant_id={api.b}", None, 403),
        ("GET", f"/doctor/findings/stream?booking_id={b['booking']}", None, 404),
        ("POST", "/doctor/explain", {"booking_id": b["booking"]}, 404),
        ("POST", "/doctor/plan", {"restaurant_id": str(api.b)}, 403),
        ("POST", "/doctor/plan", {"booking_id": b["booking"]}, 404),
        ("POST", "/doctor/plan", {"include": [b["finding"]]}, 404),  # scoped to A: B's finding does not exist
        ("POST", "/doctor/repair", {"restaurant_id": str(api.b), "all_safe": True}, 403),
        ("POST", "/doctor/repair", {"booking_id": b["booking"]}, 404),
        ("POST", "/doctor/repair", {"include": [b["finding"]]}, 404),
        ("POST", "/doctor/undo", {"repair_id": str(b["repair"])}, 404),
        ("POST", "/doctor/verify", {"booking_id": b["booking"]}, 404),
        ("GET", "/doctor/gate", None, 403),
        ("GET", f"/ui/timeline?restaurant_id={api.b}&day=2030-06-03", None, 403),
        ("GET", f"/ui/booking/{b['booking']}", None, 404),
    ]
    for method, url, body, status in doctor_and_page:
        r = api.request(method, url, key="a", json=body)
        assert r.status_code == status, (url, body, r.text)
        assert set(r.json()) == {"code", "message", "details", "hint"}
        assert b["booking"] not in r.json()["message"] or status == 404
    listed = api.request("GET", "/api/restaurants", key="a").json()
    assert [r["id"] for r in listed] == [str(api.a)]
    assert snapshot(api) == before
    assert api.sql("SELECT count(*) AS n FROM tablemend_doctor.journal")[0]["n"] == journal_before
    hold = api.sql("SELECT status::text AS s, expires_at FROM table_holds WHERE id = %s", (b["hold"],))
    assert hold == hold_before and hold[0]["s"] == "active"


def test_scopes_are_enforced(api: Api) -> None:
    booking = live_booking(api, api.a)
    before = snapshot(api)
    r = api.rpc("unassign_tables_atomic", {"p_booking_id": str(booking["id"])}, key="a_read")
    assert (r.status_code, r.json()["code"]) == (403, "TMH03")
    r = api.request("POST", "/doctor/repair", key="a_read", json={"all_safe": True})
    assert (r.status_code, r.json()["code"]) == (403, "TMH03")
    r = api.rpc("get_booking", {"p_booking_id": str(booking["id"])}, key=None)
    assert (r.status_code, r.json()["code"]) == (401, "TMH01")
    r = api.rpc("get_booking", {"p_booking_id": str(booking["id"])}, key="tmk_not-a-real-key")
    assert (r.status_code, r.json()["code"]) == (401, "TMH02")
    supabase_style = api.rpc("get_booking", {"p_booking_id": str(booking["id"])}, key=None,
                             headers={"apikey": api.keys["a_read"]})
    assert supabase_style.status_code == 200
    assert snapshot(api) == before


def test_a_revoked_key_is_refused(api: Api) -> None:
    from tablemend import db, keys

    with db.connect(api.dsn, autocommit=True) as conn:
        key = keys.authenticate(conn, api.keys["a_read"])
        keys.revoke(conn, key.id)
    r = api.request("GET", "/api/restaurants", key="a_read")
    assert (r.status_code, r.json()["code"]) == (401, "TMH02")


def test_with_the_app_check_bypassed_the_database_still_refuses(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the app's own check were broken: every call for B's ids runs in A's tenant scope, and the database
    (row-level security and the definer functions, migration 0003) refuses it."""
    from tablemend.api import rpc

    b = _b_ids(api)
    monkeypatch.setattr(rpc, "target_restaurant", lambda service, key, fn, args: api.a)
    before = snapshot(api)
    outcomes = {fn: api.rpc(fn, body, key="a") for fn, body in _rpc_attempts(b, "", str(api.b)).items()}
    assert {fn: r.status_code for fn, r in outcomes.items() if r.status_code < 400} == {}
    codes = {fn: r.json()["code"] for fn, r in outcomes.items()}
    assert codes["assign_tables_atomic_v2"] == "TAN01" and codes["get_booking"] == "TAN01"
    assert codes["create_table_hold"] == "TAF03" and codes["release_table_hold"] == "TAN02"
    assert snapshot(api) == before
