"""Roles, ownership and grants of tablemend's schema (docs/security.md).

Migration 0003 holds everything that names no role: row-level security keyed by ``tablemend.restaurant_id``, the
scope checks in the SECURITY DEFINER functions, ``search_path`` with ``pg_temp`` last, no EXECUTE for PUBLIC. The
roles' names come from configuration (a database may have its own, such as Supabase's ``service_role``), so this
module creates and grants them with :class:`psycopg.sql.Identifier`. :func:`apply` runs inside ``migrate``'s
transaction after the migrations and is idempotent; two migrates racing on one cluster both succeed.

Roles (defaults; ``TABLEMEND_<KIND>_ROLE`` overrides each):

* ``tablemend_owner`` (NOLOGIN) owns every table, view, sequence, type and function, so the definer functions run
  as it and not as the superuser that migrated;
* ``tablemend_service`` may only EXECUTE the allocator's public functions (:data:`SERVICE_FUNCTIONS`);
* ``tablemend_readonly`` may SELECT the tenant tables, scoped by row-level security;
* ``tablemend_doctor`` may read everything (scan, plan); ``tablemend_repair`` also writes (repair, undo).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import LiteralString

from psycopg import errors as pg_errors
from psycopg import sql

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.errors import MigrationError

#: The transaction setting every policy and definer function keys on (set with ``set_config(name, uuid, true)``).
TENANT_SETTING = "tablemend.restaurant_id"
#: Every function's search_path: pg_temp named last, so a temporary relation can never shadow one of tablemend's.
SEARCH_PATH = "pg_catalog, public, pg_temp"
#: The functions a service may call: the allocator's public surface (names missing from the database are skipped).
SERVICE_FUNCTIONS: tuple[str, ...] = (
    "assign_tables_atomic_v2", "unassign_tables_atomic", "create_table_hold", "extend_table_hold",
    "release_table_hold", "confirm_hold_assignment", "set_booking_status", "move_booking",
    # auto-assign (migration 0006, docs/auto-assign.md)
    "quote_tables", "hold_best_tables", "repack_state", "apply_repack_plan",
    # restaurant-keyed variants (migration 0007, docs/scale.md)
    "restaurant_assign_tables", "restaurant_unassign_tables", "restaurant_extend_table_hold",
    "restaurant_release_table_hold", "restaurant_confirm_hold_assignment", "restaurant_set_booking_status",
    "restaurant_move_booking",
)
#: Schemas whose objects tablemend owns (``public`` holds the allocator, ``tablemend`` the migration bookkeeping).
SCHEMAS: tuple[str, ...] = ("public", "tablemend")
_Q = "security.sql"


@dataclass(frozen=True)
class Roles:
    """The five roles' names; each can be an existing role of the database (it is then used, not created)."""

    owner: str = "tablemend_owner"
    service: str = "tablemend_service"
    readonly: str = "tablemend_readonly"
    doctor: str = "tablemend_doctor"
    repair: str = "tablemend_repair"

    def __post_init__(self) -> None:
        for f in fields(self):
            name = getattr(self, f.name)
            if not isinstance(name, str) or not name or len(name.encode()) > 63 or "\0" in name:
                raise MigrationError(f"invalid {f.name} role name {name!r}",
                                     hint="a role name has 1 to 63 bytes (TABLEMEND_*_ROLE)")
        if self.owner in (self.service, self.readonly, self.doctor, self.repair):
            raise MigrationError(f"the owner role {self.owner!r} must differ from the other roles",
                                 hint="the owner bypasses row-level security; no caller may be it")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Roles:
        """Defaults overridden by ``TABLEMEND_OWNER_ROLE``, ``TABLEMEND_SERVICE_ROLE``, ``TABLEMEND_READONLY_ROLE``,
        ``TABLEMEND_DOCTOR_ROLE`` and ``TABLEMEND_REPAIR_ROLE``."""
        env = os.environ if environ is None else environ
        given = {f.name: env[f"TABLEMEND_{f.name.upper()}_ROLE"] for f in fields(cls)
                 if env.get(f"TABLEMEND_{f.name.upper()}_ROLE")}
        return cls(**given)

    def all(self) -> tuple[str, ...]:
        return (self.owner, self.service, self.readonly, self.doctor, self.repair)


def _q(name: str) -> LiteralString:
    return sqlfiles.query(name, _Q)


def _ident(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def create_roles(conn: Connection, roles: Roles) -> list[str]:
    """Create the missing roles as NOLOGIN groups; returns the names created. Safe when another migrate races."""
    created: list[str] = []
    for name in roles.all():
        if conn.execute(_q("role_exists"), {"name": name}).fetchone():
            continue
        try:
            with conn.transaction():  # a savepoint: a racing migrate's role makes only this statement fail
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(_ident(name)))
            created.append(name)
        except (pg_errors.DuplicateObject, pg_errors.UniqueViolation):
            continue
    return created


def apply(conn: Connection, roles: Roles | None = None) -> None:
    """Roles, ownership, REVOKE from PUBLIC, grants and default privileges; idempotent, in the caller's transaction."""
    roles = roles or Roles.from_env()
    with translated():
        create_roles(conn, roles)
        me = conn.execute(_q("whoami")).fetchone()
        if me and not me["superuser"]:
            # ALTER ... OWNER TO needs membership of the new owner for a role that is not a superuser
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(_ident(roles.owner)))
        _own(conn, roles)
        _pin_search_path(conn)
        _revoke_strangers(conn, roles)
        _grant(conn, roles)


def _own(conn: Connection, roles: Roles) -> None:
    owner = _ident(roles.owner)
    conn.execute(sql.SQL("ALTER SCHEMA tablemend OWNER TO {}").format(owner))
    statements: dict[str, LiteralString] = {
        "r": "ALTER TABLE {} OWNER TO {}", "p": "ALTER TABLE {} OWNER TO {}", "v": "ALTER VIEW {} OWNER TO {}",
        "m": "ALTER MATERIALIZED VIEW {} OWNER TO {}", "S": "ALTER SEQUENCE {} OWNER TO {}",
        "f": "ALTER FOREIGN TABLE {} OWNER TO {}", "type": "ALTER TYPE {} OWNER TO {}",
        "function": "ALTER ROUTINE {} OWNER TO {}",
    }
    for row in conn.execute(_q("owned_objects"), {"schemas": list(SCHEMAS), "owner": roles.owner}).fetchall():
        template: LiteralString = statements[row["kind"]]
        conn.execute(sql.SQL(template).format(_routine(row) if row["kind"] == "function"
                                              else _ident(row["schema"], row["name"]), owner))


def _routine(row: Mapping[str, str]) -> sql.Composable:
    """A function by name alone: tablemend keeps one signature per name, so the name identifies it."""
    if row["overloads"] != "1":
        raise MigrationError(f"function {row['schema']}.{row['name']} has {row['overloads']} overloads",
                             hint="tablemend keeps one signature per function name; drop the stale one")
    return _ident(row["schema"], row["name"])


def _pin_search_path(conn: Connection) -> None:
    """Functions added by later migrations get pg_temp last too (0003 set it for those that existed then)."""
    for row in conn.execute(_q("unpinned_functions"), {"schemas": list(SCHEMAS), "path": SEARCH_PATH}).fetchall():
        conn.execute(sql.SQL("ALTER ROUTINE {} SET search_path = pg_catalog, public, pg_temp").format(
            _routine(row)))


def _revoke_strangers(conn: Connection, roles: Roles) -> None:
    """Every privilege on tablemend's objects not held by the owner goes (ours are granted again, exactly)."""
    rows = conn.execute(_q("foreign_grants"), {"schemas": list(SCHEMAS), "owner": roles.owner}).fetchall()
    for row in rows:
        grantee = sql.SQL("PUBLIC") if row["grantee"] is None else _ident(row["grantee"])
        if row["kind"] == "function":
            target: sql.Composable = sql.SQL("FUNCTION {}").format(_routine(row))
        elif row["kind"] == "S":
            target = sql.SQL("SEQUENCE {}").format(_ident(row["schema"], row["name"]))
        else:
            target = sql.SQL("TABLE {}").format(_ident(row["schema"], row["name"]))
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, grantee))


def _functions(conn: Connection, names: Iterable[str]) -> list[sql.Composable]:
    present = {r["name"] for r in conn.execute(_q("public_functions")).fetchall()}
    return [_ident("public", n) for n in names if n in present]


def _grant(conn: Connection, roles: Roles) -> None:
    r = roles
    ident = {k: _ident(v) for k, v in (("owner", r.owner), ("service", r.service), ("readonly", r.readonly),
                                       ("doctor", r.doctor), ("repair", r.repair))}
    readers = sql.SQL(", ").join([ident["readonly"], ident["doctor"], ident["repair"]])
    everyone = sql.SQL(", ").join([ident["service"], ident["readonly"], ident["doctor"], ident["repair"]])
    for fn in _functions(conn, SERVICE_FUNCTIONS):
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(fn, ident["service"]))
    for fn in _functions(conn, ("tenant_scope",)):  # the policies call it as the querying role
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(fn, readers))
    for fn in _functions(conn, ("assign_tables_atomic_v2",)):  # doctor verify / repair --retry call the allocator
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(fn, ident["repair"]))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(everyone))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA tablemend TO {}").format(everyone))
    # Allocator.open checks the applied migrations before it sends anything (not tenant data)
    conn.execute(sql.SQL("GRANT SELECT ON TABLE tablemend.schema_migrations TO {}").format(everyone))
    # ... and the server's GiST rescan verdict, to set its workaround without probing (not tenant data either)
    conn.execute(sql.SQL("GRANT SELECT ON TABLE tablemend.server_checks TO {}").format(everyone))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(readers))
    # the migration log, not every bookkeeping table (later ones, such as API keys, are granted on purpose)
    conn.execute(sql.SQL("GRANT SELECT ON TABLE tablemend.migration_log TO {}, {}").format(
        ident["doctor"], ident["repair"]))
    for row in conn.execute(_q("tenant_tables")).fetchall():
        conn.execute(sql.SQL("GRANT INSERT, UPDATE, DELETE ON TABLE {} TO {}").format(
            _ident("public", row["name"]), ident["repair"]))
    # objects created later start with no EXECUTE for PUBLIC, whether the owner or the migrating role creates them
    conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC").format(
        ident["owner"]))
    conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"))
