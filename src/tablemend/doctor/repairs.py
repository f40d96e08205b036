"""Plan, repair, undo, verify: every write the doctor makes, each in one transaction.

* ``plan`` applies the repair inside a transaction that is always rolled back and reports the row changes;
* ``repair`` applies it for real: takes the allocator's locks, journals every changed row with its before-image and
  writes an ``observability_events`` row, all in one transaction (so a repair killed half-way leaves nothing);
* ``undo`` restores the before-images of one repair as a new journal entry (:mod:`reversal`);
* ``verify`` applies the pending repair for a booking and calls the database's own ``assign_tables_atomic_v2``, then
  rolls everything back; ``retry=True`` commits instead.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor import access, bulk, costs, journal, reindex
from tablemend.doctor import profile as profiles
from tablemend.doctor.changes import ChangeLog, RowChange
from tablemend.doctor.costs import Estimate
from tablemend.doctor.rules import Check, Context, Finding, Safety, Scope, for_profile, registry
from tablemend.doctor.scanner import checks as checks_for
from tablemend.doctor.scanner import detect
from tablemend.errors import (
    FindingNotFound,
    LockUnavailable,
    RepairRefused,
    TablemendError,
    UsageError,
)

_CATALOG = "doctor/catalog.sql"
T = TypeVar("T")
#: seconds to sleep just before COMMIT (tests kill the backend there to prove a repair is all-or-nothing)
TEST_PAUSE_ENV = "TABLEMEND_DOCTOR_TEST_PAUSE"


def _q(name: str) -> Any:
    return sqlfiles.query(name, _CATALOG)


@dataclass(frozen=True)
class Timeouts:
    lock_timeout: str = "5s"
    #: ``auto``: a timeout that fits the planned work (at least 60 s), set once the findings are known
    statement_timeout: str = "auto"


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
    #: number of row changes (``changes`` may be empty when they were streamed or left in the journal)
    total: int | None = None
    #: the planned work's estimated time and what each unindexed foreign key adds to it
    estimate: Estimate | None = None
    #: the database's features (the repair SQL of a check can differ by schema variant)
    catalog: profiles.Catalog | None = None

    @property
    def count(self) -> int:
        return len(self.changes) if self.total is None else self.total

    def sql(self) -> str:
        """The applied findings' repairs as a reviewable SQL script (one transaction)."""
        from tablemend.doctor import script

        checks = registry()
        bookings = frozenset(b for b in [self.context.booking_id] if b is not None)
        scope = Scope(bookings, frozenset(self.context.table_ids))
        for finding in self.selection.apply:
            scope = scope | finding.scope()
        lines = [] if self.context.scope_restaurant is None else [
            script.comment(f"covers restaurant {self.context.scope_restaurant} only")]
        lines += ["BEGIN;", "SET LOCAL lock_timeout = '5s';",
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
    #: every journal entry written (one per --batch transaction)
    repair_ids: tuple[uuid.UUID, ...] = ()


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
        elif f.code in reindex.ACTION_CODES:  # an index rebuild cannot run in the repair transaction
            skipped.append((f, reindex.ACTION_REASON))
        elif f.id in include or (all_safe and f.safety is Safety.safe):
            apply.append(f)
        else:
            skipped.append((f, f"{f.safety.value}: apply with --include {f.id}"))
    return Selection(tuple(apply), tuple(skipped))


_lock = bulk.lock
ProgressFn = bulk.ProgressFn
_no_progress = bulk.no_progress


class ChangeStream:
    """A plan's changes, streamed from the database while its transaction is open: iterate for ``(RowChange,
    finding ids)``, or :meth:`json_lines` for each change as a line of JSON the database built."""

    def __init__(self, log: ChangeLog, total: int, progress: ProgressFn):
        self.log, self.total, self.progress = log, total, progress

    def __iter__(self) -> Iterator[tuple[RowChange, tuple[str, ...]]]:
        return _counted(self.log.stream(), self.total, self.progress)

    def json_lines(self) -> Iterator[str]:
        return _counted(self.log.stream_json(), self.total, self.progress)


#: plan sink: called inside the plan's transaction with the plan (no changes kept) and its changes, streamed
EmitFn = Callable[["Plan", ChangeStream], None]


def _set_timeouts(conn: Connection, timeouts: Timeouts) -> None:
    auto = timeouts.statement_timeout.strip().lower() == "auto"
    conn.execute(_q("set_timeouts"), {"lock_timeout": timeouts.lock_timeout,
                                      "statement_timeout": _AUTO_START if auto else timeouts.statement_timeout})


#: the statement timeout until the planned work is known (detection, locks)
_AUTO_START = "60s"


def _begin(conn: Connection, timeouts: Timeouts, ctx: Context) -> None:
    """Timeouts first, the scan's planner settings (the checks read whole tables, as a scan does), then P's
    booking row (the allocator's first lock)."""
    _set_timeouts(conn, timeouts)
    conn.execute(_q("scan_settings"))
    access.begin(conn, ctx.scope_restaurant)
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
#: dangling, its ledger row without assignments); re-detect and repair until nothing new appears, at most this many
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
                include: Sequence[str], codes: Iterable[str] | None, progress: ProgressFn = _no_progress,
                limit: int | None = None, timeouts: Timeouts = Timeouts(),
                on_estimate: Callable[[Estimate], None] | None = None
                ) -> tuple[Selection, ChangeLog, Estimate | None]:
    """Detect, select, repair (logging every changed row in the database), then repair what the repair exposed."""
    wanted = list(codes) if codes is not None else None
    log = ChangeLog(conn, prof.catalog.relations, prof.name, prof.catalog.columns)
    if ctx.booking_id is None and limit is None and not include and all_safe:
        return _build_stratified(conn, prof, ctx, wanted, log, progress, timeouts, on_estimate)
    progress("finding", 0, None)
    selection = select(_findings(conn, prof, ctx, wanted, include), all_safe=all_safe, include=include)
    reindex.refuse_row_repairs(selection.skipped)  # a damaged occupancy index misleads every other check
    if ctx.booking_id is not None:
        # first look without locks, then lock what it names and look again: the repair works on locked rows
        _lock_for_booking(conn, ctx, selection)
        selection = select(_findings(conn, prof, ctx, wanted, include), all_safe=all_safe, include=include)
    if limit is not None:
        selection = Selection(selection.apply[:limit], selection.skipped)
    estimate = _estimate(conn, prof, selection, timeouts, progress)
    if on_estimate is not None and estimate is not None:
        on_estimate(estimate)
    bulk.apply(conn, prof, selection.apply, log, progress)
    applied, skipped = list(selection.apply), list(selection.skipped)
    if all_safe and applied:
        _repair_exposed(conn, prof, ctx, wanted, log, progress, applied, skipped, selection.apply,
                        {c.code for c in for_profile(prof.name)})
    return Selection(tuple(applied), tuple(skipped)), log, estimate


def _build_stratified(conn: Connection, prof: profiles.Profile, ctx: Context, wanted: list[str] | None,
                      log: ChangeLog, progress: ProgressFn, timeouts: Timeouts,
                      on_estimate: Callable[[Estimate], None] | None) -> tuple[Selection, ChangeLog, Estimate | None]:
    """A whole-database ``--all-safe`` repair: each check detected once, after the checks whose repairs can expose
    its findings (:func:`bulk.strata`), so what the repair exposes is found by the first look at it, not a re-scan.
    The same changes as detecting everything first and re-detecting what each round exposed."""
    applied: list[Finding] = []
    skipped: list[tuple[Finding, str]] = []
    estimate: Estimate | None = None
    detected: set[str] = set()
    codes = [c.code for c in checks_for(prof, wanted)]
    looked: list[str] = []

    def finding(check: Check) -> None:  # detection's progress: the check, and how many of them are done
        progress(f"finding {check.code}", len(looked), len(codes))
        looked.append(check.code)

    for stratum in bulk.strata(codes):
        seen = {f.id for f in applied}
        selection = select((f for f in detect(conn, prof, ctx, stratum, finding) if f.id not in seen),
                           all_safe=True)
        detected |= set(stratum)
        reindex.refuse_row_repairs(selection.skipped)  # (TMD023 is in the first stratum: before any change)
        skipped += selection.skipped
        if not selection.apply:
            continue
        if estimate is None:  # the first stratum holds the repairs that delete (see costs.DELETES): said once
            estimate = _estimate(conn, prof, selection, timeouts, progress)
            if on_estimate is not None and estimate is not None:
                on_estimate(estimate)
        bulk.apply(conn, prof, selection.apply, log, progress)
        applied += selection.apply
        # exposures into a check already looked at (a cycle, or a code EXPOSES does not know) are re-detected
        _repair_exposed(conn, prof, ctx, wanted, log, progress, applied, skipped, selection.apply, detected)
    return Selection(tuple(applied), tuple(skipped)), log, estimate


def _repair_exposed(conn: Connection, prof: profiles.Profile, ctx: Context, wanted: list[str] | None,
                    log: ChangeLog, progress: ProgressFn, applied: list[Finding],
                    skipped: list[tuple[Finding, str]], last: Sequence[Finding], among: set[str]) -> None:
    """Re-detect (among the codes ``among``) what the repair of ``last`` exposed and repair it, round after round;
    extends ``applied`` and ``skipped`` in place."""
    for _ in range(_ROUNDS):
        seen = {f.id for f in applied}
        again = bulk.exposed(last, wanted)
        again = [c for c in (sorted(among) if again is None else again) if c in among]
        if not again:  # (an empty list would mean every check to detect())
            break
        progress("finding what the repair exposed", 0, None)
        fresh = [f for f in detect(conn, prof, ctx, again) if f.id not in seen]
        more = select(fresh, all_safe=True)
        if not more.apply:
            break
        bulk.apply(conn, prof, more.apply, log, progress)
        last = more.apply
        applied += more.apply
        # a finding skipped earlier and now safe is applied; keep the reason of those still left
        done = {f.id for f in more.apply}
        skipped[:] = [(f, why) for f, why in skipped if f.id not in done]
        left = {g.id for g, _ in skipped}
        skipped += [(f, why) for f, why in more.skipped if f.id not in left]


def _estimate(conn: Connection, prof: profiles.Profile, selection: Selection, timeouts: Timeouts,
              progress: ProgressFn) -> Estimate | None:
    """The planned work's estimate; with ``statement_timeout = auto``, a timeout that fits it (see :mod:`costs`)."""
    if not selection.apply:
        return None
    estimate = costs.estimate(conn, prof, selection.apply)
    progress(f"estimated {estimate.seconds:,.0f}s for {len(selection.apply)} finding(s)", 0, None)
    if timeouts.statement_timeout.strip().lower() == "auto":
        with translated():
            conn.execute(_q("set_timeouts"), {"lock_timeout": timeouts.lock_timeout,
                                              "statement_timeout": f"{costs.fitting_timeout(estimate.seconds)}s"})
    return estimate


def plan(conn: Connection, ctx: Context, *, profile: str | None = None, all_safe: bool = True,
         include: Sequence[str] = (), codes: Iterable[str] | None = None,
         timeouts: Timeouts = Timeouts(), progress: ProgressFn = _no_progress,
         emit: EmitFn | None = None) -> Plan:
    """The exact row changes a repair would make, computed in a transaction that is rolled back.

    With ``emit`` the changes are not kept: ``emit(plan, changes)`` streams them from the database while the
    transaction is still open (memory stays flat however many there are), and the returned plan has only their
    count.
    """
    try:
        with translated(), conn.transaction(force_rollback=True):
            _begin(conn, timeouts, ctx)
            prof = profiles.detect(conn, profile)
            selection, log, estimate = _build_plan(conn, prof, ctx, all_safe=all_safe, include=include, codes=codes,
                                         progress=progress, timeouts=timeouts)
            total = log.count()
            if emit is not None:
                p = Plan(prof.name, ctx, selection, (), total, estimate, prof.catalog)
                emit(p, ChangeStream(log, total, progress))
                return p
            return Plan(prof.name, ctx, selection, tuple(log.stream()), total, estimate, prof.catalog)
    except TablemendError as exc:
        raise _timeouts_as_lock_errors(exc) from exc.__cause__


def _counted(changes: Iterator[T], total: int, progress: ProgressFn) -> Iterator[T]:
    for n, change in enumerate(changes, start=1):
        if n % 500 == 0 or n == total:
            progress("writing changes", n, total)
        yield change


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


def _journal(conn: Connection, prof: profiles.Profile, p: Plan, log: ChangeLog,
             allocator: AllocatorResult | None, *, plan_sha256: str | None = None) -> uuid.UUID:
    findings = [f.as_row() for f in p.selection.apply]
    repair_id = journal.write(conn, kind="repair", profile=prof.name, changes=(), findings=findings,
                              booking_id=p.context.booking_id, plan_sha256=plan_sha256)
    log.journal(repair_id)  # every change in one statement
    restaurant = p.context.restaurant_id or next((f.restaurant_id for f in p.selection.apply), None)
    if _events_possible(prof, restaurant):
        journal.emit_event(conn, event_type="doctor.repair.applied", restaurant_id=restaurant,
                           booking_id=p.context.booking_id,
                           context={"repair_id": str(repair_id), "findings": [f.id for f in p.selection.apply],
                                    "changes": p.count, "operator": journal.operator(),
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
           adjacency: bool = False, explicit_window: bool = True, timeouts: Timeouts = Timeouts(),
           batch: int | None = None, progress: ProgressFn = _no_progress, collect: bool = True,
           on_estimate: Callable[[Estimate], None] | None = None, indexes_checked: bool = False) -> RepairResult:
    """Apply the selected repairs in one journalled transaction; with ``retry`` also run the real assignment.

    With ``retry`` the transaction commits only when the allocator succeeds (otherwise nothing is kept). With
    ``batch`` N, at most N findings per transaction, each journalled (and undoable) on its own, until none is left;
    ``collect=False`` keeps only the number of changes (the journal has them). ``indexes_checked``: the caller has
    just found every occupancy index sound (:func:`reindex.sound`), so the first transaction does not read them
    again (TMD023 reads each occupancy table twice: at 500k bookings seconds).
    """
    if batch is not None and batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    if batch is not None and retry:
        raise UsageError("--batch and --retry do not go together: the retry needs the whole repair in its transaction")
    results: list[RepairResult] = []
    while True:
        result = _repair_once(conn, ctx, profile=profile, all_safe=all_safe, include=include, codes=codes,
                              retry=retry, adjacency=adjacency, explicit_window=explicit_window, timeouts=timeouts,
                              limit=batch, progress=progress, collect=collect, on_estimate=on_estimate,
                              skip=reindex.ACTION_CODES if indexes_checked else frozenset())
        on_estimate = None  # said once, before the first batch
        indexes_checked = False  # later batches run later: they look again
        results.append(result)
        if batch is None or result.repair_id is None or len(result.plan.selection.apply) < batch:
            break
        include = ()  # named findings were applied by the first batch
    if len(results) == 1:
        return results[0]
    return _merged(results)


def _merged(results: Sequence[RepairResult]) -> RepairResult:
    ids = tuple(r.repair_id for r in results if r.repair_id is not None)
    applied = tuple(f for r in results for f in r.plan.selection.apply)
    last = results[-1].plan
    changes = tuple(c for r in results for c in r.plan.changes)
    p = Plan(last.profile, last.context, Selection(applied, last.selection.skipped), changes,
             sum(r.plan.count for r in results), results[0].plan.estimate, last.catalog)
    return RepairResult(ids[0] if ids else None, p, None, ids)


def _repair_once(conn: Connection, ctx: Context, *, profile: str | None, all_safe: bool, include: Sequence[str],
                 codes: Iterable[str] | None, retry: bool, adjacency: bool, explicit_window: bool,
                 timeouts: Timeouts, limit: int | None, progress: ProgressFn, collect: bool,
                 on_estimate: Callable[[Estimate], None] | None, skip: frozenset[str]) -> RepairResult:
    try:
        with translated(), conn.transaction():
            _begin(conn, timeouts, ctx)
            progress("reading the profile", 0, None)
            prof = profiles.detect(conn, profile)
            if skip:
                wanted = None if codes is None else {c.upper() for c in codes}
                codes = [c.code for c in for_profile(prof.name, prof.catalog)
                         if c.code not in skip and (wanted is None or c.code in wanted)]
            selection, log, estimate = _build_plan(conn, prof, ctx, all_safe=all_safe, include=include, codes=codes,
                                         progress=progress, limit=limit, timeouts=timeouts,
                                         on_estimate=on_estimate)
            total = log.count()
            p = Plan(prof.name, ctx, selection, tuple(log.stream()) if collect else (), total, estimate,
                     prof.catalog)
            allocator = None
            if retry:
                allocator = call_allocator(conn, allocator_args(ctx, adjacency=adjacency,
                                                                 explicit_window=explicit_window))
                if not allocator.ok:
                    raise RepairRefused(f"the assignment still fails after the repair: [{allocator.sqlstate}] "
                                        f"{allocator.message}; nothing was changed", details=allocator.details)
            progress("journalling", 0, total)
            repair_id = _journal(conn, prof, p, log, allocator) if p.selection.apply else None
            progress("committing", total, total)
            _pause_for_tests(conn)
    except TablemendError as exc:
        raise _timeouts_as_lock_errors(exc) from exc.__cause__
    return RepairResult(repair_id, p, allocator, () if repair_id is None else (repair_id,))


def verify(conn: Connection, ctx: Context, *, profile: str | None = None, include: Sequence[str] = (),
           adjacency: bool = False, explicit_window: bool = True, timeouts: Timeouts = Timeouts(),
           progress: ProgressFn = _no_progress) -> VerifyResult:
    """In a rolled-back transaction: the allocator's answer now, then after the pending repair for P."""
    if ctx.booking_id is None or not ctx.table_ids:
        raise RepairRefused("verify needs --booking and a table set (--tables, or P's last request)")
    args = allocator_args(ctx, adjacency=adjacency, explicit_window=explicit_window)
    try:
        with translated(), conn.transaction(force_rollback=True):
            _begin(conn, timeouts, ctx)
            prof = profiles.detect(conn, profile)
            progress("calling the allocator", 0, None)
            before = call_allocator(conn, args)
            selection, log, estimate = _build_plan(conn, prof, ctx, all_safe=True, include=include, codes=None,
                                         progress=progress, timeouts=timeouts)
            p = Plan(prof.name, ctx, selection, tuple(log.stream()), log.count(), estimate, prof.catalog)
            progress("calling the allocator", 0, None)
            after = call_allocator(conn, args)
    except TablemendError as exc:
        raise _timeouts_as_lock_errors(exc) from exc.__cause__
    return VerifyResult(p, after, before)


def undo(conn: Connection, repair_id: uuid.UUID, *, timeouts: Timeouts = Timeouts(),
         progress: ProgressFn = _no_progress) -> uuid.UUID:
    """Restore the before-images of one repair (a new journal entry); see :func:`reversal.undo`."""
    from tablemend.doctor import reversal

    return reversal.undo(conn, repair_id, timeouts=timeouts, progress=progress)


# the reviewed-plan layer (planfile.py) and undo (reversal.py) use the same steps
begin = _begin
set_timeouts = _set_timeouts
events_possible = _events_possible
q = _q
lock_for = _lock_for_booking
journal_plan = _journal
timeouts_as_lock_errors = _timeouts_as_lock_errors
