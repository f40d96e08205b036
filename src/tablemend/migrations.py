"""Schema migrations for tablemend's own schema.

``sql/schema.sql`` is the current state; ``sql/migrations/NNNN_name.sql`` are the ordered steps that lead to it. A
fresh database gets ``schema.sql`` (recorded as a baseline of every migration); an existing one gets the migrations it
has not applied yet. A test proves that both roads give the same catalog.

Bookkeeping lives in schema ``tablemend``, kept apart as yoyo does: ``tablemend.schema_migrations`` is the applied
state (one row per version), ``tablemend.migration_log`` an append-only log of who applied what, from which host,
when. Everything runs in one transaction under a transaction-level advisory lock, so two concurrent ``migrate`` runs
serialise and the second one finds nothing to do.
"""

from __future__ import annotations

import getpass
import hashlib
import re
import socket
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, LiteralString

import psycopg

from tablemend import security, sqlfiles
from tablemend.db import Connection, translated
from tablemend.errors import MigrationError

if TYPE_CHECKING:
    from tablemend.integrity import ServerCheck

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: key for pg_advisory_xact_lock: hashtext('tablemend.migrate') would do too; a constant is simpler to find in pg_locks
MIGRATION_LOCK_KEY = 7_261_533_001


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: LiteralString

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationResult:
    mode: str  # "schema" (fresh install), "migrate" (steps applied) or "current" (nothing to do)
    applied: tuple[str, ...]
    #: the GiST rescan self-test's verdict; the functions' enable_indexscan was set from it (tablemend.integrity)
    server: ServerCheck | None = None


def available() -> list[Migration]:
    """Every migration file shipped with the package, in order."""
    folder = resources.files("tablemend") / "sql" / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(match.group(1), match.group(2), sqlfiles.read(f"migrations/{entry.name}")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return found


def applied_versions(conn: Connection) -> dict[str, str]:
    """``{version: checksum}`` of what the database has applied (empty when tablemend was never installed)."""
    with translated():
        exists = conn.execute("SELECT to_regclass('tablemend.schema_migrations') IS NOT NULL AS x").fetchone()
        if not exists or not exists["x"]:
            return {}
        rows = conn.execute("SELECT version, checksum FROM tablemend.schema_migrations ORDER BY version").fetchall()
    return {r["version"]: r["checksum"] for r in rows}


def pending(conn: Connection) -> list[Migration]:
    done = applied_versions(conn)
    return [m for m in available() if m.version not in done]


def migrate(conn: Connection, *, use_schema_for_fresh: bool = True, roles: security.Roles | None = None
            ) -> MigrationResult:
    """Bring the database to the current schema, in one transaction. Idempotent.

    ``use_schema_for_fresh=False`` replays every migration even on an empty database (the migration test uses it).
    Whenever something was applied, :func:`tablemend.security.apply` then gives everything to the owner role and
    grants the other roles (``roles``, default :meth:`~tablemend.security.Roles.from_env`), in the same transaction.
    Afterwards the server's GiST rescan verdict is recorded and the allocator functions' ``enable_indexscan`` is set
    from it, in a second transaction (until then they keep 0002's safe ``off``), and their plan cache mode from
    whether the database has Citus (:func:`tablemend.distribution.apply_plan_mode`).
    """
    import dataclasses

    from tablemend import distribution, integrity

    result = _migrate(conn, use_schema_for_fresh=use_schema_for_fresh, roles=roles or security.Roles.from_env())
    check = integrity.server_check(conn, record=True)
    integrity.apply_workaround(conn, check)
    distribution.apply_plan_mode(conn)  # generic plans on one server, none on Citus (docs/scale.md)
    return dataclasses.replace(result, server=check)


def _migrate(conn: Connection, *, use_schema_for_fresh: bool, roles: security.Roles) -> MigrationResult:
    operator = _operator()
    host = socket.gethostname()
    migrations = available()
    try:
        with conn.transaction(), translated():
            conn.execute("SET LOCAL lock_timeout = '30s'")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            conn.execute(sqlfiles.read("bookkeeping.sql"))
            done = {
                r["version"]: r["checksum"]
                for r in conn.execute("SELECT version, checksum FROM tablemend.schema_migrations").fetchall()
            }
            for m in migrations:
                if m.version in done and done[m.version] != m.checksum:
                    raise MigrationError(
                        f"migration {m.version}_{m.name} was changed after it was applied",
                        details=f"applied checksum {done[m.version][:12]}, file checksum {m.checksum[:12]}",
                        hint="never edit an applied migration; add a new one",
                    )
            todo = [m for m in migrations if m.version not in done]
            if not todo:
                return MigrationResult("current", ())
            if not done:
                _refuse_foreign_schema(conn)
            if not done and use_schema_for_fresh:
                conn.execute(sqlfiles.read("schema.sql"))
                for m in migrations:
                    _record(conn, m, "baseline", operator, host)
                security.apply(conn, roles)
                return MigrationResult("schema", tuple(f"{m.version}_{m.name}" for m in migrations))
            for m in todo:
                conn.execute(m.sql)
                _record(conn, m, "apply", operator, host)
            security.apply(conn, roles)
            return MigrationResult("migrate", tuple(f"{m.version}_{m.name}" for m in todo))
    except psycopg.Error as exc:  # pragma: no cover - translated() already converts; kept for the cause chain
        raise MigrationError(str(exc)) from exc


def _refuse_foreign_schema(conn: Connection) -> None:
    """A first install into a database that already holds another system's tables of the same names (the origin's)."""
    row = conn.execute(
        "SELECT string_agg(c.relname, ', ' ORDER BY c.relname) AS names FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p')"
        " AND c.relname IN ('bookings', 'booking_table_assignments', 'table_inventory', 'allocations')"
    ).fetchone()
    if row and row["names"]:
        raise MigrationError(
            f"this database already has tables named like tablemend's ({row['names']}) but no tablemend bookkeeping",
            details="it looks like another system's schema, such as the origin's; nothing was changed",
            hint="install tablemend's schema into its own database (the doctor works on the origin's as it is)",
        )


def _record(conn: Connection, m: Migration, action: str, operator: str, host: str) -> None:
    conn.execute(
        "INSERT INTO tablemend.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
        (m.version, m.name, m.checksum),
    )
    conn.execute(
        "INSERT INTO tablemend.migration_log (version, name, checksum, action, operator, host)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (m.version, m.name, m.checksum, action, operator, host),
    )


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
