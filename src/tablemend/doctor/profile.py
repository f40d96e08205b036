"""Profile detection: which schema the doctor is looking at, read from the catalog.

``tablemend`` is tablemend's own schema (marked by ``tablemend.schema_migrations``); ``origin`` is the origin's
Supabase schema (``booking_table_assignments``, ``allocations``, the ledger and ``assign_tables_atomic_v2``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.errors import ProfileNotDetected, SchemaMissing, UsageError

PROFILES = ("origin", "tablemend")

_ORIGIN_MARKERS = ("public.booking_table_assignments", "public.allocations", "public.bookings",
                   "public.table_inventory")
_TABLEMEND_MARKERS = ("tablemend.schema_migrations", "public.booking_table_assignments")


@dataclass(frozen=True)
class Catalog:
    """What exists in the database, as features a check can require.

    Relations and functions are ``schema.name`` (functions with their overload counts), columns
    ``schema.relation.column``, constraints ``schema.relation:name`` (``deferred`` lists those checked only at commit).
    Live origin databases sit at different points of its migration history, so checks ask before they query.
    """

    relations: frozenset[str]
    functions: dict[str, int]
    columns: frozenset[str] = frozenset()
    constraints: frozenset[str] = frozenset()
    deferred: frozenset[str] = frozenset()

    def has(self, name: str) -> bool:
        qualified = name if "." in name else f"public.{name}"
        return (qualified in self.relations or qualified in self.functions or qualified in self.columns
                or qualified in self.constraints)

    def missing(self, features: Iterable[str]) -> tuple[str, ...]:
        return tuple(f for f in features if not self.has(f))


@dataclass(frozen=True)
class Profile:
    name: str
    catalog: Catalog


def read_catalog(conn: Connection) -> Catalog:
    queries = sqlfiles.queries("doctor/catalog.sql")
    with translated():
        relations = frozenset(str(r["name"]) for r in conn.execute(queries["relations"]).fetchall())
        functions = {str(r["name"]): int(r["overloads"]) for r in conn.execute(queries["functions"]).fetchall()}
        columns = frozenset(str(r["name"]) for r in conn.execute(queries["columns"]).fetchall())
        constraints = conn.execute(queries["constraints"]).fetchall()
    return Catalog(relations, functions, columns, frozenset(str(r["name"]) for r in constraints),
                   frozenset(str(r["name"]) for r in constraints if r["deferred"]))


def detect(conn: Connection, override: str | None = None) -> Profile:
    """The profile of the database behind ``conn`` (``override`` wins when given, but must be plausible)."""
    catalog = read_catalog(conn)
    if override is not None:
        if override not in PROFILES:
            raise UsageError(f"unknown profile {override!r}; choose one of {', '.join(PROFILES)}")
        wanted = _TABLEMEND_MARKERS if override == "tablemend" else _ORIGIN_MARKERS
        if missing := [m for m in wanted if m not in catalog.relations]:  # else a raw 42P01 later
            raise SchemaMissing(f"--profile {override}: this database has no {', '.join(missing)}",
                                hint="check --dsn (the first stderr line names the database), or leave --profile "
                                "out to detect it")
        return Profile(override, catalog)
    if "tablemend.schema_migrations" in catalog.relations and catalog.has("booking_table_assignments"):
        return Profile("tablemend", catalog)
    if all(marker in catalog.relations for marker in _ORIGIN_MARKERS):
        return Profile("origin", catalog)
    raise ProfileNotDetected(
        "no doctor profile matches this database",
        details="expected the origin's tables (bookings, booking_table_assignments, allocations, table_inventory) "
        "or tablemend's schema",
        hint="check --dsn, or pass --profile origin|tablemend",
    )
