"""Connections, and the one place where driver exceptions become tablemend errors.

DSN resolution, in order: an explicit ``--dsn`` / argument; ``DATABASE_URL``; libpq's own ``PG*`` variables when any
of :data:`LIBPQ_TARGET_VARS` is set (as psql reads them: ``PGDATABASE`` alone means that database on libpq's default
host); otherwise the embedded cluster (started on demand). Every connection is announced to the listeners registered
with :func:`on_connect` (the CLI names the database it works on), so what was checked is never left implicit.

Connections work through PgBouncer / the Supabase pooler in transaction mode: no server-side prepared statements
(``prepare_threshold=None``), no startup ``options`` (a stock PgBouncer refuses them) and no session ``SET``. The
settings tablemend needs live where such a pooler keeps them: the functions' ``SET`` clauses, ``SET LOCAL`` inside a
transaction, or role settings. Timestamps are loaded as UTC whatever the server's ``TimeZone``
(:class:`UtcTimestamptzLoader`), and the application name goes in the one startup parameter poolers pass on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg.types.datetime import TimestamptzBinaryLoader, TimestamptzLoader

from tablemend.errors import (
    ConnectionFailed,
    DatabaseError,
    TablemendError,
    UsageError,
    for_constraint,
    for_sqlstate,
)

Connection = psycopg.Connection[Any]

#: ``application_name`` unless the DSN names one (a libpq fallback, passed on by poolers).
APPLICATION_NAME = "tablemend"


class UtcTimestamptzLoader(TimestamptzLoader):
    """``timestamptz`` as an aware datetime in UTC, whatever the session's TimeZone (a pooler may not keep ours)."""

    def load(self, data: Any) -> dt.datetime:
        return super().load(data).astimezone(dt.UTC)


class UtcTimestamptzBinaryLoader(TimestamptzBinaryLoader):
    def load(self, data: Any) -> dt.datetime:
        return super().load(data).astimezone(dt.UTC)


def configure(conn: Connection) -> None:
    """What every tablemend connection gets on the client side (the pool calls it for each new connection)."""
    conn.adapters.register_loader("timestamptz", UtcTimestamptzLoader)
    conn.adapters.register_loader("timestamptz", UtcTimestamptzBinaryLoader)


def connect_kwargs() -> dict[str, Any]:
    """``psycopg.connect`` arguments shared by :func:`connect` and the allocator's pool (no startup ``options``)."""
    return {
        "row_factory": dict_row,
        "prepare_threshold": None,
        "connect_timeout": int(os.environ.get("TABLEMEND_CONNECT_TIMEOUT", "10")),
        "fallback_application_name": APPLICATION_NAME,
    }


#: libpq variables that name a server, a database or a login: any one of them means "not the embedded cluster",
#: as it does for psql (issue 12: PGDATABASE + PGUSER without PGHOST once scanned the embedded cluster instead).
LIBPQ_TARGET_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSERVICE",
                     "PGSERVICEFILE")


@dataclass(frozen=True)
class Target:
    """Where a connection went, for the operator: never the password."""

    host: str
    port: str
    dbname: str
    user: str
    how: str = ""  # how the server was chosen, when resolve_dsn chose it (``from PG* (PGDATABASE)``, ...)
    #: where the DSN came from: ``dsn`` (given), ``DATABASE_URL``, ``PG*`` (libpq's variables) or ``embedded``
    source: str = "dsn"

    def describe(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname} as {self.user}" + (f" ({self.how})" if self.how else "")

    def as_dict(self) -> dict[str, str]:
        return {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user}


_listeners: list[Callable[[Target], None]] = []
_how: dict[str, str] = {}  # resolved DSN -> how resolve_dsn chose it, said with the next connection to it
_source: dict[str, str] = {}  # resolved DSN -> where it came from (Target.source)


def on_connect(listener: Callable[[Target], None]) -> Callable[[], None]:
    """Call ``listener`` with the :class:`Target` of every connection :func:`connect` opens; returns the remover."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def libpq_env_names() -> list[str]:
    """The :data:`LIBPQ_TARGET_VARS` set (non-empty) in the environment."""
    return [name for name in LIBPQ_TARGET_VARS if os.environ.get(name)]


def resolve_dsn(dsn: str | None = None) -> str:
    """The DSN to use; see the module docstring for the order."""
    if dsn:
        return dsn
    if env := os.environ.get("DATABASE_URL"):
        _how[env] = "from DATABASE_URL"
        _source[env] = "DATABASE_URL"
        return env
    if names := libpq_env_names():
        _how[""] = f"from {', '.join(names)}"
        _source[""] = "PG*"
        return ""  # libpq fills everything from the PG* variables
    from tablemend.embedded import EmbeddedCluster

    cluster = EmbeddedCluster()
    url = cluster.start()
    said = [f"embedded cluster in {cluster.home}", *(["started now"] if cluster.started else []), *cluster.messages]
    _how[url] = "; ".join(said)
    _source[url] = "embedded"
    return url


def _announce(conn: Connection, resolved: str) -> None:
    how = _how.pop(resolved, "")
    source = _source.pop(resolved, "dsn")
    if not _listeners:
        return
    info = conn.info
    target = Target(host=info.host or "?", port=str(info.port), dbname=info.dbname, user=info.user, how=how,
                    source=source)
    for listener in list(_listeners):
        listener(target)


def describe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparsable DSN>"
    host = info.get("host") or os.environ.get("PGHOST") or os.environ.get("PGHOSTADDR") or "local socket"
    port = info.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = info.get("dbname") or os.environ.get("PGDATABASE") or info.get("user") or "?"
    return f"{host}:{port}/{dbname}"


def connect(dsn: str | None = None, *, autocommit: bool = False, application_name: str | None = None,
            **settings: str) -> Connection:
    """Open one connection; a failure is a :class:`ConnectionFailed`.

    ``settings`` (tests use ``deadlock_timeout``) are set for the session after connecting: on a direct connection
    only, since a transaction-mode pooler would not keep them. tablemend's own code passes none.
    """
    real = resolve_dsn(dsn)
    extra: dict[str, Any] = {"application_name": application_name} if application_name else {}
    try:
        conn = psycopg.connect(real, autocommit=autocommit, **connect_kwargs(), **extra)
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"invalid DSN: {exc}") from exc
    except psycopg.OperationalError as exc:
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or "connection failed"
        raise ConnectionFailed(f"cannot connect to {describe_dsn(real)}: {reason}") from exc
    configure(conn)
    _announce(conn, real)
    if settings:
        with translated(), conn.transaction():
            for key, value in settings.items():
                conn.execute("SELECT set_config(%s, %s, false)", (key, value))
    return conn


def translate(exc: psycopg.Error) -> TablemendError:
    """Map a driver exception to the tablemend class registered for its SQLSTATE (the cause is kept by callers)."""
    diag = exc.diag
    sqlstate = diag.sqlstate
    # a raw violation of one of tablemend's own constraints (a direct write) maps like the function's own error
    message = diag.message_primary or str(exc).strip() or type(exc).__name__
    cls = for_sqlstate(sqlstate) or for_constraint(sqlstate, diag.constraint_name, message)
    if cls is None:
        unreachable = isinstance(exc, psycopg.OperationalError) and sqlstate is None
        cls = ConnectionFailed if unreachable else DatabaseError
    hint = diag.message_hint
    if sqlstate == "42501" and not hint:  # the server names the object, never what to do about it
        hint = ("the login's roles lack this privilege: connect as a role that has it (the doctor reads as the "
                "owner or a superuser would), or see docs/security.md for the grants")
    err = cls(message, details=diag.message_detail, hint=hint, sqlstate=sqlstate, constraint=diag.constraint_name)
    err.__cause__ = exc
    return err


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """``with translated(): ...`` turns any driver exception inside into a :class:`TablemendError`."""
    try:
        yield
    except pg_errors.Error as exc:
        raise translate(exc) from exc
