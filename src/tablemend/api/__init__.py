"""The HTTP face of tablemend (``tablemend serve``): a layer over the same core as the CLI; the core never imports it.

:func:`create_app` builds the FastAPI app over a :class:`Service` (the allocator pool, the DSN the doctor uses,
settings and metrics). Needs the ``fastapi``, ``uvicorn`` and ``prometheus-client`` packages (installed with
tablemend).
"""

from __future__ import annotations

from tablemend.api.app import create_app
from tablemend.api.service import Service, Settings

__all__ = ["Service", "Settings", "create_app"]
