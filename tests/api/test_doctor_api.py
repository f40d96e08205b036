"""The doctor over HTTP: the same finding ids, plan, repair, undo, verify and gate as the library (and the CLI)."""

from __future__ import annotations

import json

from tablemend import db, doctor
from tests.api.conftest import Api, seed_expired_hold
from tests.integration.test_doctor_reindex import assignment_the_index_never_got


def test_findings_are_the_librarys_paginated_and_filtered(api: Api) -> None:
    holds = [seed_expired_hold(api, api.a, hour=h) for h in (12, 15, 18)]
    with db.connect(api.dsn, autocommit=True) as conn:
        expected = [f.id for f in doctor.scan(conn, ctx=doctor.context(conn, restaurant_id=api.a))]
    assert len(expected) >= 3
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = api.request("GET", f"/doctor/findings?restaurant_id={api.a}&limit=2&offset={offset}", key="a").json()
        assert page["total"] == len(expected) and len(page["findings"]) <= 2
        seen += [f["id"] for f in page["findings"]]
        offset = page["next_offset"]
    assert seen == expected
    only = api.request("GET", "/doctor/findings?code=TMD019&safety=safe", key="a").json()
    assert {f["code"] for f in only["findings"]} == {"TMD019"} and only["total"] == len(holds)
    streamed = api.request("GET", f"/doctor/findings/stream?restaurant_id={api.a}", key="a")
    assert streamed.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line)["id"] for line in streamed.text.splitlines()] == expected
    refused = api.request("GET", f"/doctor/findings/stream?restaurant_id={api.b}", key="a")
    assert (refused.status_code, refused.json()["code"]) == (403, "TMH04")
    none = api.request("GET", "/doctor/findings?level=error", key="a").json()
    assert none["findings"] == [] and none["total"] == 0


def test_findings_name_the_index_check_a_whole_scan_leaves_out(api: Api) -> None:
    """TMD023 (it reads every occupancy index whole) runs in a whole scan only when asked, as in the CLI: a response
    without it says so (``not_run``, the stream's ``X-Tablemend-Not-Run``), never a partial scan passed off as whole."""
    with db.connect(api.dsn, autocommit=True) as conn:
        assignment_the_index_never_got(conn)

    def codes(page: dict[str, object]) -> set[str]:
        return {str(x["code"]) for x in page["findings"]}  # type: ignore[attr-defined]

    whole = api.request("GET", "/doctor/findings").json()
    assert [c["code"] for c in whole["not_run"]] == ["TMD023"] and "TMD023" not in codes(whole)
    assert "verify_indexes=true" in whole["not_run"][0]["run_with"]
    for asked in ("verify_indexes=true", "code=TMD023"):
        page = api.request("GET", f"/doctor/findings?{asked}").json()
        assert page["not_run"] == [] and "TMD023" in codes(page)
    streamed = api.request("GET", "/doctor/findings/stream")
    assert streamed.headers["x-tablemend-not-run"] == "TMD023"
    assert "TMD023" not in {json.loads(line)["code"] for line in streamed.text.splitlines()}
    verified = api.request("GET", "/doctor/findings/stream?verify_indexes=true")
    assert "x-tablemend-not-run" not in verified.headers
    assert "TMD023" in {json.loads(line)["code"] for line in verified.text.splitlines()}
    refused = api.request("GET", "/doctor/findings?verify_indexes=maybe")
    assert (refused.status_code, refused.json()["code"]) == (422, "TMH07")


def test_plan_repair_undo_verify(api: Api) -> None:
    seeded = seed_expired_hold(api, api.a)
    finding = api.request("GET", "/doctor/findings?code=TMD019", key="a").json()["findings"][0]
    plan = api.request("POST", "/doctor/plan", key="a", json={"include": [finding["id"]], "all_safe": False}).json()
    assert [f["id"] for f in plan["apply"]] == [finding["id"]]
    assert {c["relation"] for c in plan["changes"]} == {"public.table_holds", "public.table_hold_members"}
    status = "SELECT status::text AS s FROM table_holds WHERE id = %s"
    assert api.sql(status, (seeded["hold_id"],)) == [{"s": "active"}]  # the plan wrote nothing
    repaired = api.request("POST", "/doctor/repair", key="a", json={"include": [finding["id"]]}).json()
    assert repaired["findings"] == [finding["id"]] and repaired["changes"] == len(plan["changes"])
    assert api.sql(status, (seeded["hold_id"],)) == [{"s": "expired"}]
    events = api.sql("SELECT event_type FROM observability_events WHERE event_type LIKE 'doctor.%%' "
                     "ORDER BY created_at")
    assert events == [{"event_type": "doctor.repair.applied"}]
    assert api.request("GET", "/doctor/findings?code=TMD019", key="a").json()["total"] == 0
    undone = api.request("POST", "/doctor/undo", key="a", json={"repair_id": repaired["repair_id"]})
    assert undone.status_code == 200 and undone.json()["repair_id"] == repaired["repair_id"]
    assert api.sql(status, (seeded["hold_id"],)) == [{"s": "active"}]
    again = api.request("GET", "/doctor/findings?code=TMD019", key="a").json()["findings"]
    assert [f["id"] for f in again] == [finding["id"]]  # the same id, as the CLI would print
    twice = api.request("POST", "/doctor/undo", key="a", json={"repair_id": repaired["repair_id"]})
    assert (twice.status_code, twice.json()["code"]) == (409, "TMD92")
    metrics = api.request("GET", "/metrics", key=None).text
    assert "tablemend_repairs_total 1.0" in metrics and "tablemend_undos_total 1.0" in metrics


def test_explain_verify_and_gate(api: Api) -> None:
    from tests.api.conftest import live_booking

    booking = live_booking(api, api.a)
    explained = api.request("POST", "/doctor/explain", key="a", json={"booking_id": str(booking["id"])}).json()
    # TMD022 is the server's own GiST defect (the embedded 18.6 has it), not a row of this booking
    assert explained["booking"] == str(booking["id"])
    assert [b for b in explained["blockers"] if b["code"] != "TMD022"] == []
    assert explained["allocator"]["ok"] is True
    verified = api.request("POST", "/doctor/verify", key="a", json={"booking_id": str(booking["id"])}).json()
    assert verified["ok"] is True and verified["rows"]
    gate = api.request("GET", "/doctor/gate").json()
    assert gate["profile"] == "tablemend" and gate["creatable"] is True
