"""Deterministic origin-schema data with a known share of drift, for the doctor's scan benchmark and its test.

``generate(conn, n)`` writes ``n`` bookings (plus their restaurants, tables, slots, assignments, allocations, ledger
rows, holds) with set-based INSERTs from ``origin_data.sql``; ``expected_findings(n)`` says exactly which findings
a full scan must report for that data, by check code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import LiteralString

from tablemend import sqlfiles
from tablemend.db import Connection, translated

_SQL = Path(__file__).with_name("origin_data.sql")

#: drift kind -> (modulus, residue) of the booking number i that carries it (see the plan query)
DRIFT: dict[str, tuple[int, int]] = {
    "terminal_blocker": (100, 1),  # cancelled, but its (table, slot) row and allocation stayed
    "null_window": (500, 2),  # live row with NULL start/end
    "stale_slot": (500, 3),  # live row whose slot_id is not its window's slot
    "orphan_allocation": (1000, 4),  # real allocation, no assignment row
    "orphan_ledger": (1000, 5),  # ledger row, no assignment row
    "expired_hold": (1000, 6),  # active hold long expired: member, hold window, shadow allocation
    "orphan_merge": (1000, 7),  # merge_group allocation nothing points at
    "stale_cache": (1000, 8),  # confirmation cache of a cancelled booking
    "zone_drift": (1000, 9),  # zone lock on a zone the booking holds no table in
    "no_allocation": (1000, 10),  # live row without its allocation
}

#: check code -> the drift kinds whose rows it must report (one finding per booking of that kind)
FINDINGS: dict[str, tuple[str, ...]] = {
    "TMD001": ("terminal_blocker",),
    "TMD002": ("orphan_allocation",),
    "TMD003": ("stale_slot",),
    "TMD005": ("null_window",),
    "TMD007": ("orphan_ledger",),
    "TMD008": ("orphan_merge",),
    "TMD009": ("zone_drift",),
    "TMD010": ("expired_hold",),
    "TMD011": ("expired_hold",),
    "TMD012": ("stale_cache",),
    "TMD016": ("no_allocation",),
}


def _queries() -> dict[str, LiteralString]:
    # shipped with the repository, never built from input
    return sqlfiles.split_named(_SQL.read_text(encoding="utf-8"))


def query(name: str) -> LiteralString:
    return _queries()[name]


def restaurants_for(n: int) -> int:
    """20 tables x 3 seatings per restaurant and day; one restaurant per 20,000 bookings (about a year each)."""
    return max(1, math.ceil(n / 20_000))


def kind_count(n: int, kind: str) -> int:
    """How many of the bookings 0..n-1 carry ``kind`` (the kinds' residues never collide)."""
    modulus, residue = DRIFT[kind]
    return 0 if n <= residue else (n - 1 - residue) // modulus + 1


def kind_of(i: int) -> str:
    """The drift kind of booking i, as the plan query decides it (first matching residue wins)."""
    return next((k for k, (modulus, residue) in DRIFT.items() if i % modulus == residue), "healthy")


def holds_tables(i: int) -> bool:
    """Whether booking i has an assignment row (live or drifted), as the assignments query decides it."""
    kind = kind_of(i)
    if kind in ("orphan_allocation", "orphan_ledger", "stale_cache"):
        return False
    return kind != "healthy" or (i * 37) % 100 < 92  # healthy cancelled / no-show bookings released their table


def expected_findings(n: int) -> dict[str, int]:
    found = {code: sum(kind_count(n, k) for k in kinds) for code, kinds in FINDINGS.items()
             if sum(kind_count(n, k) for k in kinds)}
    traps = unindexed_foreign_keys(n)
    return {**found, "TMD032": traps} if traps else found


def unindexed_foreign_keys(n: int) -> int:
    """TMD032 findings: the origin's two unindexed foreign keys into allocations (assignments.allocation_id, the
    ledger's merge_group_allocation_id) whose tables reach the check's size threshold."""
    from tablemend.doctor.checks.tmd032_unindexed_foreign_key import UnindexedForeignKey

    assignments = sum(holds_tables(i) for i in range(n))
    ledger = assignments + kind_count(n, "orphan_ledger")
    return sum(rows >= UnindexedForeignKey.min_rows for rows in (assignments, ledger))


_STEPS = ("plan", "restaurants", "zones", "capacities", "tables", "slots", "bookings", "allocations", "assignments",
          "ledger", "holds", "hold_members", "hold_windows", "shadow_allocations", "confirmation_cache", "drop_plan")


#: progress callback: (step name, steps done, steps in all); the benchmark draws it on a terminal
StepFn = Callable[[str, int, int], None]


def generate(conn: Connection, n: int, on_step: StepFn | None = None) -> dict[str, int]:
    """Write the data for ``n`` bookings into an empty origin schema in one transaction, then VACUUM ANALYZE (so
    ``conn`` must be in autocommit mode); returns rows per table.

    Triggers and foreign-key checks are off while loading (``session_replication_role = replica``, needs superuser):
    the rows are consistent by construction and the audit / status triggers would only slow the load down.
    ``on_step`` is called before each step (the last one is ``vacuum``): at 1M bookings the load takes minutes.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    params = {"n": n, "restaurants": restaurants_for(n)}
    with translated():
        with conn.transaction():
            conn.execute(query("replica"))
            for done, step in enumerate(_STEPS):
                if on_step is not None:
                    on_step(step, done, len(_STEPS) + 1)
                conn.execute(query(step), params)
        if on_step is not None:
            on_step("vacuum", len(_STEPS), len(_STEPS) + 1)
        # fresh statistics and visibility map, as on a database that has been running a while
        conn.execute(query("vacuum"))
        return {str(r["name"]): int(r["rows"]) for r in conn.execute(query("table_rows")).fetchall()}
