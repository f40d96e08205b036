"""The state one running app shares: the allocator pool, the DSN the doctor connects to, settings, metrics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, LiteralString

from tablemend import db, sqlfiles
from tablemend.allocator import Allocator, ScopedAllocator
from tablemend.api.metrics import Metrics
from tablemend.security import Roles

_FILE = "api.sql"


def q(name: str) -> LiteralString:
    return sqlfiles.query(name, _FILE)


@dataclass(frozen=True)
class Settings:
    #: bodies larger than this are refused (413) before they are parsed
    max_body_bytes: int = 64 * 1024
    #: arrays (table ids) longer than this are refused (422); a restaurant's tables fit many times over
    max_array: int = 100
    #: the database role the allocator's functions run as, when it exists and the pool's user may SET ROLE to it
    #: (default: the security model's service role, ``TABLEMEND_SERVICE_ROLE`` or ``tablemend_service``)
    service_role: str | None = field(default_factory=lambda: Roles.from_env().service)
    #: the role reads (get_booking) run as, under the same condition (``TABLEMEND_READONLY_ROLE``)
    readonly_role: str | None = field(default_factory=lambda: Roles.from_env().readonly)
    #: findings per page, at most
    max_page: int = 500


class Service:
    def __init__(self, allocator: Allocator, dsn: str, settings: Settings | None = None, *,
                 owns_allocator: bool = False) -> None:
        self.allocator = allocator
        self.dsn = dsn
        self.settings = settings = settings or Settings()
        self.metrics = Metrics(allocator.pool)
        self._owns = owns_allocator
        #: kind -> the role that exists (absent kinds run as the pool's user, in the tenant scope all the same)
        self.roles: dict[str, str] = {kind: role for kind, role in (("service", settings.service_role),
                                                                   ("readonly", settings.readonly_role))
                                      if role and allocator.role_usable(role)}

    @classmethod
    def open(cls, dsn: str | None = None, settings: Settings | None = None, *, max_size: int = 8) -> Service:
        real = db.resolve_dsn(dsn)
        return cls(Allocator.open(real, max_size=max_size), real, settings, owns_allocator=True)

    def close(self) -> None:
        if self._owns:
            self.allocator.close()

    def scoped(self, restaurant_id: uuid.UUID, role: str | None = "service") -> ScopedAllocator:
        """The allocator in ``restaurant_id``'s tenant scope, as the ``role`` kind's role when it exists."""
        return self.allocator.scoped(restaurant_id, role=self.roles.get(role) if role else None)

    @contextmanager
    def conn(self) -> Iterator[db.Connection]:
        """A pooled autocommit connection for the service's own reads (auth, which restaurant an id is in, page)."""
        with db.translated(), self.allocator.pool.connection() as conn:
            yield conn

    def one(self, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        with self.conn() as conn:
            row = conn.execute(q(name), params).fetchone()
        return dict(row) if row is not None else None

    def all(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.conn() as conn:
            return [dict(r) for r in conn.execute(q(name), params).fetchall()]

    @contextmanager
    def doctor_conn(self) -> Iterator[db.Connection]:
        """A connection of its own for the doctor, as the CLI opens one: each verb manages its transactions."""
        with db.connect(self.dsn, autocommit=True) as conn:
            yield conn
