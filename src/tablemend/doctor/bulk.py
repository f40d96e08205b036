"""Set-based application of a selection's repairs: one statement per kind of change for all findings of a check,
and which checks a repair can expose (the next round re-detects only those).

Each check's SQL file has ``bulk_repair*`` statements keyed by ``jsonb_to_recordset(%(keys)s)``: the same repair as
its per-finding ``repair*`` statements, for every planned finding at once. A check without them (a new one) is
repaired finding by finding.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor import profile as profiles
from tablemend.doctor.changes import ChangeLog
from tablemend.doctor.rules import Check, Finding, Scope, registry

#: progress callback: (phase, done, total or None); the CLI draws it on stderr, the library never prints
ProgressFn = Callable[[str, int, "int | None"], None]


def no_progress(phase: str, done: int, total: int | None) -> None:
    return None


def _bulk_statements(check: Check) -> list[Any]:
    """The check's set-based statements for this database (its schema variant's equivalents swapped in)."""
    return [q for name, q in check.queries().items() if name.startswith("bulk_repair")]


def _repair_set(conn: Connection, check: Check, findings: Sequence[Finding]) -> None:
    """One statement per kind of change for all of a check's findings (keyed by their rows); a check without a
    set-based form runs its per-finding repair, pipelined."""
    bulk = _bulk_statements(check)
    if not bulk:
        for f in findings:
            check.repair(conn, f)
        return
    keys: list[dict[str, Any]] = []
    seen: set[str] = set()
    for f in findings:
        key = json.dumps(dict(f.key), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            keys.append(json.loads(key))
    with translated():
        for statement in bulk:
            conn.execute(statement, {"keys": Jsonb(keys)})


def apply(conn: Connection, prof: profiles.Profile, findings: Sequence[Finding], log: ChangeLog,
           progress: ProgressFn = no_progress) -> None:
    """Lock what the findings touch (bookings, then tables by id), repair them check by check, log the changes."""
    if not findings:
        return
    checks: dict[str, Check] = {code: cls(prof.catalog) for code, cls in registry().items()}
    ids: tuple[set[uuid.UUID], ...] = (set(), set(), set(), set())  # bookings, tables, holds, allocations
    owners: dict[str, list[str]] = {}
    for f in findings:
        fs = f.scope()
        for into, named in zip(ids, (fs.bookings, fs.tables, fs.holds, fs.allocations), strict=True):
            into |= named  # in place: a Scope union per finding copied the growing sets (seconds at 500k)
            for i in named:
                owners.setdefault(str(i), []).append(f.id)
    scope = Scope(*(frozenset(s) for s in ids))
    progress("locking bookings and tables", 0, len(findings))
    lock(conn, scope.bookings, scope.tables)
    progress("snapshotting the rows in scope", 0, len(findings))
    log.begin_round(scope, owners)
    by_code: dict[str, list[Finding]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    done = 0
    for code, of_code in by_code.items():
        progress(f"repairing {code}", done, len(findings))
        _repair_set(conn, checks[code], of_code)
        done += len(of_code)
    progress("recording changes", done, len(findings))
    # every change of a round of one finding is that finding's (of the round's, not of its last check's)
    log.end_round(sole=findings[0].id if len(findings) == 1 else None)



def lock(conn: Connection, bookings: Iterable[uuid.UUID], tables: Iterable[uuid.UUID]) -> None:
    """The allocator's lock order: bookings, then tables, each by id."""
    conn.execute(sqlfiles.query("lock_bookings", "doctor/catalog.sql"), {"ids": sorted(set(bookings))})
    conn.execute(sqlfiles.query("lock_tables", "doctor/catalog.sql"), {"ids": sorted(set(tables))})


#: the checks whose findings a check's repair can create (the next round re-detects only those; a check not named
#: here, e.g. a new one, makes the next round re-detect everything)
EXPOSES: dict[str, frozenset[str]] = {
    # deleting assignments (with their own table allocation) leaves ledger rows, zone locks and merge groups behind
    "TMD001": frozenset({"TMD007", "TMD008", "TMD009", "TMD013", "TMD020"}),
    "TMD016": frozenset({"TMD007", "TMD008", "TMD009", "TMD013", "TMD020"}),
    "TMD024": frozenset({"TMD007", "TMD008", "TMD009", "TMD013", "TMD020"}),
    # deleting an allocation no assignment uses (orphan, merge group, shadow) changes only table status
    "TMD002": frozenset({"TMD013"}),
    "TMD008": frozenset({"TMD013"}),
    "TMD011": frozenset({"TMD013"}),
    # releasing a hold drops its windows and shadow allocations (the origin's trigger: other unowned holds' too)
    "TMD010": frozenset({"TMD011", "TMD013", "TMD021"}),
    "TMD019": frozenset({"TMD011", "TMD013", "TMD021"}),
    "TMD021": frozenset({"TMD011", "TMD013", "TMD019"}),
    # row-local fixes
    "TMD003": frozenset({"TMD004"}), "TMD004": frozenset(), "TMD005": frozenset(), "TMD007": frozenset(),
    "TMD009": frozenset(), "TMD012": frozenset(), "TMD013": frozenset(), "TMD020": frozenset(),
    "TMD025": frozenset(), "TMD028": frozenset(),
}


def exposed(applied: Iterable[Finding], wanted: Sequence[str] | None) -> list[str] | None:
    """The codes the next round must re-detect after ``applied`` (None: all of them)."""
    codes: set[str] = set()
    for f in applied:
        if f.code not in EXPOSES:
            return list(wanted) if wanted is not None else None
        codes |= EXPOSES[f.code]
    if wanted is not None:
        codes &= {c.upper() for c in wanted}
    return sorted(codes)


def strata(codes: Sequence[str]) -> list[list[str]]:
    """``codes`` in detection order, so that every check is detected once, after each check whose repair can expose
    its findings (:data:`EXPOSES`): a whole-database repair then needs no re-scan of what it exposed. Checks that
    expose each other (a cycle) share a stratum; a code missing from :data:`EXPOSES` exposes nothing known here (the
    caller re-detects everything after applying one). The given order is kept within a stratum."""
    remaining = list(dict.fromkeys(codes))
    graph = {c: EXPOSES.get(c, frozenset()) - {c} for c in remaining}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph.get(todo.pop(), frozenset()):
                if nxt == goal:
                    return True
                if nxt in graph and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    order: list[list[str]] = []
    while remaining:
        preds = {c: [p for p in remaining if c in graph[p]] for c in remaining}
        free = [c for c in remaining if not preds[c]]
        if not free:  # a cycle: the codes whose remaining predecessors all lie on a cycle through them
            free = [c for c in remaining if all(reaches(c, p) for p in preds[c])]
        order.append(free)
        remaining = [c for c in remaining if c not in free]
    return order
