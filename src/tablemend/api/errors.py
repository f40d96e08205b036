"""The one error renderer of the HTTP face: PostgREST's body ``{code, message, details, hint}``.

Every refusal is a :class:`tablemend.errors.TablemendError`; its class says the status (``http_status``). FastAPI's
own refusals (unknown route, wrong method, a query parameter of the wrong type) are turned into tablemend errors here
so that no response ever has another shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tablemend.errors import (
    DatabaseError,
    InvalidJson,
    InvalidParameter,
    ServiceError,
    TablemendError,
    UnknownFunction,
)

_log = logging.getLogger("tablemend.api")
#: the error's SQLSTATE again, as a header (the access log and the metrics count errors by it)
CODE_HEADER = "X-Tablemend-Code"


def render(exc: TablemendError) -> JSONResponse:
    """The response for an error: its class's status, PostgREST's body."""
    return JSONResponse(exc.to_json(), status_code=exc.http_status, headers={CODE_HEADER: exc.sqlstate})


def _validation(exc: RequestValidationError) -> TablemendError:
    errors: list[Any] = list(exc.errors())
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    if first.get("type") == "json_invalid":
        return InvalidJson("the body is not valid JSON", details=str(first.get("msg")),
                           hint="Send a JSON object with the function's argument names as keys.")
    return InvalidParameter(f"invalid {where or 'request'}: {first.get('msg', 'invalid value')}",
                            details=f"{where}={first.get('input')!r}"[:300] if where else None)


def install(app: FastAPI) -> None:
    """Register the handlers that make every error one shape."""

    async def tablemend_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TablemendError)
        return render(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return render(_validation(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            err: TablemendError = UnknownFunction(f"no route {request.url.path}",
                                                  hint="See /openapi.json for the routes.")
        elif exc.status_code == 405:
            err = UnknownFunction(f"{request.method} is not allowed on {request.url.path}",
                                  hint="See /openapi.json for the routes.")
            err.http_status = 405  # type: ignore[misc]
        else:
            err = ServiceError(str(exc.detail))
            err.http_status = exc.status_code  # type: ignore[misc]
        return render(err)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(DatabaseError("internal error", hint="See the server log (request id in X-Request-Id)."))

    app.add_exception_handler(TablemendError, tablemend_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
