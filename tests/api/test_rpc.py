"""RPC as PostgREST serves it: argument names as JSON keys, the SQL result as the body, PostgREST's error body."""

from __future__ import annotations

import datetime as dt

from tests.api.conftest import Api, free_table, live_booking, snapshot


def _unseated(api: Api) -> dict[str, object]:
    """A live booking of A without tables (the sample leaves some unseated; otherwise one is unassigned)."""
    holder = live_booking(api, api.a)
    rows = api.sql("""SELECT b.id, b.party_size FROM bookings b
                      WHERE b.restaurant_id = %s AND b.id <> %s AND b.status NOT IN ('cancelled', 'completed')
                      ORDER BY b.assigned_zone_id IS NOT NULL, b.party_size, b.id LIMIT 1""", (api.a, holder["id"]))
    api.rpc("unassign_tables_atomic", {"p_booking_id": str(rows[0]["id"])})
    return rows[0]


def test_assign_returns_the_sql_rows_and_a_retry_with_the_same_key_returns_them_again(api: Api) -> None:
    booking = live_booking(api, api.a)
    api.rpc("unassign_tables_atomic", {"p_booking_id": str(booking["id"])})
    body = {"p_booking_id": str(booking["id"]), "p_table_ids": [str(t) for t in booking["tables"]],
            "p_require_adjacency": len(booking["tables"]) > 1}
    first = api.rpc("assign_tables_atomic_v2", body, headers={"Idempotency-Key": "req-1"})
    assert first.status_code == 200, first.text
    rows = first.json()
    assert [r["table_id"] for r in rows] == [str(t) for t in booking["tables"]]
    assert set(rows[0]) == {"table_id", "start_at", "end_at", "merge_group_id"}
    assert dt.datetime.fromisoformat(rows[0]["start_at"]) == booking["start_at"]
    again = api.rpc("assign_tables_atomic_v2", body, headers={"Idempotency-Key": "req-1"})
    assert again.status_code == 200 and again.json() == rows
    ledger = api.sql("SELECT idempotency_key FROM booking_assignment_idempotency WHERE booking_id = %s",
                     (booking["id"],))
    assert [r["idempotency_key"] for r in ledger] == ["req-1"]


def test_the_idempotency_key_header_fills_p_idempotency_key_and_a_different_request_is_409(api: Api) -> None:
    booking = live_booking(api, api.a)
    api.rpc("unassign_tables_atomic", {"p_booking_id": str(booking["id"])})
    tables = [str(t) for t in booking["tables"]]
    ok = api.rpc("assign_tables_atomic_v2", {"p_booking_id": str(booking["id"]), "p_table_ids": tables},
                 headers={"Idempotency-Key": "k-2"})
    assert ok.status_code == 200, ok.text
    other = free_table(api, api.a)
    clash = api.rpc("assign_tables_atomic_v2", {"p_booking_id": str(booking["id"]), "p_table_ids": [str(other)]},
                    headers={"Idempotency-Key": "k-2"})
    assert clash.status_code == 409
    assert clash.json()["code"] == "TAC03"
    assert set(clash.json()) == {"code", "message", "details", "hint"}


def test_a_conflict_is_409_naming_the_blocking_booking_and_writes_an_observability_event(api: Api) -> None:
    holder = live_booking(api, api.a)
    victim = _unseated(api)
    before = snapshot(api)
    response = api.rpc("assign_tables_atomic_v2", {
        "p_booking_id": str(victim["id"]), "p_table_ids": [str(holder["tables"][0])],
        "p_start_at": holder["start_at"].isoformat(), "p_end_at": holder["end_at"].isoformat()})
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "TAC01"
    assert f"blocking_booking_id={holder['id']}" in body["details"]
    assert str(holder["tables"][0]) in body["details"]
    assert snapshot(api) == before
    events = api.sql("SELECT event_type, context->'error'->>'code' AS code FROM observability_events "
                     "WHERE booking_id = %s", (victim["id"],))
    assert events == [{"event_type": "capacity.rpc.conflict", "code": "TAC01"}]


def test_holds_status_move_and_get_booking(api: Api) -> None:
    booking = live_booking(api, api.a)
    table = free_table(api, api.a)
    start = booking["start_at"] + dt.timedelta(days=1)
    hold = api.rpc("create_table_hold", {"p_restaurant_id": str(api.a), "p_table_ids": [str(table)],
                                         "p_start_at": start.isoformat(),
                                         "p_end_at": (start + dt.timedelta(hours=1)).isoformat()}, key="a")
    assert hold.status_code == 200, hold.text
    hold_id = hold.json()
    later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=30)
    extended = api.rpc("extend_table_hold", {"p_hold_id": hold_id, "p_expires_at": later.isoformat()}, key="a")
    assert extended.status_code == 200, extended.text
    assert dt.datetime.fromisoformat(extended.json()) == later
    assert api.rpc("release_table_hold", {"p_hold_id": hold_id}, key="a").json() is True
    assert api.rpc("release_table_hold", {"p_hold_id": hold_id}, key="a").json() is False
    moved = api.rpc("move_booking", {"p_booking_id": str(booking["id"]),
                                     "p_start_at": (booking["start_at"] + dt.timedelta(days=2)).isoformat(),
                                     "p_end_at": (booking["end_at"] + dt.timedelta(days=2)).isoformat()}, key="a")
    assert moved.status_code == 200, moved.text
    state = api.rpc("get_booking", {"p_booking_id": str(booking["id"])}, key="a_read").json()
    assert state["table_ids"] == [str(t) for t in booking["tables"]]
    assert dt.datetime.fromisoformat(state["start_at"]) == booking["start_at"] + dt.timedelta(days=2)
    previous = api.rpc("set_booking_status", {"p_booking_id": str(booking["id"]), "p_status": "cancelled"}, key="a")
    assert previous.status_code == 200 and previous.json() in ("confirmed", "pending")
    assert api.rpc("get_booking", {"p_booking_id": str(booking["id"])}).json()["table_ids"] == []


def test_confirm_hold_assigns_its_tables(api: Api) -> None:
    victim = _unseated(api)
    table = free_table(api, api.a, int(victim["party_size"]))  # type: ignore[call-overload]
    window = api.sql("SELECT start_at, end_at FROM bookings WHERE id = %s", (victim["id"],))[0]
    hold = api.rpc("create_table_hold", {"p_restaurant_id": str(api.a), "p_table_ids": [str(table)],
                                         "p_start_at": window["start_at"].isoformat(),
                                         "p_end_at": window["end_at"].isoformat(),
                                         "p_booking_id": str(victim["id"])}).json()
    confirmed = api.rpc("confirm_hold_assignment", {"p_hold_id": hold}, headers={"Idempotency-Key": "c-1"})
    assert confirmed.status_code == 200, confirmed.text
    assert [r["table_id"] for r in confirmed.json()] == [str(table)]
