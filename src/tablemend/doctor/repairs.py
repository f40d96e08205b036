"""Plan, repair, undo, verify: every write the doctor makes, each in one transaction.

* ``plan`` applies the repair inside a transaction that is always rolled back and reports the row changes;
* ``repair`` applies it for real: takes the allocator's locks, journals every changed row with its before-image and
  writes an ``observability_events`` row, all in one transaction (so a repair killed half-way leaves nothing);
* ``undo`` restores the before-images of one repair as a new journal entry;
* ``verify`` applies the pending repair for a booking and calls the database's own ``assign_tables_atomic_v2``, then
  rolls everything back; ``retry=True`` commits instead.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor import journal
from tablemend.doctor import profile as profiles
from tablemend.doctor.changes import Op, Recorder, RowChange
from tablemend.doctor.rules import Check, Context, Finding, Safety, Scope, registry
from tablemend.doctor.scanner import checks as checks_for
from tablemend.doctor.scanner import detect
from tablemend.errors import FindingNotFound, LockUnavailable, RepairNotFound, RepairRefused, TablemendError

_CATALOG = "doctor/catalog.sql"
#: seconds to sleep just before COMMIT (tests kill the backend there to prove a repair is all-or-nothing)
TEST_PAUSE_ENV = "TABLEMEND_DOCTOR_TEST_PAUSE"


def _q(name: str) -> Any:
    return sqlfiles.query(name, _CATALOG)


@dataclass(frozen=True)
class Timeouts:
    lock_timeout: str = "5s"
    statement_timeout: str = "60s"


@dataclass(frozen=True)
class Selection:
    """Which findings a repair applies and which it leaves, with the reason."""

    apply: tuple[Finding, ...]
    skipped: tuple[tuple[Finding, str], ...]


@dataclass(frozen=True)
class Plan:
    profile: str
    context: Context
    selection: Selection
    changes: tuple[tuple[RowChange, tuple[str, ...]], ...]
    #: the database's features (the repair SQL of a check can differ by schema variant)
    catalog: profiles.Catalog | None = None

    def sql(self) -> str:
        """The applied findings' repairs as a reviewable SQL script (one transaction)."""
        from tablemend.doctor import script

        checks = registry()
        bookings = frozenset(b for b in [self.context.booking_id] if b is not None)
        scope = Scope(bookings, frozenset(self.context.table_ids))
        for finding in self.selection.apply:
            scope = scope | finding.scope()
        lines = ["BEGIN;", "SET LOCAL lock_timeout = '5s';",
                 "-- the allocator's lock order: bookings, then tables, by id"]
        locks = (("SELECT id FROM public.bookings WHERE id = ANY (%(ids)s::uuid[]) ORDER BY id FOR UPDATE;",
                  scope.bookings),
                 ("SELECT id FROM public.table_inventory WHERE id = ANY (%(ids)s::uuid[]) ORDER BY id FOR UPDATE;",
                  scope.tables))
        for statement, ids in locks:
            if ids:
                lines.append(script.bind(statement, {"ids": sorted(str(i) for i in ids)}))
        for finding in self.selection.apply:
            # every value in the script goes through script.literal / script.comment: data cannot end either
            lines.append(script.comment(f"{finding.id} [{finding.safety.value}] {finding.detail}"))
            lines.append(checks[finding.code](self.catalog).manual_sql(finding) or "-- (no automatic repair)")
        lines.append("COMMIT;")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RepairResult:
    repair_id: uuid.UUID | None
    plan: Plan
    allocator: AllocatorResult | None = None


@dataclass(frozen=True)
class AllocatorResult:
    ok: bool
    rows: tuple[dict[str, Any], ...] = ()
    sqlstate: str | None = None
    message: str | None = None
    details: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    plan: Plan
    allocator: AllocatorResult
    before: AllocatorResult | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def select(findings: Iterable[Finding], *, all_safe: bool, include: Sequence[str] = ()) -> Selection:
    """Safe findings (when ``all_safe``) plus those named in ``include``; ``human`` findings are never applied."""
    found = list(findings)
    ids = {f.id for f in found}
    missing = [i for i in include if i not in ids]
    if missing:
        codes = sorted({c for i in missing if re.fullmatch(r"TMD\d{3}", c := i.split("-", 1)[0].upper())})
        raise FindingNotFound(f"no current finding with id {', '.join(missing)}",
                              details="it is not in the database any more (repaired, or its rows changed), or the "
                              "id is mistyped",
                              hint="current ids: `tablemend doctor scan " + " ".join(f"--check {c}" for c in codes)
                              + "` (or `tablemend doctor plan --booking P` for one booking)")
    apply: list[Finding] = []
    skipped: list[tuple[Finding, str]] = []
    for f in found:
        if f.safety is Safety.human:
            if f.id in include:
                raise RepairRefused(f"{f.id} is a 'human' finding: it is reported, never repaired automatically",
                                    hint=f.remediation.splitlines()[0] if f.remediation else None)
            skipped.append((f, "human: reported, never repaired automatically"))
        elif f.id in include or (all_safe and f.safety is Safety.safe):
            apply.append(f)
        else:
            skipped.append((f, f"{f.safety.value}: apply with --include {f.id}"))
    return Selection(tuple(apply), tuple(skipped))


def _lock(conn: Connection, bookings: Iterable[uuid.UUID], tables: Iterable[uuid.UUID]) -> None:
    conn.execute(_q("lock_bookings"), {"ids": sorted(set(bookings))})
    conn.execute(_q("lock_tables"), {"ids": sorted(set(tables))})


def _apply(conn: Connection, prof: profiles.Profile, selection: Selection) -> list[tuple[RowChange, tuple[str, ...]]]:
    """Lock what the findings touch (bookings, then tables by id), repair each, and record row changes."""
    checks: dict[str, Check] = {code: cls(prof.catalog) for code, cls in registry().items()}
    scope = Scope()
    for f in selection.apply:
        scope = scope | f.scope()
    _lock(conn, scope.bookings, scope.tables)
    recorder = Recorder(conn, prof.catalog.relations, prof.name, prof.catalog.columns)
    changes: list[tuple[RowChange, tuple[str, ...]]] = []
    # one finding at a time keeps attribution exact; big repairs snapshot a chunk at once (fewer round trips)
    size = 1 if len(selection.apply) <= _EXACT else _CHUNK
    for start in range(0, len(selection.apply), size):
        chunk = selection.apply[start:start + size]
        chunk_scope = Scope()
        for f in chunk:
            chunk_scope = chunk_scope | f.scope()
        before = recorder.snapshot(chunk_scope)
        for f in chunk:
            checks[f.code].repair(conn, f)
        changes += [(c, _owners(c, chunk)) for c in recorder.diff(before, recorder.snapshot(chunk_scope))]
    return changes


_EXACT = 50
_CHUNK = 250
_ID_COLUMNS = ("id", "booking_id", "table_id", "resource_id", "hold_id", "allocation_id", "merge_group_id",
               "merge_group_allocation_id")


def _owners(change: RowChange, chunk: Sequence[Finding]) -> tuple[str, ...]:
    """The findings of a chunk whose scope names one of the changed row's ids (all of them if none does)."""
    if len(chunk) == 1:
        return (chunk[0].id,)
    values = {str(image.get(col)) for image in (change.before, change.after) if image for col in _ID_COLUMNS}
    owners = []
    for f in chunk:
        scope = f.scope()
        ids = {str(i) for i in scope.bookings | scope.tables | scope.holds | scope.allocations}
        if ids & values:
            owners.append(f.id)
    return tuple(owners) or tuple(f.id for f in chunk)


def _begin(conn: Connection, timeouts: Timeouts, ctx: Context) -> None:
    """Timeouts first, then P's booking row (the allocator's first lock)."""
    conn.execute(_q("set_timeouts"), {"lock_timeout": timeouts.lock_timeout,
                                      "statement_timeout": timeouts.statement_timeout})
    if ctx.booking_id is not None:
        _lock(conn, [ctx.booking_id], [])


def _lock_for_booking(conn: Connection, ctx: Context, candidates: Selection) -> None:
    """The allocator's order for everything the repair touches: bookings (P first, then the blockers, by id), then
    tables by id, then the origin's zone × start-hour advisory key, so no concurrent assignment interleaves."""
    scope = Scope()
    for f in candidates.apply:
        scope = scope | f.scope()
    _lock(conn, scope.bookings, scope.tables | set(ctx.table_ids))
    if ctx.start_at is not None and ctx.table_ids:
        conn.execute(_q("advisory_lock"), {"start_at": ctx.start_at, "ids": list(ctx.table_ids)})


def _timeouts_as_lock_errors(exc: TablemendError) -> TablemendError:
    if exc.sqlstate in ("55P03", "57014"):
        what = "a lock" if exc.sqlstate == "55P03" else "the statement to finish"
        err = LockUnavailable(f"gave up waiting for {what}; nothing was changed",
                              details=exc.message, hint="retry later, or raise --lock-timeout / --statement-timeout")
        err.__cause__ = exc
        return err
    return exc


#: a repair can expose another safe finding (clearing a cancelled booking's last table leaves its zone lock
#: dangling); re-detect and repair until nothing new appears, at most this many rounds
_ROUNDS = 4


def _findings(conn: Connection, prof: profiles.Profile, ctx: Context, wanted: list[str] | None,
              include: Sequence[str]) -> list[Finding]:
    """The scope's findings, plus those named with ``include`` that a ``--booking`` scope does not see (ids printed
    by a whole-database scan, e.g. P's own rows on tables outside its request): looked up in P's restaurant, by the
    code each id starts with. Named explicitly, they are the operator's call."""
    found = list(detect(conn, prof, ctx, wanted))
    missing = set(include) - {f.id for f in found}
    if not missing or ctx.booking_id is None:
        return found
    known = {c.code for c in checks_for(prof)}
    codes = sorted({i.split("-", 1)[0].upper() for i in missing} & known)
    if not codes:
        return found
    wide = Context(restaurant_id=ctx.restaurant_id)
    return found + [f for f in detect(conn, prof, wide, codes) if f.id in missing]


def _build_plan(conn: Connection, prof: profiles.Profile, ctx: Context, *, all_safe: bool,
                include: Sequence[str], codes: Iterable[str] | None) -> Plan:
    wanted = list(codes) if codes is not None else None
    selection = select(_findings(conn, prof, ctx, wanted, include), all_safe=all_safe, include=include)
    if ctx.booking_id is not None:
        # first look without locks, then lock what it names and look again: the repair works on locked rows
        _lock_for_booking(conn, ctx, selection)
        selection = select(_findings(conn, prof, ctx, wanted, include), all_safe=all_safe, include=include)
    changes = _apply(conn, prof, selection)
    applied, skipped = list(selection.apply), list(selection.skipped)
    for _ in range(_ROUNDS if all_safe and changes else 0):
        seen = {f.id for f in applied} | {f.id for f, _ in skipped}
        fresh = [f for f in detect(conn, prof, ctx, wanted) if f.id not in seen]
        more = select(fresh, all_safe=True)
        if not more.apply:
            break
        changes += _apply(conn, prof, more)
        applied += more.apply
        skipped += more.skipped
    return Plan(prof.name, ctx, Selection(tuple(applied), tuple(skipped)), tuple(changes), prof.catalog)


def plan(conn: Connection, ctx: Context, *, profile: str | None = None, all_safe: bool = True,
         include: Sequence[str] = (), codes: Iterable[str] | None = None,
         timeouts: Timeouts = Timeouts()) -> Plan:
    """The exact row changes a repair would make, computed in a transaction that is rolled back."""
    try:
        with translated(), conn.transaction(force_rollback=True):
            _begin(conn, timeouts, ctx)
            prof = profiles.detect(conn, profile)
            return _build_plan(conn, prof, ctx, all_safe=all_safe, include=include, codes=codes)
    except TablemendError as exc:
        raise _timeouts_as_lock_errors(exc) from exc.__cause__


def call_allocator(conn: Connection, args: dict[str, Any]) -> AllocatorResult:
    try:
        with translated(), conn.transaction():
            rows = conn.execute(_q("call_allocator"), args).fetchall()
            conn.execute(_q("check_deferred"))  # a deferred exclusion fails at COMMIT: see that error here
    except TablemendError as exc:
        if exc.sqlstate in ("55P03", "57014"):
            raise
        return AllocatorResult(False, (), exc.sqlstate, exc.message, exc.details, exc.hint)
    return AllocatorResult(True, tuple(dict(r) for r in rows))


def allocator_args(ctx: Context, *, adjacency: bool = False, explicit_window: bool = True) -> dict[str, Any]:
    return {
        "p_booking_id": ctx.booking_id, "p_table_ids": list(ctx.table_ids), "p_idempotency_key": ctx.idempotency_key,
        "p_require_adjacency": adjacency, "p_assigned_by": None,
        "p_start_at": ctx.start_at if explicit_window else None, "p_end_at": ctx.end_at if explicit_window else None,
    }


def _journal(conn: Connection, prof: profiles.Profile, p: Plan, allocator: AllocatorResult | None, *,
             plan_sha256: str | None = None) -> uuid.UUID:
    findings = [f.as_row() for f in p.selection.apply]
    repair_id = journal.write(conn, kind="repair", profile=prof.name, changes=p.changes, findings=findings,
                              booking_id=p.context.booking_id, plan_sha256=plan_sha256)
    restaurant = p.context.restaurant_id or next((f.restaurant_id for f in p.selection.apply), None)
    if _events_possible(prof, restaurant):
        journal.emit_event(conn, event_type="doctor.repair.applied", restaurant_id=restaurant,
                           booking_id=p.context.booking_id,
                           context={"repair_id": str(repair_id), "findings": [f.id for f in p.selection.apply],
                                    "changes": len(p.changes), "operator": journal.operator(),
                                    "retry": None if allocator is None else allocator.ok, "plan_sha256": plan_sha256})
    return repair_id


def _events_possible(prof: profiles.Profile, restaurant: uuid.UUID | None) -> bool:
    """observability_events exists (and, in tablemend's schema, needs a restaurant: it is a tenant table)."""
    return prof.catalog.has("public.observability_events") and (prof.name == "origin" or restaurant is not None)


def _pause_for_tests(conn: Connection) -> None:
    seconds = os.environ.get(TEST_PAUSE_ENV)
    if seconds:
        conn.execute(_q("test_pause"), {"seconds": float(seconds)})


def repair(conn: Connection, ctx: Context, *, profile: str | None = None, all_safe: bool = True,
           include: Sequence[str] = (), codes: Iterable[str] | None = None, retry: bool = False,
           adjacency: bool = False, explicit_window: bool = True, timeouts: Timeouts = Timeouts()) -> RepairResult:
    """Apply the selected repairs in one journalled transaction; with ``retry`` also run the real assignment.

    With ``retry`` the transaction commits only when the allocator succeeds (otherwise nothing is kept).
    """
    try:
        with translated(), conn.transaction():
            _begin(conn, timeouts, ctx)
            prof = profiles.detect(conn, profile)
            p = _build_plan(conn, prof, ctx, all_safe=all_safe, include=include, codes=codes)
            allocator = None
            if retry:
                allocator = call_allocator(conn, allocator_args(ctx, adjacency=adjacency,
                                                                 explicit_window=explicit_window))
                if not allocator.ok:
                    raise RepairRefused(f"the assignment still fails after the repair: [{allocator.sqlstate}] "
                                        f"{allocator.message}; nothing was changed", details=allocator.details)
            repair_id = _journal(conn, prof, p, allocator) if p.selection.apply else None
            _pause_for_tests(conn)
    except TablemendError as exc:
        raise _timeouts_as_lock_errors(exc) from exc.__cause__
    return RepairResult(repair_id, p, allocator)


def verify(conn: Connection, ctx: Context, *, profile: str | None = None, include: Sequence[str] = (),
           adjacency: bool = False, explicit_window: bool = True, timeouts: Timeouts = Timeouts()) -> VerifyResult:
    """In a rolled-back transaction: the allocator's answer now, then after the pending repair for P."""
    if ctx.booking_id is None or not ctx.table_ids:
        raise RepairRefused("verify needs --booking and a table set (--tables, or P's last request)")
    args = allocator_args(ctx, adjacency=adjacency, explicit_window=explicit_window)
    try:
        with translated(), conn.transaction(force_rollback=True):
            _begin(conn, timeouts, ctx)
            prof = profiles.detect(conn, profile)
            before = call_allocator(conn, args)
            p = _build_plan(conn, prof, ctx, all_safe=True, include=include, codes=None)
            after = call_allocator(conn, args)
    except TablemendError as exc:
        raise _timeouts_as_lock_errors(exc) from exc.__cause__
    return VerifyResult(p, after, before)


def undo(conn: Connection, repair_id: uuid.UUID, *, timeouts: Timeouts = Timeouts()) -> uuid.UUID:
    """Restore the before-images of one repair (a new journal entry); refuses, naming the row, on any conflict."""
    try:
        with translated(), conn.transaction():
            conn.execute(_q("set_timeouts"), {"lock_timeout": timeouts.lock_timeout,
                                              "statement_timeout": timeouts.statement_timeout})
            entry = journal.read(conn, repair_id)
            if entry.kind != "repair":
                raise RepairNotFound(f"{repair_id} is an undo entry, not a repair")
            if entry.undone_by is not None:
                raise RepairRefused(f"repair {repair_id} was already undone by {entry.undone_by}")
            prof = profiles.detect(conn)
            bookings = [uuid.UUID(str(c.pk["id"])) for c in entry.changes if c.relation == "public.bookings"]
            tables = [uuid.UUID(str(c.pk["id"])) for c in entry.changes if c.relation == "public.table_inventory"]
            _lock(conn, bookings, tables)
            recorder = Recorder(conn, prof.catalog.relations, prof.name, prof.catalog.columns)
            replica = _try_replica(conn)
            for change in reversed(entry.changes):
                recorder.undo(change)
            for change in entry.changes:
                recorder.check_references(change)
            if replica:
                conn.execute(_q("origin_role"))
            inverse = [(RowChange(c.relation, _INVERSE[c.op], c.pk, c.after, c.before), ("undo",))
                       for c in reversed(entry.changes)]
            undo_id = journal.write(conn, kind="undo", profile=prof.name, changes=inverse,
                                    findings=entry.findings, booking_id=entry.booking_id, undoes=repair_id)
            if _events_possible(prof, entry.restaurant_id):
                journal.emit_event(conn, event_type="doctor.repair.undone", restaurant_id=entry.restaurant_id,
                                   booking_id=entry.booking_id,
                                   context={"repair_id": str(repair_id), "undo_id": str(undo_id),
                                            "changes": len(inverse), "operator": journal.operator()})
    except TablemendError as exc:
        raise _timeouts_as_lock_errors(exc) from exc.__cause__
    return undo_id


_INVERSE: dict[str, Op] = {"insert": "delete", "delete": "insert", "update": "update"}


def _try_replica(conn: Connection) -> bool:
    """Restore without firing user triggers (updated_at, audit, status refresh) so rows come back byte-identical.

    Needs the privilege to set session_replication_role; without it the restore still happens, with triggers.
    """
    try:
        with translated(), conn.transaction():
            conn.execute(_q("replica_role"))
    except TablemendError:
        return False
    return True


# the reviewed-plan layer (planfile.py) applies a plan file with the same steps
begin = _begin
lock_for = _lock_for_booking
apply_findings = _apply
journal_plan = _journal
timeouts_as_lock_errors = _timeouts_as_lock_errors
