"""The doctor over HTTP: findings, explain, plan, repair, undo, verify, gate.

Same library calls as ``tablemend doctor …`` (so the same finding ids, semantics and refusals), with the key's
restaurant scope made explicit in every context: a key of restaurant A scans, plans and repairs only A, and another
restaurant's booking or repair answers exactly like an unknown one (404).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tablemend import doctor
from tablemend.api import auth
from tablemend.api.service import Service
from tablemend.doctor import journal, repairs, scanner
from tablemend.doctor import profile as profiles
from tablemend.doctor.rules import Context, Finding, Level, Safety
from tablemend.errors import BookingNotFound, InvalidParameter, RepairNotFound, RestaurantForbidden, UsageError
from tablemend.keys import ApiKey


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScopeBody(_Body):
    restaurant_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None
    table_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None


class PlanBody(ScopeBody):
    include: list[str] = Field(default_factory=list, max_length=100)
    all_safe: StrictBool | None = None


class RepairBody(PlanBody):
    idempotency_key: str | None = Field(default=None, max_length=1000)
    retry: StrictBool = False
    adjacency: StrictBool = False


class ExplainBody(_Body):
    booking_id: uuid.UUID
    table_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    idempotency_key: str | None = Field(default=None, max_length=1000)
    error: str | None = Field(default=None, max_length=2000)


class VerifyBody(ExplainBody):
    include: list[str] = Field(default_factory=list, max_length=100)
    adjacency: StrictBool = False


class UndoBody(_Body):
    repair_id: uuid.UUID


def booking_restaurant(service: Service, key: ApiKey, booking_id: uuid.UUID) -> uuid.UUID:
    row = service.one("booking_restaurant", {"id": booking_id})
    if row is None or not key.allows(row["restaurant_id"]):
        raise BookingNotFound(f"booking {booking_id} not found", details=f"booking_id={booking_id} restaurant_id=any",
                              hint="Check the booking id.")
    restaurant: uuid.UUID = row["restaurant_id"]
    return restaurant


def restaurant_scope(service: Service, key: ApiKey, restaurant_id: uuid.UUID | None,
                     booking_id: uuid.UUID | None) -> uuid.UUID | None:
    """The restaurant a doctor call is about (None: the whole database, for an all-restaurants key only)."""
    if booking_id is not None:
        found = booking_restaurant(service, key, booking_id)
        if restaurant_id is not None and restaurant_id != found:
            auth.require_restaurant(key, restaurant_id)
            raise InvalidParameter(f"booking {booking_id} is not in restaurant {restaurant_id}")
        return found
    if restaurant_id is not None:
        auth.require_restaurant(key, restaurant_id)
        return restaurant_id
    if key.all_restaurants:
        return None
    if len(key.restaurant_ids) == 1:
        return next(iter(key.restaurant_ids))
    raise InvalidParameter("restaurant_id is required: this key is scoped to several restaurants")


def _context(service: Service, key: ApiKey, conn: Any, body: ScopeBody | ExplainBody,
             restaurant_id: uuid.UUID | None = None) -> Context:
    restaurant = restaurant_scope(service, key, restaurant_id, body.booking_id)
    return doctor.context(conn, restaurant_id=restaurant, booking_id=body.booking_id, table_ids=body.table_ids,
                          start_at=body.start_at, end_at=body.end_at,
                          idempotency_key=getattr(body, "idempotency_key", None),
                          profile=profiles.detect(conn).name if body.booking_id else None)


def _plan_json(p: repairs.Plan) -> dict[str, Any]:
    return {"restaurant_id": p.context.restaurant_id, "booking_id": p.context.booking_id,
            "apply": [f.as_row() for f in p.selection.apply],
            "skipped": [{**f.as_row(), "reason": why} for f, why in p.selection.skipped],
            "changes": [{**c.as_row(), "findings": list(ids)} for c, ids in p.changes]}


def matching(service: Service, restaurant: uuid.UUID | None, booking_id: uuid.UUID | None, codes: list[str] | None,
             level: Level | None, safety: Safety | None, verify_indexes: bool = False) -> Iterator[Finding]:
    """The scan's findings that pass the filters, streamed from one read-only snapshot (memory stays flat)."""
    with service.doctor_conn() as conn:
        ctx = doctor.context(conn, restaurant_id=restaurant, booking_id=booking_id,
                             profile=profiles.detect(conn).name if booking_id else None)
        for f in doctor.scan(conn, ctx=ctx, codes=codes or None, verify_indexes=verify_indexes):
            if (level is None or f.level is level) and (safety is None or f.safety is safety):
                service.metrics.findings.labels(f.code).inc()
                yield f


def not_run(service: Service, restaurant: uuid.UUID | None, booking_id: uuid.UUID | None, codes: list[str] | None,
            verify_indexes: bool) -> list[dict[str, str]]:
    """The applicable checks this scan leaves out unless asked (TMD023: ``verify_indexes=true`` or ``code=TMD023``),
    each with why: a response never passes a partial scan off as a whole one (the CLI says it on stderr)."""
    if booking_id is not None or codes or verify_indexes:
        return []
    with service.doctor_conn() as conn:
        ctx = doctor.context(conn, restaurant_id=restaurant)
        left = scanner.opted_out(profiles.detect(conn), ctx)
    return [{"code": c.code, "title": c.title, "reason": why.split("; ")[0],
             "run_with": f"verify_indexes=true or code={c.code}"} for c, why in left]


def findings_page(service: Service, key: ApiKey, *, restaurant_id: uuid.UUID | None, booking_id: uuid.UUID | None,
                  codes: list[str] | None, level: Level | None, safety: Safety | None, limit: int,
                  offset: int, verify_indexes: bool = False) -> dict[str, Any]:
    """One page of findings in the scan's order; ``next_offset`` is None on the last page; ``not_run`` names the
    checks the scan left out (see :func:`not_run`)."""
    restaurant = restaurant_scope(service, key, restaurant_id, booking_id)
    page: list[Finding] = []
    total = 0
    for f in matching(service, restaurant, booking_id, codes, level, safety, verify_indexes):
        if offset <= total < offset + limit:
            page.append(f)
        total += 1
    return {"restaurant_id": restaurant, "booking_id": booking_id, "total": total, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
            "findings": [f.as_row() for f in page],
            "not_run": not_run(service, restaurant, booking_id, codes, verify_indexes)}


def _ndjson(findings: Iterator[Finding]) -> Iterator[bytes]:
    for f in findings:
        yield (json.dumps(jsonable_encoder(f.as_row()), separators=(",", ":")) + "\n").encode()


def do_plan(service: Service, key: ApiKey, body: PlanBody) -> repairs.Plan:
    with service.doctor_conn() as conn:
        ctx = _context(service, key, conn, body, body.restaurant_id)
        all_safe = body.all_safe if body.all_safe is not None else True
        return repairs.plan(conn, ctx, all_safe=all_safe, include=body.include)


def do_repair(service: Service, key: ApiKey, body: RepairBody) -> dict[str, Any]:
    if body.booking_id is None and not body.all_safe and not body.include:
        raise UsageError("choose what to repair: booking_id, all_safe, or include")
    if body.retry and body.booking_id is None:
        raise UsageError("retry needs booking_id")
    with service.doctor_conn() as conn:
        ctx = _context(service, key, conn, body, body.restaurant_id)
        result = repairs.repair(conn, ctx, all_safe=bool(body.all_safe) or body.booking_id is not None,
                                include=body.include, retry=body.retry, adjacency=body.adjacency,
                                explicit_window=body.start_at is not None)
    if result.repair_id is not None:
        service.metrics.repairs.inc()
    out: dict[str, Any] = {"repair_id": result.repair_id, "findings": [f.id for f in result.plan.selection.apply],
                           "changes": len(result.plan.changes),
                           "skipped": [{"id": f.id, "reason": why} for f, why in result.plan.selection.skipped]}
    if result.allocator is not None:
        out["assigned"] = list(result.allocator.rows)
    return out


def do_undo(service: Service, key: ApiKey, repair_id: uuid.UUID) -> dict[str, Any]:
    with service.doctor_conn() as conn:
        entry = journal.read(conn, repair_id)
        allowed = key.all_restaurants or (entry.restaurant_id is not None and key.allows(entry.restaurant_id))
        if not allowed:
            raise RepairNotFound(f"no repair {repair_id} in tablemend_doctor.journal")
        undo_id = repairs.undo(conn, repair_id)
    service.metrics.undos.inc()
    return {"undo_id": undo_id, "repair_id": repair_id}


def install(app: FastAPI, service: Service) -> None:

    @app.get("/doctor/findings", tags=["doctor"],
               summary="Findings (filterable, paginated), scoped to the key's restaurant.")
    def findings(request: Request, restaurant_id: uuid.UUID | None = None, booking_id: uuid.UUID | None = None,
                 code: Annotated[list[str] | None, Query(max_length=30)] = None, level: Level | None = None,
                 safety: Safety | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0, verify_indexes: bool = False) -> Any:
        key = auth.authenticate(service, request, "read")
        return jsonable_encoder(findings_page(service, key, restaurant_id=restaurant_id, booking_id=booking_id,
                                              codes=code, level=level, safety=safety, limit=limit, offset=offset,
                                              verify_indexes=verify_indexes))

    @app.get("/doctor/findings/stream", tags=["doctor"], response_class=StreamingResponse,
             summary="Every matching finding as NDJSON (one per line), streamed: for results of any size.")
    def findings_stream(request: Request, restaurant_id: uuid.UUID | None = None,
                        booking_id: uuid.UUID | None = None,
                        code: Annotated[list[str] | None, Query(max_length=30)] = None, level: Level | None = None,
                        safety: Safety | None = None, verify_indexes: bool = False) -> StreamingResponse:
        key = auth.authenticate(service, request, "read")
        restaurant = restaurant_scope(service, key, restaurant_id, booking_id)  # refusals before the first byte
        left_out = not_run(service, restaurant, booking_id, code, verify_indexes)
        headers = {"X-Tablemend-Not-Run": ",".join(c["code"] for c in left_out)} if left_out else None
        return StreamingResponse(_ndjson(matching(service, restaurant, booking_id, code, level, safety,
                                                  verify_indexes)),
                                 media_type="application/x-ndjson", headers=headers)

    @app.post("/doctor/explain", tags=["doctor"], summary="What blocks a booking's assignment, and why.")
    def explain(request: Request, body: ExplainBody) -> Any:
        key = auth.authenticate(service, request, "read")
        booking_restaurant(service, key, body.booking_id)
        with service.doctor_conn() as conn:
            result = doctor.explain(conn, booking_id=body.booking_id, table_ids=body.table_ids,
                                    start_at=body.start_at, end_at=body.end_at,
                                    idempotency_key=body.idempotency_key, error=body.error)
        return jsonable_encoder(result.as_dict())

    @app.post("/doctor/plan", tags=["doctor"], summary="The row changes a repair would make (rolled back).")
    def plan(request: Request, body: PlanBody) -> Any:
        key = auth.authenticate(service, request, "read")
        return jsonable_encoder(_plan_json(do_plan(service, key, body)))

    @app.post("/doctor/repair", tags=["doctor"],
               summary="Apply repairs in one journalled transaction (scope 'repair').")
    def repair(request: Request, body: RepairBody) -> Any:
        key = auth.authenticate(service, request, "repair")
        return jsonable_encoder(do_repair(service, key, body))

    @app.post("/doctor/undo", tags=["doctor"], summary="Restore the rows one repair changed (scope 'repair').")
    def undo(request: Request, body: UndoBody) -> Any:
        key = auth.authenticate(service, request, "repair")
        return jsonable_encoder(do_undo(service, key, body.repair_id))

    @app.post("/doctor/verify", tags=["doctor"],
               summary="Does the booking's assignment succeed after the pending repair (rolled back)?")
    def verify(request: Request, body: VerifyBody) -> Any:
        key = auth.authenticate(service, request, "read")
        with service.doctor_conn() as conn:
            ctx = _context(service, key, conn, body)
            result = repairs.verify(conn, ctx, include=body.include, adjacency=body.adjacency,
                                    explicit_window=body.start_at is not None)
        out = result.allocator
        return jsonable_encoder({
            "ok": out.ok, "rows": list(out.rows), "sqlstate": out.sqlstate, "message": out.message,
            "details": out.details, "repairs": [f.id for f in result.plan.selection.apply],
            "before": None if result.before is None else {"ok": result.before.ok, "sqlstate": result.before.sqlstate,
                                                          "message": result.before.message}})

    @app.get("/doctor/gate", tags=["doctor"],
               summary="Could the unique / exclusion constraints be created now (all-restaurants keys)?")
    def gate(request: Request, constraint: Annotated[list[str] | None, Query(max_length=10)] = None,
             limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
        from tablemend.doctor import gate as gate_mod

        key = auth.authenticate(service, request, "read")
        if not key.all_restaurants:
            raise RestaurantForbidden("the gate reads every restaurant: it needs a key for all restaurants",
                                      details=f"key_id={key.id}")
        with service.doctor_conn() as conn:
            return jsonable_encoder(gate_mod.gate(conn, keys=constraint, limit=limit).as_dict())

