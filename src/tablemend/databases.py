"""Whole databases on a server: create, drop and recreate the scratch databases tablemend owns (sandbox, demo).

Only a database named explicitly is ever dropped, never the one the DSN connects to, and never a system database.
"""

from __future__ import annotations

from psycopg import sql
from psycopg.conninfo import make_conninfo

from tablemend import db, sqlfiles
from tablemend.errors import UsageError

_PROTECTED = frozenset({"postgres", "template0", "template1"})


def dsn_for(server_dsn: str, name: str) -> str:
    """The DSN of database ``name`` on the server of ``server_dsn``."""
    return make_conninfo(server_dsn, dbname=name)


def _check_name(name: str) -> None:
    if not name or len(name) > 63:
        raise UsageError(f"invalid database name {name!r}: 1 to 63 characters")
    if name in _PROTECTED:
        raise UsageError(f"refusing to use the system database {name!r} as a scratch database")


def exists(server_dsn: str, name: str) -> bool:
    with db.connect(server_dsn, autocommit=True) as conn, db.translated():
        row = conn.execute(sqlfiles.query("exists", "databases.sql"), {"name": name}).fetchone()
    return bool(row and row["x"])


def ensure(server_dsn: str, name: str, *, reset: bool = False) -> bool:
    """Make sure database ``name`` exists on the server (dropped first with ``reset``). True when it was created."""
    _check_name(name)
    with db.connect(server_dsn, autocommit=True) as conn, db.translated():
        current = conn.execute(sqlfiles.query("current", "databases.sql")).fetchone()
        if reset and current is not None and current["name"] == name:
            raise UsageError(f"refusing to drop {name!r}: it is the database the DSN connects to",
                             hint="point --dsn at another database of the server (e.g. postgres)")
        present = conn.execute(sqlfiles.query("exists", "databases.sql"), {"name": name}).fetchone()
        if present and present["x"]:
            if not reset:
                return False
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def drop(server_dsn: str, name: str) -> None:
    """Drop database ``name`` if it exists (never a system database)."""
    _check_name(name)
    with db.connect(server_dsn, autocommit=True) as conn, db.translated():
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
