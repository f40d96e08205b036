"""Doctor rules: the :class:`Check` base class, the :class:`Finding` it produces, and the registry.

A check is one module under ``tablemend.doctor.checks`` (sqlfluff-style): a stable code, a title, a level, the
allocator error the state causes, a detection query and a repair in a ``.sql`` file of the same name, and a safety
class defined by effect on live occupancy (which tables a live booking holds, over which window):

* ``safe`` changes no live booking's occupancy (rows of terminal or past bookings, orphans, stale bookkeeping);
* ``confirm`` changes a live booking's occupancy; applied only when the finding is named with ``--include``;
* ``human`` is reported and never repaired automatically (a real double booking, a schema defect).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import importlib
import json
import pkgutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, LiteralString

from tablemend import sqlfiles
from tablemend.db import Connection, translated

if TYPE_CHECKING:
    from tablemend.doctor.profile import Catalog


class Level(str, enum.Enum):
    info = "info"
    warning = "warning"
    error = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Category(str, enum.Enum):
    """What part of the bookkeeping a rule is about (SARIF rule properties, JUnit suites, every finding's row)."""

    assignments = "assignments"  # assignment rows: who holds which table, over which window
    bookkeeping = "bookkeeping"  # allocations, the ledger, caches and statuses derived from assignments
    holds = "holds"  # holds and zone locks
    schema = "schema"  # indexes, constraints, triggers and function overloads
    server = "server"  # the PostgreSQL server and its index structures
    performance = "performance"  # states that make repairs slow, not wrong


class Safety(str, enum.Enum):
    safe = "safe"
    confirm = "confirm"
    human = "human"


@dataclass(frozen=True)
class ErrorSignature:
    """The allocator error a state causes: SQLSTATE plus a message pattern (``%`` = any text, as in LIKE)."""

    sqlstate: str | None
    message: str


@dataclass(frozen=True)
class Context:
    """What a scan is about: a restaurant, and optionally one booking P with the table set and window it wants."""

    restaurant_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None
    table_ids: tuple[uuid.UUID, ...] = ()
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None
    slot_id: uuid.UUID | None = None
    idempotency_key: str | None = None
    #: an explicit ``--restaurant`` scope (reads as that restaurant under row-level security); None = complete reads
    scope_restaurant: uuid.UUID | None = None

    def params(self) -> dict[str, Any]:
        return {
            "restaurant_id": self.restaurant_id,
            "booking_id": self.booking_id,
            "table_ids": list(self.table_ids) if self.booking_id is not None else None,
            "start_at": self.start_at,
            "end_at": self.end_at,
            "slot_id": self.slot_id,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class Scope:
    """Rows a repair may touch, by id: the change recorder snapshots them before and after."""

    bookings: frozenset[uuid.UUID] = frozenset()
    tables: frozenset[uuid.UUID] = frozenset()
    holds: frozenset[uuid.UUID] = frozenset()
    allocations: frozenset[uuid.UUID] = frozenset()

    def __or__(self, other: Scope) -> Scope:
        return Scope(self.bookings | other.bookings, self.tables | other.tables, self.holds | other.holds,
                     self.allocations | other.allocations)


def _jsonable(value: object) -> object:
    if isinstance(value, uuid.UUID | dt.datetime | dt.date):
        return str(value)
    return value


@dataclass(frozen=True)
class Finding:
    """One inconsistent state. ``key`` holds the columns that identify it (and parameterise its repair)."""

    code: str
    level: Level
    safety: Safety
    restaurant_id: uuid.UUID | None
    booking_id: uuid.UUID | None
    table_id: uuid.UUID | None
    detail: str
    remediation: str
    key: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @functools.cached_property  # (a repair asks for each id many times: 20,000 findings at 500k bookings)
    def id(self) -> str:
        """Stable id: the code plus a hash of the key columns (same state → same id, across runs)."""
        canonical = json.dumps({k: _jsonable(v) for k, v in sorted(self.key.items())}, sort_keys=True, default=str)
        return f"{self.code}-{hashlib.sha1(canonical.encode()).hexdigest()[:10]}"

    def scope(self) -> Scope:
        """Ids named by the key columns (``*booking_id``, ``*table_id``, ``hold_id``, ``*allocation_id``)."""
        groups: dict[str, set[uuid.UUID]] = {"booking_id": set(), "table_id": set(), "hold_id": set(),
                                             "allocation_id": set()}
        values: list[tuple[str, object]] = [*self.key.items(), ("booking_id", self.booking_id),
                                            ("table_id", self.table_id)]
        values += [("table_id", t) for t in self.metadata.get("tables") or ()]
        for name, value in values:
            for suffix, bucket in groups.items():
                if name.endswith(suffix) and value is not None:
                    bucket.add(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        return Scope(frozenset(groups["booking_id"]), frozenset(groups["table_id"]), frozenset(groups["hold_id"]),
                     frozenset(groups["allocation_id"]))

    def as_row(self) -> dict[str, Any]:
        rule = rule_of(self.code)
        return {
            "id": self.id,
            "code": self.code,
            "title": rule.title if rule is not None else None,
            "category": rule.category.value if rule is not None else None,
            "level": self.level.value,
            "safety": self.safety.value,
            "restaurant": self.restaurant_id,
            "booking": self.booking_id,
            "table": self.table_id,
            "detail": self.detail,
            "remediation": self.remediation,
            "metadata": dict(self.metadata),
        }


class Check:
    """Base class of a doctor rule. Subclasses set the class attributes; the docstring shows bad → repaired state."""

    code: ClassVar[str]
    name: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[Category]
    #: the relation whose row the finding's key names (None: a catalog object or the server, named by the key)
    relation: ClassVar[str | None] = None
    level: ClassVar[Level]
    safety: ClassVar[Safety]
    profiles: ClassVar[tuple[str, ...]] = ("origin",)
    #: the allocator errors this state causes (first = the usual one)
    errors: ClassVar[tuple[ErrorSignature, ...]] = ()
    remediation: ClassVar[str]
    #: catalog features the queries need: relations / functions (``public.x``), columns (``public.rel.column``),
    #: constraints (``public.rel:name``); with one missing the check is *not applicable, needs X*
    requires: ClassVar[tuple[str, ...]] = ()
    #: features the usual queries use that have an equivalent when missing: (feature, suffix) pairs; the queries
    #: named ``<query>__<suffix>`` in the check's SQL file replace ``<query>`` (a ``-- skip`` body drops it)
    degraded: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: True when the check only makes sense for one booking P (explain / repair --booking)
    needs_booking: ClassVar[bool] = False
    #: True when the check says nothing about one booking P's call (whole scans only; not in explain / --booking)
    scan_only: ClassVar[bool] = False

    def __init__(self, catalog: Catalog | None = None) -> None:
        #: the database's features; None means the newest origin / tablemend schema (everything present)
        self.catalog = catalog

    def missing(self) -> tuple[str, ...]:
        """Required features the database lacks: non-empty means the check does not apply there."""
        return () if self.catalog is None else self.catalog.missing(self.requires)

    def variants(self) -> tuple[str, ...]:
        """Suffixes of the equivalent queries in use, one per missing degradable feature."""
        if self.catalog is None:
            return ()
        return tuple(suffix for feature, suffix in self.degraded if not self.catalog.has(feature))

    def queries(self) -> dict[str, LiteralString]:
        """The check's named queries for this database: the usual ones, with degraded equivalents swapped in."""
        base = self.sql()
        chosen = {name: q for name, q in base.items() if "__" not in name}
        for suffix in self.variants():
            for name in list(chosen):
                alternative = base.get(f"{name}__{suffix}")
                if alternative is not None:
                    chosen[name] = alternative
        return {name: q for name, q in chosen.items() if q.strip() != "-- skip"}

    @classmethod
    def description(cls) -> str:
        """The check module's docstring: a summary line, the bad state, the repaired state."""
        import inspect
        import sys

        return inspect.cleandoc(sys.modules[cls.__module__].__doc__ or cls.__doc__ or cls.title)

    @classmethod
    def sql(cls) -> dict[str, LiteralString]:
        return _check_sql(cls.__module__.rsplit(".", 1)[-1])

    def detect(self, conn: Connection, ctx: Context) -> Iterator[Finding]:
        """Run the ``detect`` query (streamed through a server-side cursor) and turn rows into findings."""
        query = self.queries()["detect"]
        with translated(), conn.cursor(name=f"tmd_{self.code.lower()}") as cur:
            cur.itersize = 2000
            cur.execute(query, ctx.params())
            for row in cur:
                yield self.to_finding(row)

    def to_finding(self, row: Mapping[str, Any]) -> Finding:
        return self.with_remediation(self._raw_finding(row))

    def _raw_finding(self, row: Mapping[str, Any]) -> Finding:
        safety = Safety(row["safety"]) if row.get("safety") else self.safety
        level = Level(row["level"]) if row.get("level") else self.level
        return Finding(
            code=self.code,
            level=level,
            safety=safety,
            restaurant_id=row.get("restaurant_id"),
            booking_id=row.get("booking_id"),
            table_id=row.get("table_id"),
            detail=str(row["detail"]),
            remediation="",
            key=dict(row.get("key") or {}),
            metadata=dict(row.get("metadata") or {}),
        )

    def with_remediation(self, finding: Finding) -> Finding:
        """The finding with its remediation text: the literal repair SQL, or the check's manual steps."""
        text = self.manual_sql(finding) if self.safety is not Safety.human else None
        return dataclasses.replace(finding, remediation=text or self.remediation.strip())

    def repair(self, conn: Connection, finding: Finding) -> None:
        """Run every ``repair*`` query of the check's SQL file, in file order, with the finding's key as parameters."""
        statements = [q for name, q in self.queries().items() if name.startswith("repair")]
        params = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in finding.key.items()}
        with translated():
            for statement in statements:
                conn.execute(statement, params)

    def manual_sql(self, finding: Finding) -> str | None:
        """The repair as literal SQL an operator could run (None when the check has no repair)."""
        statements = [q for name, q in self.queries().items() if name.startswith("repair")]
        if not statements:
            return None
        from tablemend.doctor import script

        params = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in finding.key.items()}
        out = [script.bind(statement, params).rstrip().rstrip(";") + ";" for statement in statements]
        return "\n".join(out)


@functools.cache
def _check_sql(module: str) -> dict[str, LiteralString]:
    return sqlfiles.split_named(sqlfiles.read_package_file("tablemend.doctor.checks", f"{module}.sql"))


_REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: add a check to the registry (codes are unique and stable)."""
    if cls.code in _REGISTRY and _REGISTRY[cls.code] is not cls:
        raise TypeError(f"check code {cls.code} is registered twice")
    _REGISTRY[cls.code] = cls
    return cls


def registry() -> dict[str, type[Check]]:
    """Every check, by code, in code order (imports the checks package once)."""
    from tablemend.doctor import checks

    for module in pkgutil.iter_modules(checks.__path__):
        if module.name.startswith("tmd"):
            importlib.import_module(f"{checks.__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


@functools.cache
def rule_of(code: str) -> type[Check] | None:
    """The check class of a code (cached: every finding's row names its rule's title and category)."""
    return registry().get(code)


def for_profile(profile: str, catalog: Catalog | None = None) -> list[Check]:
    return [cls(catalog) for cls in registry().values() if profile in cls.profiles]
