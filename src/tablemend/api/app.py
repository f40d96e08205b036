"""The ASGI app of ``tablemend serve``: RPC, the doctor, the operations page, health and metrics.

    service = Service.open(dsn)
    app = create_app(service)          # uvicorn.run(app) — or httpx.ASGITransport(app) in tests
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from tablemend import __version__, integrity
from tablemend.api import doctor, errors, page, rpc
from tablemend.api.metrics import CONTENT_TYPE
from tablemend.api.service import Service, q
from tablemend.errors import SchemaMissing
from tablemend.migrations import pending

access_log = logging.getLogger("tablemend.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUEST_ID_HEADER = "X-Request-Id"


def _readiness(service: Service) -> dict[str, Any]:
    with service.conn() as conn:
        conn.execute(q("ping"))
        missing = [f"{m.version}_{m.name}" for m in pending(conn)]
        if missing:
            raise SchemaMissing(f"the database lacks migrations {', '.join(missing)}",
                                hint="run `tablemend migrate`")
        # the GiST rescan self-test (recorded by migrate, else probed once per process): an affected server stays
        # ready, because the allocator's functions then run with the workaround (docs/allocator.md §7)
        check = integrity.server_check(conn)
    return {"status": "ready", "database": "reachable", "schema": "current",
            "server_self_test": check.verdict.value, "workaround": check.verdict is not integrity.Verdict.fixed}


def create_app(service: Service, *, close_on_shutdown: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if close_on_shutdown:  # graceful: uvicorn has finished the requests in flight
            service.close()
            logging.getLogger("tablemend.api").info("shutdown: requests finished, allocator pool closed")

    app = FastAPI(title="tablemend", version=__version__, lifespan=lifespan,
                  description="PostgREST-compatible RPC for tablemend's allocator, the integrity doctor over HTTP, "
                  "and an operations page. Errors: PostgREST's {code, message, details, hint}.",
                  docs_url=None, redoc_url=None)
    app.state.service = service
    errors.install(app)

    @app.middleware("http")
    async def request_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = request_id
        if response.status_code >= 400:
            code = response.headers.get(errors.CODE_HEADER) or str(response.status_code)
            service.metrics.errors.labels(code, str(response.status_code)).inc()
        access_log.info(json.dumps({
            "request_id": request_id, "method": request.method, "path": request.url.path,
            "status": response.status_code, "ms": round((time.perf_counter() - started) * 1000, 2),
            "key_id": getattr(request.state, "key_id", None),
        }))
        return response

    @app.get("/healthz", tags=["health"], summary="The process is up.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The database is reachable and its schema current (else 503).")
    async def readyz() -> Any:
        return await run_in_threadpool(_readiness, service)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics.")
    async def metrics() -> Response:
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE)

    rpc.install(app, service)
    doctor.install(app, service)
    page.install(app, service)
    return app
