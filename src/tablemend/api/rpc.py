"""``POST /rest/v1/rpc/<function>``: the allocator's public functions as PostgREST serves them.

The JSON keys are the SQL argument names (``p_booking_id``, ``p_table_ids``, …) and the body of a success is the SQL
result: an array of rows for a set-returning function, a scalar otherwise. Before the call the service finds which
restaurant the request's ids belong to and checks the key's scope; the call itself then runs in that restaurant's
tenant scope (:meth:`tablemend.allocator.Allocator.scoped`), so the database refuses what the app would have missed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tablemend.allocator import Allocator, Assignment
from tablemend.api import auth
from tablemend.api.service import Service
from tablemend.errors import (
    AllocatorConflict,
    BookingNotFound,
    HoldNotFound,
    InvalidJson,
    InvalidParameter,
    PayloadTooLarge,
    TablemendError,
    UnknownFunction,
    UnknownTable,
)

Args = dict[str, Any]


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # uuid, uuid[], text, boolean, timestamptz, jsonb, booking_status
    required: bool = False


@dataclass(frozen=True)
class Function:
    name: str
    summary: str
    scope: str
    params: tuple[Param, ...]
    #: (kind, argument) naming the restaurant: ("booking", "p_booking_id"), ("hold", …) or ("restaurant", …)
    target: tuple[str, str]
    call: Callable[[Allocator, Args], Any]
    returns: dict[str, Any]
    #: which configured role the call runs as: "service" (may only EXECUTE the allocator's functions) or "readonly"
    role: str = "service"


# --- results as PostgREST renders them ---------------------------------------------------------------------------


def _rows(assignments: Sequence[Assignment]) -> list[dict[str, Any]]:
    return [{"table_id": str(a.table_id), "start_at": a.start_at.isoformat(), "end_at": a.end_at.isoformat(),
             "merge_group_id": None if a.merge_group_id is None else str(a.merge_group_id)} for a in assignments]


_ASSIGNMENT_ROWS: dict[str, Any] = {"type": "array", "items": {"type": "object", "properties": {
    "table_id": {"type": "string", "format": "uuid"}, "start_at": {"type": "string", "format": "date-time"},
    "end_at": {"type": "string", "format": "date-time"},
    "merge_group_id": {"type": ["string", "null"], "format": "uuid"}}}}


def _assign(a: Allocator, p: Args) -> Any:
    return _rows(a.assign(p["p_booking_id"], p["p_table_ids"], key=p.get("p_idempotency_key"),
                          require_adjacency=bool(p.get("p_require_adjacency")), assigned_by=p.get("p_assigned_by"),
                          start_at=p.get("p_start_at"), end_at=p.get("p_end_at")))


def _unassign(a: Allocator, p: Args) -> Any:
    return [{"table_id": str(t)} for t in a.unassign(p["p_booking_id"], p.get("p_table_ids"))]


def _create_hold(a: Allocator, p: Args) -> Any:
    hold = a.create_hold(p["p_restaurant_id"], p["p_table_ids"], p["p_start_at"], p["p_end_at"],
                         booking_id=p.get("p_booking_id"), expires_at=p.get("p_expires_at"),
                         created_by=p.get("p_created_by"), metadata=p.get("p_metadata"))
    return str(hold.hold_id)


def _extend_hold(a: Allocator, p: Args) -> Any:
    return a.extend_hold(p["p_hold_id"], expires_at=p["p_expires_at"]).isoformat()


def _release_hold(a: Allocator, p: Args) -> Any:
    return a.release_hold(p["p_hold_id"])


def _confirm_hold(a: Allocator, p: Args) -> Any:
    return _rows(a.confirm_hold(p["p_hold_id"], p.get("p_booking_id"), key=p.get("p_idempotency_key"),
                                require_adjacency=bool(p.get("p_require_adjacency")),
                                assigned_by=p.get("p_assigned_by")))


def _set_status(a: Allocator, p: Args) -> Any:
    return a.set_booking_status(p["p_booking_id"], p["p_status"]).previous


def _move(a: Allocator, p: Args) -> Any:
    w = a.move_booking(p["p_booking_id"], p["p_start_at"], p["p_end_at"])
    return {"booking_id": str(w.booking_id), "restaurant_id": str(w.restaurant_id),
            "start_at": w.start_at.isoformat(), "end_at": w.end_at.isoformat(), "status": w.status}


def _booking(a: Allocator, p: Args) -> Any:
    b = a.booking(p["p_booking_id"])
    return {"booking_id": str(b.booking_id), "restaurant_id": str(b.restaurant_id),
            "start_at": b.start_at.isoformat(), "end_at": b.end_at.isoformat(), "party_size": b.party_size,
            "status": b.status, "assigned_zone_id": None if b.assigned_zone_id is None else str(b.assigned_zone_id),
            "table_ids": [str(t) for t in b.table_ids]}


_B = ("booking", "p_booking_id")
_H = ("hold", "p_hold_id")
_STR: dict[str, Any] = {"type": "string"}

FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("assign_tables_atomic_v2", "Give a booking exactly these tables over its window (idempotent with a key).",
             "assign", (Param("p_booking_id", "uuid", True), Param("p_table_ids", "uuid[]", True),
                        Param("p_idempotency_key", "text"), Param("p_require_adjacency", "boolean"),
                        Param("p_assigned_by", "uuid"), Param("p_start_at", "timestamptz"),
                        Param("p_end_at", "timestamptz")), _B, _assign, _ASSIGNMENT_ROWS),
    Function("unassign_tables_atomic", "Remove the booking's tables (all, or only p_table_ids).", "assign",
             (Param("p_booking_id", "uuid", True), Param("p_table_ids", "uuid[]")), _B, _unassign,
             {"type": "array", "items": {"type": "object", "properties": {"table_id": {"type": "string"}}}}),
    Function("create_table_hold", "Hold tables over a window until p_expires_at (default: now + 5 minutes).",
             "assign", (Param("p_restaurant_id", "uuid", True), Param("p_table_ids", "uuid[]", True),
                        Param("p_start_at", "timestamptz", True), Param("p_end_at", "timestamptz", True),
                        Param("p_expires_at", "timestamptz"), Param("p_booking_id", "uuid"),
                        Param("p_created_by", "uuid"), Param("p_metadata", "jsonb")),
             ("restaurant", "p_restaurant_id"), _create_hold, {"type": "string", "format": "uuid"}),
    Function("extend_table_hold", "Move an active hold's expiry.", "assign",
             (Param("p_hold_id", "uuid", True), Param("p_expires_at", "timestamptz", True)), _H, _extend_hold,
             {"type": "string", "format": "date-time"}),
    Function("release_table_hold", "Release a hold (false when it was no longer active).", "assign",
             (Param("p_hold_id", "uuid", True),), _H, _release_hold, {"type": "boolean"}),
    Function("confirm_hold_assignment", "Assign the hold's tables over its window to its booking.", "assign",
             (Param("p_hold_id", "uuid", True), Param("p_booking_id", "uuid"), Param("p_idempotency_key", "text"),
              Param("p_require_adjacency", "boolean"), Param("p_assigned_by", "uuid")), _H, _confirm_hold,
             _ASSIGNMENT_ROWS),
    Function("set_booking_status", "Change a booking's status; a terminal one releases everything it holds.",
             "assign", (Param("p_booking_id", "uuid", True), Param("p_status", "booking_status", True)), _B,
             _set_status, _STR),
    Function("move_booking", "Move a booking to [p_start_at, p_end_at); its tables move with it.", "assign",
             (Param("p_booking_id", "uuid", True), Param("p_start_at", "timestamptz", True),
              Param("p_end_at", "timestamptz", True)), _B, _move, {"type": "object"}),
    Function("get_booking", "A booking's window, status and current tables.", "read",
             (Param("p_booking_id", "uuid", True),), _B, _booking, {"type": "object"}, role="readonly"),
)}

_JSON_TYPES: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "uuid[]": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "text": {"type": "string"}, "boolean": {"type": "boolean"},
    "timestamptz": {"type": "string", "format": "date-time"}, "jsonb": {"type": "object"},
    "booking_status": {"type": "string"},
}


# --- arguments -----------------------------------------------------------------------------------------------------


def _bad(fn: Function, name: str, what: str, value: Any) -> InvalidParameter:
    shown = json.dumps(value)[:80] if not isinstance(value, list) else f"array of {len(value)}"
    return InvalidParameter(f"argument {name} of {fn.name}: {what}", details=f"{name}={shown}",
                            hint="Argument names and types: see /openapi.json.")


def _convert(fn: Function, param: Param, value: Any, max_array: int) -> Any:
    if value is None:
        if param.required:
            raise _bad(fn, param.name, "is required", value)
        return None
    t = param.type
    if t == "uuid":
        if not isinstance(value, str):
            raise _bad(fn, param.name, "must be a UUID string", value)
        try:
            return uuid.UUID(value)
        except ValueError:
            raise _bad(fn, param.name, "must be a UUID string", value) from None
    if t == "uuid[]":
        if not isinstance(value, list):
            raise _bad(fn, param.name, "must be an array of UUID strings", value)
        if len(value) > max_array:
            raise _bad(fn, param.name, f"has {len(value)} elements; at most {max_array} are accepted", value)
        return [_convert(fn, Param(param.name, "uuid", True), v, max_array) for v in value]
    if t in ("text", "booking_status"):
        if not isinstance(value, str) or len(value) > 1000:
            raise _bad(fn, param.name, "must be a string (at most 1000 characters)", value)
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            raise _bad(fn, param.name, "must be true or false", value)
        return value
    if t == "timestamptz":
        if not isinstance(value, str):
            raise _bad(fn, param.name, "must be an ISO 8601 timestamp with a time zone", value)
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _bad(fn, param.name, "must be an ISO 8601 timestamp with a time zone", value) from None
        if parsed.tzinfo is None:
            raise _bad(fn, param.name, "has no time zone", value)
        return parsed
    if t == "jsonb":
        if not isinstance(value, dict):
            raise _bad(fn, param.name, "must be a JSON object", value)
        return value
    raise AssertionError(f"unknown parameter type {t}")


def parse_args(fn: Function, body: Any, *, max_array: int, idempotency_key: str | None = None) -> Args:
    if not isinstance(body, dict):
        raise InvalidJson(f"the body of {fn.name} must be a JSON object of named arguments",
                          hint="e.g. {\"p_booking_id\": \"…\", \"p_table_ids\": [\"…\"]}")
    known = {p.name: p for p in fn.params}
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise InvalidParameter(f"{fn.name} has no argument {', '.join(unknown)[:200]}",
                               details=f"arguments={', '.join(known)}", hint="See /openapi.json.")
    args = {p.name: _convert(fn, p, body.get(p.name), max_array) for p in fn.params}
    if idempotency_key is not None:
        if "p_idempotency_key" not in known:
            raise InvalidParameter(f"{fn.name} takes no idempotency key", details="header=Idempotency-Key")
        if args.get("p_idempotency_key") not in (None, idempotency_key):
            raise InvalidParameter("the Idempotency-Key header and p_idempotency_key differ",
                                   details=f"header={idempotency_key[:80]!r}")
        args["p_idempotency_key"] = idempotency_key
    return args


# --- which restaurant ------------------------------------------------------------------------------------------------


def _not_found(kind: str, ident: uuid.UUID) -> TablemendError:
    if kind == "hold":
        return HoldNotFound(f"hold {ident} not found", details=f"hold_id={ident}", hint="Check the hold id.")
    return BookingNotFound(f"booking {ident} not found", details=f"booking_id={ident} restaurant_id=any",
                           hint="Check the booking id.")


def target_restaurant(service: Service, key: Any, fn: Function, args: Args) -> uuid.UUID:
    """The restaurant the call acts in; another restaurant's booking or hold looks exactly like an unknown one."""
    kind, arg = fn.target
    ident: uuid.UUID = args[arg]
    if kind == "restaurant":
        auth.require_restaurant(key, ident)
        restaurant = ident
    else:
        row = service.one("booking_restaurant" if kind == "booking" else "hold_restaurant", {"id": ident})
        if row is None or not key.allows(row["restaurant_id"]):
            raise _not_found(kind, ident)
        restaurant = row["restaurant_id"]
    other = args.get("p_booking_id") if kind != "booking" else None
    if other is not None:
        row = service.one("booking_restaurant", {"id": other})
        if row is None or not key.allows(row["restaurant_id"]):
            raise _not_found("booking", other)
    tables = args.get("p_table_ids")
    if tables and not key.all_restaurants:
        foreign = service.all("foreign_tables", {"ids": tables, "restaurant_id": restaurant})
        if foreign:
            missing = foreign[0]["id"]
            raise UnknownTable(f"table {missing} does not exist", details=f"table_id={missing}",
                               hint="Check the table ids.")
    return restaurant


# --- the route -------------------------------------------------------------------------------------------------------


async def read_json(request: Request, max_bytes: int) -> Any:
    """The body as JSON; 413 past ``max_bytes`` (checked on the header and on what arrives), 400 when not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body has {declared} bytes; at most {max_bytes} are accepted")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson("the body is not valid JSON", details=str(exc)[:200],
                          hint="Send a JSON object with the function's argument names as keys.") from None


def call(service: Service, request: Request, fn: Function, body: Any) -> Any:
    """Authenticate, parse, check the restaurant, call in its tenant scope (sync: runs in a worker thread)."""
    key = auth.authenticate(service, request, fn.scope)
    args = parse_args(fn, body, max_array=service.settings.max_array,
                      idempotency_key=request.headers.get("idempotency-key"))
    restaurant = target_restaurant(service, key, fn, args)
    started = time.perf_counter()
    try:
        return fn.call(service.scoped(restaurant, fn.role), args)
    except AllocatorConflict as exc:
        service.metrics.conflicts.labels(fn.name, exc.sqlstate).inc()
        raise
    finally:
        service.metrics.rpc_seconds.labels(fn.name).observe(time.perf_counter() - started)


def _endpoint(service: Service, fn: Function) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        body = await read_json(request, service.settings.max_body_bytes)
        result = await run_in_threadpool(call, service, request, fn, body)
        return JSONResponse(result)

    return endpoint


def _request_schema(fn: Function) -> Mapping[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False,
        "required": [p.name for p in fn.params if p.required],
        "properties": {p.name: _JSON_TYPES[p.type] for p in fn.params}}}}},
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"},
                        "description": "Fills p_idempotency_key."}] if any(
                            p.name == "p_idempotency_key" for p in fn.params) else [],
        "responses": {"200": {"description": "The SQL result.",
                              "content": {"application/json": {"schema": fn.returns}}}}}


def install(app: FastAPI, service: Service) -> None:
    for fn in FUNCTIONS.values():
        app.add_api_route(f"/rest/v1/rpc/{fn.name}", _endpoint(service, fn), methods=["POST"],
                             summary=fn.summary, name=fn.name, openapi_extra=dict(_request_schema(fn)),
                             response_class=JSONResponse, tags=["rpc"])

    @app.post("/rest/v1/rpc/{function}", tags=["rpc"], summary="Any other name: 404 in PostgREST's body.")
    async def unknown(function: str) -> JSONResponse:
        raise UnknownFunction(f"Could not find the function {function[:100]} in the schema cache",
                              details=f"function={function[:100]}",
                              hint=f"Served functions: {', '.join(FUNCTIONS)}.")

