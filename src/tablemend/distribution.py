"""Whether a schema distributes on Citus by restaurant (docs/scale.md), read from the catalog.

Citus shards every tenant table by ``restaurant_id`` (the root ``restaurants`` by its ``id``) and co-locates the
shards, so one restaurant's rows of every table live on one node. That holds only while the schema keeps rules a
single PostgreSQL never asks for; :func:`check` lists each place that breaks one, as a :class:`Defect` whose
``cause`` is one of :data:`CAUSES`:

* ``tenant_column``: a table without a NOT NULL tenant column;
* ``key_without_tenant``: a primary / unique / exclusion key without it (a shard cannot enforce it);
* ``foreign_key_without_tenant``: a foreign key that does not pair both sides' tenant columns;
* ``foreign_key_action``: ON DELETE SET NULL / SET DEFAULT, ON UPDATE SET NULL / SET DEFAULT / CASCADE, which Citus
  refuses when the distribution column is in the key;
* ``transition_table_trigger``: a trigger reading transition tables, which fails on shards;
* ``policy_with_subquery``: a row-level security policy whose expression holds a subquery (Citus refuses it on a
  distributed table: found on the real cluster by ``tablemend distribute``);
* ``id_only_lookup``: a statement of a function that reads or locks a tenant table without naming ``restaurant_id``
  (it cannot be routed to one shard), or a SECURITY DEFINER entry point whose first argument is not the restaurant
  (it cannot be delegated to the restaurant's node) and that is not a declared compatibility entry, or a function
  that calls a compatibility entry instead of its variant;
* ``forced_generic_plan``: a function with ``SET plan_cache_mode = force_generic_plan`` (Citus then cannot plan its
  parameterised queries: 0A000).

The check needs no Citus; ``tablemend distribute`` runs it before touching anything.

Forced generic plans are the one defect tablemend itself puts in on purpose, and only on a single server:
:func:`apply_plan_mode` (run by ``migrate`` and by ``distribute``) gives the allocator's entry points
``plan_cache_mode = force_generic_plan`` where the database has no Citus (their array arguments would otherwise make
PostgreSQL re-plan every statement of every call; measured: ~40% more time per assign) and resets it where Citus is
installed. The schema as shipped (``schema.sql``, the migrations) forces nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import LiteralString

from tablemend import sqlfiles
from tablemend.db import Connection, translated

_Q = "distribution.sql"

CAUSES: tuple[str, ...] = (
    "tenant_column", "key_without_tenant", "foreign_key_without_tenant", "foreign_key_action",
    "transition_table_trigger", "policy_with_subquery", "id_only_lookup", "forced_generic_plan",
)
#: The origin's booking- or hold-keyed RPC entries, kept for its callers: each resolves the restaurant once (a lookup
#: by id, which fans out to every shard on Citus) and calls its restaurant-keyed variant, which does all the work.
COMPATIBILITY: dict[str, str] = {
    "assign_tables_atomic_v2": "restaurant_assign_tables",
    "unassign_tables_atomic": "restaurant_unassign_tables",
    "extend_table_hold": "restaurant_extend_table_hold",
    "release_table_hold": "restaurant_release_table_hold",
    "confirm_hold_assignment": "restaurant_confirm_hold_assignment",
    "set_booking_status": "restaurant_set_booking_status",
    "move_booking": "restaurant_move_booking",
}
_CATALOG_CHECKS: tuple[tuple[str, LiteralString], ...] = (
    ("tenant_column", "tenant_columns"),
    ("key_without_tenant", "keys_without_tenant"),
    ("foreign_key_without_tenant", "foreign_keys_without_tenant"),
    ("foreign_key_action", "foreign_key_actions"),
    ("transition_table_trigger", "transition_table_triggers"),
    ("policy_with_subquery", "policies_with_subqueries"),
    ("forced_generic_plan", "forced_generic_plans"),
)
_COMMENT = re.compile(r"--[^\n]*")
_STRING = re.compile(r"'(?:[^']|'')*'")
_TENANT = re.compile(r"\brestaurant_id\b", re.IGNORECASE)
# "(v_scope IS NULL OR b.restaurant_id = v_scope)": a filter that may be switched off routes nothing
_OPTIONAL_TENANT = re.compile(r"\w+\s+IS\s+NULL\s+OR\s+[\w.]*restaurant_id\s*=\s*\w+", re.IGNORECASE)


@dataclass(frozen=True)
class Defect:
    """One thing that keeps the schema from distributing: its cause, the object, and what is wrong with it."""

    cause: str
    subject: str
    detail: str


def check(conn: Connection, schema: str = "public") -> list[Defect]:
    """Every defect of ``schema``, ordered by cause then subject; empty when it distributes."""
    found: list[Defect] = []
    params = {"schema": schema}
    with translated():
        for cause, name in _CATALOG_CHECKS:
            for row in conn.execute(sqlfiles.query(name, _Q), params).fetchall():
                found.append(Defect(cause, str(row["subject"]), str(row["detail"])))
        tables = [str(r["name"]) for r in conn.execute(sqlfiles.query("tenant_tables", _Q), params).fetchall()]
        functions = conn.execute(sqlfiles.query("functions", _Q), params).fetchall()
    names = {str(f["name"]) for f in functions}
    for f in functions:
        name, signature, body = str(f["name"]), str(f["signature"]), str(f["body"])
        if name in COMPATIBILITY:
            variant = COMPATIBILITY[name]
            if variant not in names or variant not in body:
                found.append(Defect("id_only_lookup", signature,
                                    f"compatibility entry does not call its restaurant-keyed variant {variant}"))
            continue
        if f["definer"] and not f["is_trigger"] and f["first_arg"] != "p_restaurant_id":
            found.append(Defect("id_only_lookup", signature,
                                "entry point whose first argument is not p_restaurant_id (cannot be delegated)"))
        for entry in _calls(body, COMPATIBILITY):
            found.append(Defect("id_only_lookup", signature,
                                f"calls the booking-keyed entry {entry}; call {COMPATIBILITY[entry]}"))
        for statement in unrouted_statements(body, tables):
            found.append(Defect("id_only_lookup", signature, f"statement without restaurant_id: {statement}"))
    order = {c: i for i, c in enumerate(CAUSES)}
    return sorted(found, key=lambda d: (order[d.cause], d.subject, d.detail))


def _calls(body: str, names: dict[str, str]) -> list[str]:
    text = _STRING.sub("''", _COMMENT.sub("", body))
    return [n for n in sorted(names) if re.search(r"\b" + re.escape(n) + r"\s*\(", text)]


def citus_installed(conn: Connection) -> bool:
    """Whether the citus extension is installed in the database."""
    with translated():
        row = conn.execute(sqlfiles.query("citus_installed", _Q)).fetchone()
    return bool(row and row["x"])


def generic_plans(conn: Connection) -> dict[str, bool]:
    """``{function: plan_cache_mode is force_generic_plan}`` for the allocator's entry points."""
    with translated():
        return {str(r["name"]): bool(r["forced"])
                for r in conn.execute(sqlfiles.query("generic_plans_state", _Q)).fetchall()}


def set_generic_plans(conn: Connection, forced: bool) -> None:
    """Force (a single server) or reset (Citus) generic plans on the entry points, in one transaction."""
    with translated(), conn.transaction():
        conn.execute(sqlfiles.query("generic_plans_on" if forced else "generic_plans_off", _Q))


def apply_plan_mode(conn: Connection) -> bool:
    """Generic plans forced without Citus, reset with it (see the module's docstring); returns whether forced."""
    forced = not citus_installed(conn)
    set_generic_plans(conn, forced)
    return forced


def unrouted_statements(body: str, tables: list[str]) -> list[str]:
    """Statements of a function body that read or write one of ``tables`` without naming ``restaurant_id``.

    Comments and string literals are dropped first (a DETAIL text naming restaurant_id routes nothing), and so are
    optional filters (``v_scope IS NULL OR b.restaurant_id = v_scope``); each statement
    is shortened to its first 80 characters, whitespace collapsed.
    """
    if not tables:
        return []
    text = _STRING.sub("''", _COMMENT.sub("", body))
    touches = re.compile(
        r"\b(?:FROM|JOIN|UPDATE|INTO|USING)\s+(?:ONLY\s+)?(?:\w+\.)?(?:"
        + "|".join(re.escape(t) for t in tables) + r")\b",
        re.IGNORECASE)
    found: list[str] = []
    for statement in text.split(";"):
        if touches.search(statement) and not _TENANT.search(_OPTIONAL_TENANT.sub("", statement)):
            found.append(" ".join(statement.split())[:80])
    return found
