"""Connections, and the one place where driver exceptions become tablemend errors.

DSN resolution, in order: an explicit ``--dsn`` / argument; ``DATABASE_URL``; libpq's own ``PG*`` variables when
``PGHOST`` or ``PGSERVICE`` is set; otherwise the embedded cluster (started on demand).

Connections never use server-side prepared statements (``prepare_threshold=None``) so that they work through
PgBouncer / the Supabase pooler in transaction mode.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from tablemend.errors import (
    ConnectionFailed,
    DatabaseError,
    TablemendError,
    UsageError,
    for_constraint,
    for_sqlstate,
)

Connection = psycopg.Connection[Any]

#: Session settings every tablemend connection runs with: the origin's function depends on a UTC session.
SESSION_SETTINGS: dict[str, str] = {"TimeZone": "UTC", "application_name": "tablemend"}


def resolve_dsn(dsn: str | None = None) -> str:
    """The DSN to use; see the module docstring for the order."""
    if dsn:
        return dsn
    if env := os.environ.get("DATABASE_URL"):
        return env
    if os.environ.get("PGHOST") or os.environ.get("PGSERVICE"):
        return ""  # libpq fills everything from the PG* variables
    from tablemend.embedded import EmbeddedCluster

    return EmbeddedCluster().start()


def describe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparsable DSN>"
    host = info.get("host") or os.environ.get("PGHOST") or "localhost"
    port = info.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = info.get("dbname") or os.environ.get("PGDATABASE") or info.get("user") or "?"
    return f"{host}:{port}/{dbname}"


def connect(dsn: str | None = None, *, autocommit: bool = False, **settings: str) -> Connection:
    """Open one connection with tablemend's session settings; a failure is a :class:`ConnectionFailed`."""
    real = resolve_dsn(dsn)
    options = {**SESSION_SETTINGS, **settings}
    try:
        conn = psycopg.connect(
            real,
            autocommit=autocommit,
            row_factory=dict_row,
            prepare_threshold=None,
            connect_timeout=int(os.environ.get("TABLEMEND_CONNECT_TIMEOUT", "10")),
            options=" ".join(f"-c {key}={value}" for key, value in options.items()),
        )
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"invalid DSN: {exc}") from exc
    except psycopg.OperationalError as exc:
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or "connection failed"
        raise ConnectionFailed(f"cannot connect to {describe_dsn(real)}: {reason}") from exc
    return conn


def translate(exc: psycopg.Error) -> TablemendError:
    """Map a driver exception to the tablemend class registered for its SQLSTATE (the cause is kept by callers)."""
    diag = exc.diag
    sqlstate = diag.sqlstate
    # a raw violation of one of tablemend's own constraints (a direct write) maps like the function's own error
    cls = for_sqlstate(sqlstate) or for_constraint(sqlstate, diag.constraint_name)
    message = diag.message_primary or str(exc).strip() or type(exc).__name__
    if cls is None:
        unreachable = isinstance(exc, psycopg.OperationalError) and sqlstate is None
        cls = ConnectionFailed if unreachable else DatabaseError
    err = cls(message, details=diag.message_detail, hint=diag.message_hint, sqlstate=sqlstate,
              constraint=diag.constraint_name)
    err.__cause__ = exc
    return err


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """``with translated(): ...`` turns any driver exception inside into a :class:`TablemendError`."""
    try:
        yield
    except pg_errors.Error as exc:
        raise translate(exc) from exc
