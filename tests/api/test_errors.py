"""Every error code the allocator, the doctor and the service can raise: its HTTP status and PostgREST's body.

The table below is the contract (a change of status is a change of API); each class is raised inside a route of the
real app and rendered by its one error handler. The real paths that raise the common codes are driven after it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tablemend import errors
from tests.api.conftest import Api, free_table, live_booking, snapshot

STATUS: dict[str, int] = {
    # usage and environment
    "TMU01": 422, "TMU02": 503, "TMU03": 500, "TMU04": 500, "TMU06": 503,
    # allocator: validation, not found, conflict, integrity
    "TAV01": 422, "TAV02": 422, "TAV03": 422, "TAV04": 422, "TAV05": 422, "TAV06": 422, "TAV07": 422,
    "TAV08": 422, "TAV09": 422, "TAN01": 404, "TAN02": 404,
    "TAC01": 409, "TAC02": 409, "TAC03": 409, "TAC04": 409, "TAC05": 409, "TAC06": 409, "TAC07": 409,
    "TAC08": 409, "TAC09": 409, "TAI01": 409,
    # the security model (migration 0003): input bounds, tenant scope, privileges
    "TAV10": 422, "TAV11": 422, "TAV12": 422, "TAV13": 422, "TAF01": 403, "TAF02": 403, "TAF03": 403,
    "42501": 403,
    # auto-assign (quote, hold best, re-pack) and the server self-test, from the merges after the security model
    "TAV20": 422, "TAV21": 422, "TAV22": 422, "TAV23": 422, "TAV24": 422,
    "TAC20": 409, "TAC21": 409, "TAC22": 409, "TAC23": 409, "TAC24": 409,
    "TMD73": 409, "TMD74": 422, "TMD82": 409, "TMD83": 409, "TMU10": 503,
    # doctor
    "TMD90": 409, "TMD91": 422, "TMD92": 409, "TMD93": 503, "TMD94": 409, "TMD95": 404, "TMD96": 404,
    "TMD97": 409,
    # issue 12: the doctor's unknown booking is a not-found, as the allocator's TAN01
    "TMD60": 404,
    # doctor precision: row-level security refused, an incomplete --restaurant scope, an unrecognised --error text
    "TMD70": 403, "TMD71": 403, "TMD72": 422,
    # reviewed plans and repairs that leave findings: drift since review, a foreign file, other rows than planned
    "TMD84": 409, "TMD85": 409, "TMD86": 422, "TMD87": 409,
    # the service
    "TMH01": 401, "TMH02": 401, "TMH03": 403, "TMH04": 403, "TMH05": 404, "TMH06": 400, "TMH07": 422,
    "TMH08": 413, "TMH09": 404,
    # tablemend distribute (docs/scale.md): no Citus, a schema that would not distribute or is behind, a refused step
    "TMS01": 503, "TMS02": 503, "TMS03": 503, "TMS04": 503,
    # configuration files, rule selection and baselines (docs/configuration.md)
    "TMU11": 422, "TMU12": 422, "TMU13": 422, "TMU14": 422, "TMU15": 422, "TMU16": 422, "TMU17": 500,
}
_SHAPE = {"code", "message", "details", "hint"}


def _registered() -> dict[str, type[errors.TablemendError]]:
    return dict(errors._BY_SQLSTATE)


def test_the_table_covers_every_registered_code() -> None:
    missing = sorted(set(_registered()) - set(STATUS))
    assert not missing, f"pin the HTTP status of {missing} here"


def test_status_and_body_of_each_code(api: Api) -> None:
    for code in sorted(STATUS):
        cls = _registered()[code]

        def boom(cls: type[errors.TablemendError] = cls, code: str = code) -> Any:
            raise cls(f"message of {code}", details=f"booking_id={uuid.UUID(int=1)}", hint="the hint")

        api.app.add_api_route(f"/test/raise/{code}", boom, methods=["GET"])
        response = api.request("GET", f"/test/raise/{code}")
        assert response.status_code == STATUS[code] == cls.http_status, code
        assert response.json() == {"code": code, "message": f"message of {code}",
                                   "details": f"booking_id={uuid.UUID(int=1)}", "hint": "the hint"}
        assert response.headers["X-Tablemend-Code"] == code
        assert response.headers["X-Request-Id"]


def _call(api: Api, fn: str, body: Any, key: str = "admin") -> tuple[int, dict[str, Any]]:
    response = api.rpc(fn, body, key=key)
    payload = response.json()
    assert set(payload) == _SHAPE, payload
    assert response.status_code == STATUS[payload["code"]], payload
    return response.status_code, payload


def test_real_allocator_refusals_through_rpc(api: Api) -> None:
    booking = live_booking(api, api.a)
    bid = str(booking["id"])
    table = str(booking["tables"][0])
    other_restaurant_table = str(free_table(api, api.b))
    start = booking["start_at"]
    before = snapshot(api)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("assign_tables_atomic_v2", {"p_booking_id": bid, "p_table_ids": []}, "TAV01"),
        ("assign_tables_atomic_v2", {"p_booking_id": bid, "p_table_ids": [table],
                                     "p_start_at": start.isoformat(),
                                     "p_end_at": (start - dt.timedelta(hours=1)).isoformat()}, "TAV02"),
        ("assign_tables_atomic_v2", {"p_booking_id": bid, "p_table_ids": [str(uuid.uuid4())]}, "TAV03"),
        # in the booking's tenant scope another restaurant's table does not exist (0003: TAV03, not TAV04)
        ("assign_tables_atomic_v2", {"p_booking_id": bid, "p_table_ids": [other_restaurant_table]}, "TAV03"),
        ("assign_tables_atomic_v2", {"p_booking_id": str(uuid.uuid4()), "p_table_ids": [table]}, "TAN01"),
        ("assign_tables_atomic_v2", {"p_booking_id": bid, "p_table_ids": [table], "p_idempotency_key": " "},
         "TAV09"),
        ("release_table_hold", {"p_hold_id": str(uuid.uuid4())}, "TAN02"),
        ("set_booking_status", {"p_booking_id": bid, "p_status": "seated"}, "TMU01"),
    ]
    for fn, body, code in cases:
        _, payload = _call(api, fn, body)
        assert payload["code"] == code, (fn, body, payload)
    assert snapshot(api) == before


def test_real_doctor_refusals(api: Api) -> None:
    unknown = api.request("POST", "/doctor/undo", json={"repair_id": str(uuid.uuid4())})
    assert unknown.status_code == 404 and unknown.json()["code"] == "TMD95"
    missing = api.request("POST", "/doctor/repair", json={"restaurant_id": str(api.a), "include": ["TMD020-0"]})
    assert missing.status_code == 404 and missing.json()["code"] == "TMD96"
    nothing = api.request("POST", "/doctor/repair", json={"restaurant_id": str(api.a)})
    assert nothing.status_code == 422 and nothing.json()["code"] == "TMU01"
    assert set(nothing.json()) == _SHAPE


def test_a_database_that_is_down_is_503(api: Api) -> None:
    from tablemend.api import Service, create_app

    service = Service(api.service.allocator, "postgresql://nobody@127.0.0.1:1/none")
    app = create_app(service)
    alt = Api(app, service, api.dsn, api.keys, api.restaurants)
    response = alt.request("GET", f"/doctor/findings?restaurant_id={api.a}")
    assert response.status_code == 503 and response.json()["code"] == "TMU02"
