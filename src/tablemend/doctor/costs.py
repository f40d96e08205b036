"""What a repair costs before it runs: the database's cost traps (TMD032) and an estimate of the repair's time.

A foreign key whose referencing columns lead no index turns every delete from the referenced table into a
sequential scan of the referencing table (PostgreSQL's referential-integrity trigger looks the referencing rows up
one deleted row at a time). The estimate multiplies the deletes a repair plans by the size of those tables; the
repair uses it for a statement timeout that fits, and the CLI prints it before a long repair starts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tablemend.db import Connection, translated
from tablemend.doctor import profile as profiles
from tablemend.doctor.rules import Context, Finding, registry

#: per finding: the rows its repair deletes from each relation that foreign keys point at (at most, one-row keys)
DELETES: dict[str, dict[str, int]] = {
    "TMD001": {"public.booking_table_assignments": 1, "public.allocations": 1},
    "TMD002": {"public.allocations": 1},
    "TMD008": {"public.allocations": 1},
    "TMD010": {"public.table_hold_members": 1, "public.table_hold_windows": 1, "public.allocations": 1},
    "TMD011": {"public.allocations": 1},
    "TMD016": {"public.booking_table_assignments": 1, "public.allocations": 1},
    "TMD019": {"public.table_hold_members": 1},
    "TMD021": {"public.table_hold_members": 1, "public.table_hold_windows": 1, "public.allocations": 1},
}
#: seconds per finding of set-based repair work with the origin's triggers firing (bench.repair, 2 cores)
PER_FINDING_S = 0.002
#: seconds per referencing row a sequential scan reads for one deleted referenced row (bench.repair, 2 cores)
PER_SCANNED_ROW_S = 200e-9
#: the statement timeout with room to spare: this many times the estimate, never under a minute
TIMEOUT_FACTOR = 4
MIN_TIMEOUT_S = 60


@dataclass(frozen=True)
class Trap:
    """One unindexed foreign key (a TMD032 finding's metadata)."""

    constraint: str
    relation: str
    columns: tuple[str, ...]
    referenced: str
    rows: int
    index_sql: str
    index_name: str
    schema: str

    @classmethod
    def of(cls, finding: Finding) -> Trap:
        m: dict[str, Any] = dict(finding.metadata)
        return cls(str(finding.key.get("constraint")), str(m["relation"]), tuple(m["columns"]),
                   str(m["referenced"]), int(m["rows"]), str(m["index_sql"]), str(m["index_name"]),
                   str(m["schema"]))


@dataclass(frozen=True)
class Estimate:
    seconds: float
    findings: int
    #: trap -> seconds it adds (the cost of repairing without its index)
    traps: tuple[tuple[Trap, float], ...] = field(default_factory=tuple)

    @property
    def without_traps(self) -> float:
        return self.seconds - sum(s for _, s in self.traps)


def traps(conn: Connection, *, min_rows: int = 0) -> list[Trap]:
    """Every unindexed foreign key into a table repairs delete from, whose referencing table has ``min_rows``."""
    check = registry()["TMD032"]()
    with translated():
        rows = conn.execute(check.sql()["detect"], {**Context().params(), "min_rows": min_rows}).fetchall()
    return [Trap.of(check.to_finding(r)) for r in rows]


def estimate(conn: Connection, prof: profiles.Profile, findings: Sequence[Finding]) -> Estimate:
    """Rough seconds the repair of ``findings`` takes on this database, and what each trap adds to it."""
    deletes: dict[str, int] = {}
    for f in findings:
        for relation, n in DELETES.get(f.code, {}).items():
            deletes[relation] = deletes.get(relation, 0) + n
    costly = [(t, deletes.get(t.referenced, 0) * t.rows * PER_SCANNED_ROW_S) for t in traps(conn)
              if prof.catalog.has(t.referenced)]
    costly = [(t, s) for t, s in costly if s > 0]
    seconds = len(findings) * PER_FINDING_S + sum(s for _, s in costly)
    return Estimate(seconds, len(findings), tuple(costly))


def fitting_timeout(seconds: float) -> int:
    """A statement timeout (whole seconds) that lets the estimated work finish with room to spare."""
    return max(MIN_TIMEOUT_S, math.ceil(seconds * TIMEOUT_FACTOR))
