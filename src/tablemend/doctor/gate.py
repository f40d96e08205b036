"""The pre-migration gate: would the bookkeeping's unique and exclusion constraints be creatable on today's data?

For each constraint the gate answers creatable yes / no and names the rows that prevent it: duplicate groups for a
unique key, overlapping pairs (and rows whose window cannot even be indexed) for an exclusion constraint. The detection
queries in ``sql/doctor/gate.sql`` follow each constraint's exact semantics (its WHERE clause, ``[)`` bounds, NULLs
never colliding), so the verdict equals what ``ALTER TABLE … ADD CONSTRAINT`` would do; the tests prove it by running
that DDL (``Constraint.ddl()``) in a rolled-back transaction. The gate itself only reads, in one REPEATABLE READ READ
ONLY snapshot, streaming rows through server-side cursors.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor import access
from tablemend.doctor import profile as profiles
from tablemend.errors import UsageError

_SQL = "doctor/gate.sql"


@dataclass(frozen=True)
class Constraint:
    """A constraint the gate checks: where it lives, what it says, which columns it needs."""

    key: str
    name: str
    relation: str  # public.<table>
    kind: str  # unique | exclude
    definition: str
    columns: tuple[str, ...]

    @property
    def table(self) -> str:
        return self.relation.split(".", 1)[1]

    def detect_query(self) -> LiteralString:
        return sqlfiles.query(f"detect_{self.key}", _SQL)

    def ddl(self) -> LiteralString:
        """``ALTER TABLE … ADD CONSTRAINT tablemend_gate_probe …`` with exactly the semantics the gate checks."""
        return sqlfiles.query(f"ddl_{self.key}", _SQL)


CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint("bta_booking_table", "booking_table_assignments_booking_table_key",
               "public.booking_table_assignments", "unique", "UNIQUE (booking_id, table_id)",
               ("booking_id", "table_id")),
    Constraint("bta_table_slot", "booking_table_assignments_table_id_slot_id_key",
               "public.booking_table_assignments", "unique", "UNIQUE (table_id, slot_id)", ("table_id", "slot_id")),
    Constraint("bta_no_overlap", "no_overlapping_table_assignments", "public.booking_table_assignments", "exclude",
               "EXCLUDE USING gist (table_id WITH =, tstzrange(start_at, end_at) WITH &&) "
               "WHERE (start_at IS NOT NULL AND end_at IS NOT NULL)", ("table_id", "start_at", "end_at")),
    Constraint("allocations_no_overlap", "allocations_no_overlap", "public.allocations", "exclude",
               'EXCLUDE USING gist (restaurant_id WITH =, resource_type WITH =, resource_id WITH =, "window" WITH &&) '
               "WHERE (NOT shadow)", ("restaurant_id", "resource_type", "resource_id", "window", "shadow")),
)


@dataclass(frozen=True)
class Blocker:
    """One duplicate group, overlapping pair or unindexable row: the rows that together break the constraint."""

    group: str
    rows: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "rows": [dict(r) for r in self.rows]}


@dataclass(frozen=True)
class Verdict:
    constraint: Constraint
    applicable: bool
    creatable: bool | None  # None when not applicable
    present: bool = False  # a constraint of that name already exists
    groups: int = 0  # every blocker, including those beyond the limit
    blockers: tuple[Blocker, ...] = ()
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        c = self.constraint
        return {"constraint": c.key, "name": c.name, "relation": c.relation, "kind": c.kind,
                "definition": c.definition, "applicable": self.applicable, "present": self.present,
                "creatable": self.creatable, "blocking_groups": self.groups, "note": self.note,
                "blockers": [b.as_dict() for b in self.blockers]}


@dataclass(frozen=True)
class GateResult:
    profile: str
    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)

    @property
    def creatable(self) -> bool:
        """True when every applicable constraint can be created."""
        return all(v.creatable is not False for v in self.verdicts)

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "creatable": self.creatable,
                "constraints": [v.as_dict() for v in self.verdicts]}


def constraints(keys: Iterable[str] | None = None) -> list[Constraint]:
    """The gate's constraints, optionally only ``keys`` (unknown keys are a usage error)."""
    if keys is None:
        return list(CONSTRAINTS)
    wanted = list(dict.fromkeys(keys))
    known = {c.key: c for c in CONSTRAINTS}
    unknown = [k for k in wanted if k not in known]
    if unknown:
        raise UsageError(f"unknown constraint(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [known[k] for k in wanted]


def _applicability(conn: Connection, c: Constraint) -> str | None:
    """None when the constraint can be checked here, else why not (no such table, a view, a missing column)."""
    row = conn.execute(sqlfiles.query("relation_columns", _SQL), {"relname": c.table}).fetchone()
    if row is None:
        return f"{c.relation} does not exist"
    if row["relkind"] not in ("r", "p"):
        return f"{c.relation} is not a table (relkind {row['relkind']})"
    missing = [col for col in c.columns if col not in row["columns"]]
    if missing:
        return f"{c.relation} has no column {', '.join(missing)}"
    return None


def _blockers(conn: Connection, c: Constraint, limit: int) -> tuple[int, list[Blocker]]:
    """Stream the detection query; keep the first ``limit`` groups, count them all."""
    kept: list[Blocker] = []
    groups = 0
    current: str | None = None
    rows: list[dict[str, Any]] = []
    with conn.cursor(name=f"tm_gate_{c.key}") as cur:
        cur.itersize = 2000
        cur.execute(c.detect_query(), {})  # params (even none) so %% in the SQL is unescaped
        for row in cur:
            if row["grp"] != current:
                if current is not None and len(kept) < limit:
                    kept.append(Blocker(current, tuple(rows)))
                current, rows = row["grp"], []
                groups += 1
            if len(kept) < limit:
                rows.append({k: v for k, v in row.items() if k != "grp"})
    if current is not None and len(kept) < limit:
        kept.append(Blocker(current, tuple(rows)))
    return groups, kept


def check(conn: Connection, c: Constraint, *, limit: int = 50) -> Verdict:
    """The verdict for one constraint, in the caller's transaction."""
    with translated():
        why_not = _applicability(conn, c)
        if why_not is not None:
            return Verdict(c, applicable=False, creatable=None, note=why_not)
        present_row = conn.execute(sqlfiles.query("constraint_present", _SQL),
                                   {"relation": c.relation, "name": c.name}).fetchone()
        present = bool(present_row and present_row["present"])
        groups, kept = _blockers(conn, c, limit)
    note = "already present (the data satisfies it by construction)" if present else None
    return Verdict(c, applicable=True, creatable=groups == 0, present=present, groups=groups,
                   blockers=tuple(kept), note=note)


def gate(conn: Connection, *, profile: str | None = None, keys: Sequence[str] | None = None,
         limit: int = 50) -> GateResult:
    """Verdicts for every gate constraint, from one read-only snapshot (use an autocommit connection)."""
    if limit < 0:
        raise UsageError("--limit must be >= 0")
    selected = constraints(keys)
    with translated(), conn.transaction():
        conn.execute(sqlfiles.query("begin_snapshot", "doctor/catalog.sql"))
        access.begin(conn)
        conn.execute(sqlfiles.query("read_everything", _SQL), {})
        prof = profiles.detect(conn, profile)
        verdicts = tuple(check(conn, c, limit=limit) for c in selected)
    return GateResult(prof.name, verdicts)


def blocking_row_ids(verdict: Verdict) -> set[uuid.UUID]:
    """Ids of every row named by the verdict's kept blockers (handy for reports and tests)."""
    return {r["row_id"] for b in verdict.blockers for r in b.rows}
