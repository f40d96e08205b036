"""Explain one failing assignment as the database will see it: which rows booking P's call meets, in the order the
origin's ``assign_tables_atomic_v2`` meets them, the error each one raises, and the verdict.

The findings come from a read-only snapshot and are ordered by the step of spec §2 that hits them (zone lock, ledger
replay, holds, then per table in id order: the allocation before the assignment row, the (table, slot) key before the
exclusion constraint, then the ledger write), so the first listed blocker is the one whose error the call raises.
The database's own answer comes from calling its allocator in a transaction that is rolled back (``probe``); when
the prediction and the probe disagree the verdict says so and goes with the probe. Findings about P's own rows that
the call does not hit (hygiene) come last and are marked as such.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor import access, messages, repairs
from tablemend.doctor.rules import Check, Context, Finding, Safety, registry
from tablemend.doctor.scanner import context as build_context
from tablemend.doctor.scanner import scan

_SQL = "doctor/explain.sql"
_DUP = "assign_tables_atomic_v2 assignment duplicate for table {}"
_SLOT_KEY = 'duplicate key value violates unique constraint "booking_table_assignments_table_id_slot_id_key"'
_HASH_KEY = 'duplicate key value violates unique constraint "booking_assignment_idempotency_booking_hash_key"'
_EXCLUSION = 'conflicting key value violates exclusion constraint "no_overlapping_table_assignments"'
_HOLD = 'unrecognized format() type specifier " "'
#: the step of spec §2 a finding's rows are hit at; HYGIENE = not hit by P's call at all
HYGIENE = 99
#: checks whose finding is one booking's row on one of P's tables (step 14b, or 14a when it has an allocation there)
_ROW_CHECKS = frozenset({"TMD001", "TMD003", "TMD004", "TMD005", "TMD006", "TMD016", "TMD025"})


@dataclass(frozen=True)
class Prediction:
    step: int
    table_pos: int
    sub: int
    sqlstate: str | None  # None: the call does not fail on this row
    message: str

    @property
    def text(self) -> str:
        return f"{self.sqlstate or '-'} {self.message}"

    def matches(self, sqlstate: str | None, message: str | None) -> bool:
        """Whether an actual error is this one (``%`` / ``…`` in the prediction = any text)."""
        if self.sqlstate != sqlstate:
            return False
        if sqlstate is None:
            return True
        pattern = "^" + ".*".join(re.escape(p) for p in re.split(r"%|…", self.message)) + "$"
        return re.match(pattern, message or "") is not None


@dataclass(frozen=True)
class Blocker:
    finding: Finding
    error: str  # the allocator error this row causes (predicted)
    why: str
    repair: str
    prediction: Prediction | None = None

    @property
    def blocks(self) -> bool:
        """True when P's call hits this row (False: hygiene of P's own rows, listed last)."""
        return self.prediction is None or self.prediction.step < HYGIENE

    def as_row(self) -> dict[str, Any]:
        return {"id": self.finding.id, "code": self.finding.code, "safety": self.finding.safety.value,
                "booking": self.finding.booking_id, "table": self.finding.table_id, "detail": self.finding.detail,
                "error": self.error, "blocks": self.blocks, "why": self.why, "repair": self.repair}


@dataclass(frozen=True)
class Verdict:
    """What the database will do, and what to do about it."""

    error: str  # the database's answer (the probe's), or the prediction when not probed
    source: str  # "probe" | "prediction"
    predicted: str | None  # the first blocker's predicted error
    agree: bool | None  # prediction vs probe (None without a probe)
    note: str | None
    blocking: tuple[str, ...]  # finding ids of the rows P's call hits, first = the one that raises
    bookings: tuple[uuid.UUID, ...]  # the other bookings those rows belong to
    person: tuple[str, ...]  # human findings among them: a person decides
    command: str | None  # the exact repair command (None when a person must decide first)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Explanation:
    context: Context
    blockers: tuple[Blocker, ...]
    allocator: repairs.AllocatorResult | None
    error_table: uuid.UUID | None
    verdict: Verdict | None = None
    reported: messages.ParsedError | None = None

    def as_dict(self) -> dict[str, Any]:
        ctx = self.context
        return {
            "booking": ctx.booking_id, "tables": list(ctx.table_ids), "window": [ctx.start_at, ctx.end_at],
            "slot": ctx.slot_id, "error_table": self.error_table,
            "reported": None if self.reported is None else {"shape": self.reported.shape.name,
                                                            "sqlstate": self.reported.shape.sqlstate,
                                                            "table": self.reported.table_id,
                                                            "constraint": self.reported.constraint},
            "allocator": None if self.allocator is None else {
                "ok": self.allocator.ok, "rows": len(self.allocator.rows), "sqlstate": self.allocator.sqlstate,
                "message": self.allocator.message, "details": self.allocator.details},
            "verdict": None if self.verdict is None else self.verdict.as_dict(),
            "blockers": [b.as_row() for b in self.blockers],
        }


def parse_error_table(message: str | None, booking_id: uuid.UUID | None = None) -> uuid.UUID | None:
    """The table named in a pasted allocator message (see :mod:`tablemend.doctor.messages`)."""
    parsed = messages.parse(message, booking_id or uuid.UUID(int=0))
    return None if parsed is None else parsed.table_id


# --- prediction --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    slot_id: uuid.UUID | None
    overlaps: bool
    allocated: bool


@dataclass(frozen=True)
class Facts:
    """What P's call meets: every row on P's tables by (booking, table), and the zone the call locks to."""

    rows: Mapping[tuple[uuid.UUID, uuid.UUID], _Row]
    zone_id: uuid.UUID | None


def _facts(conn: Connection, ctx: Context) -> Facts:
    with translated(), conn.transaction():
        access.begin(conn, ctx.scope_restaurant)
        rows = conn.execute(sqlfiles.query("call_facts", _SQL), ctx.params()).fetchall()
        zone = conn.execute(sqlfiles.query("requested_zone", _SQL), ctx.params()).fetchone()
    return Facts({(r["booking_id"], r["table_id"]): _Row(r["slot_id"], bool(r["overlaps"]), bool(r["allocated"]))
                  for r in rows}, None if zone is None else zone["zone_id"])


def _ledger_hash(tables: Sequence[uuid.UUID]) -> str:
    import hashlib

    return hashlib.md5(",".join(str(t) for t in sorted(set(tables))).encode()).hexdigest()


def predict(finding: Finding, ctx: Context, call: Facts) -> Prediction:
    """Where P's call meets the finding's rows (spec §2 step, table position, sub-step) and the error it raises."""
    tables = sorted(ctx.table_ids)
    table = finding.table_id
    pos = tables.index(table) if table in tables else len(tables)
    code = finding.code
    hygiene = Prediction(HYGIENE, pos, 0, None, "none: P's call does not meet these rows (hygiene)")
    facts = call.rows
    if code == "TMD009":
        if str(finding.key.get("assigned_zone_id")) == str(call.zone_id):
            return hygiene  # locked to the zone P asks for: the call passes step 7
        return Prediction(7, 0, 0, "23514", f"Booking {ctx.booking_id} locked to zone %, cannot assign zone %")
    if code == "TMD024":  # P's own rows in another zone: the call refuses at step 6
        if finding.booking_id != ctx.booking_id:
            return hygiene
        return Prediction(6, 0, 0, "23514", f"Booking {ctx.booking_id} already has assignments in a different zone")
    if code in ("TMD007", "TMD028"):
        key = finding.key.get("idempotency_key")
        if ctx.idempotency_key is not None and key == ctx.idempotency_key:
            if finding.metadata.get("table_set_hash") == _ledger_hash(ctx.table_ids):
                return Prediction(10, 0, 0, None, "0-row replay: succeeds with the assignments that still exist")
            return Prediction(10, 0, 0, "P0003", f"assign_tables_atomic_v2 idempotency mismatch for booking "
                                                 f"{ctx.booking_id}")
        if ctx.idempotency_key is not None and finding.metadata.get("table_set_hash") == _ledger_hash(ctx.table_ids):
            return Prediction(15, 0, 0, "23505", _HASH_KEY)
        return hygiene
    if code in ("TMD010", "TMD021"):
        if finding.booking_id == ctx.booking_id:
            return hygiene  # the call ignores P's own holds
        return Prediction(11, 0, 0, "22023", _HOLD)
    if code == "TMD014":
        if ctx.idempotency_key is None or len(tables) < 2:
            return hygiene
        return Prediction(14, 1, 1, "P0001", _DUP.format(tables[1]))
    if code == "TMD002":
        return Prediction(14, pos, 0, "P0001", "allocations_no_overlap")
    if code in _ROW_CHECKS and finding.booking_id is not None and table is not None:
        row = facts.get((finding.booking_id, table))
        if row is None:
            return hygiene
        if row.allocated:
            return Prediction(14, pos, 0, "P0001", "allocations_no_overlap")
        if ctx.slot_id is not None and row.slot_id == ctx.slot_id:
            if ctx.booking_id is not None and (ctx.booking_id, table) in facts:
                return Prediction(14, pos, 1, "23505", _SLOT_KEY)  # P's own row moves onto (X, S) and collides
            return Prediction(14, pos, 1, "P0001", _DUP.format(table))
        if row.overlaps:
            return Prediction(14, pos, 2, "23P01", _EXCLUSION)
        if finding.safety is Safety.human:
            return Prediction(14, pos, 3, None, f"no error: P's call succeeds and double-books table {table} with "
                                                f"booking {finding.booking_id}")
        return hygiene
    return hygiene


def _fallback(check: Check, finding: Finding) -> Prediction:
    """tablemend's own schema: the check's usual error, in detection order."""
    signature = check.errors[0] if check.errors else None
    if signature is None:
        return Prediction(HYGIENE, 0, 0, None, "none (hygiene)")
    text = signature.message
    if finding.table_id is not None and "for table %" in text:
        text = text.replace("for table %", f"for table {finding.table_id}", 1)
    return Prediction(14, 0, 0, signature.sqlstate, text.strip("%"))


# --- explain -----------------------------------------------------------------------------------------------------


def explain(conn: Connection, *, booking_id: uuid.UUID, table_ids: Sequence[uuid.UUID] = (),
            start_at: Any = None, end_at: Any = None, idempotency_key: str | None = None,
            error: str | None = None, profile: str | None = None, probe: bool = True,
            adjacency: bool = False, restaurant_id: uuid.UUID | None = None) -> Explanation:
    from tablemend.doctor import profile as profiles
    from tablemend.errors import UsageError

    reported = messages.parse(error, booking_id)
    error_table = reported.table_id if reported is not None else None
    prof = profiles.detect(conn, profile)
    ctx = build_context(conn, booking_id=booking_id, table_ids=list(table_ids), start_at=start_at, end_at=end_at,
                        idempotency_key=idempotency_key, profile=prof.name, restaurant_id=restaurant_id)
    if error_table is not None and error_table not in ctx.table_ids:
        ctx = dataclasses.replace(ctx, table_ids=tuple(sorted({*ctx.table_ids, error_table})))
    if not ctx.table_ids:
        raise UsageError(f"booking {booking_id} has no current or last table set; pass --tables")
    checks = registry()
    findings = list(scan(conn, profile=prof, ctx=ctx))
    facts = _facts(conn, ctx) if prof.name == "origin" else Facts({}, None)
    blockers: list[Blocker] = []
    for finding in findings:
        check = checks[finding.code]()
        guess = predict(finding, ctx, facts) if prof.name == "origin" else _fallback(check, finding)
        blockers.append(Blocker(finding, guess.text, why(check), finding.remediation, guess))
    order = {id(b): n for n, b in enumerate(blockers)}
    blockers.sort(key=lambda b: (b.prediction.step, b.prediction.table_pos, b.prediction.sub, order[id(b)])
                  if b.prediction else (HYGIENE, 0, 0, order[id(b)]))
    allocator = None
    if probe:
        allocator = _probe(conn, ctx, adjacency=adjacency, explicit_window=start_at is not None)
        if error_table is None and not allocator.ok:
            error_table = messages.table_named(allocator.sqlstate, allocator.message, allocator.details)
    verdict = _verdict(ctx, blockers, allocator, explicit_window=start_at is not None, adjacency=adjacency)
    return Explanation(ctx, tuple(blockers), allocator, error_table, verdict, reported)


def _verdict(ctx: Context, blockers: Sequence[Blocker], allocator: repairs.AllocatorResult | None, *,
             explicit_window: bool, adjacency: bool) -> Verdict:
    hits = [b for b in blockers if b.blocks]
    # the first row that stops the call: an error, or the ledger replay (step 10 returns); a silent double booking
    # does not stop it
    first = next((b.prediction for b in hits if b.prediction is not None
                  and (b.prediction.sqlstate is not None or b.prediction.step == 10)),
                 hits[0].prediction if hits else None)
    predicted = None if first is None else first.text
    agree: bool | None = None
    note = None
    if allocator is None:
        error, source = predicted or "succeeds (predicted)", "prediction"
    else:
        source = "probe"
        error = (f"succeeds ({len(allocator.rows)} rows)" if allocator.ok
                 else f"{allocator.sqlstate} {allocator.message}")
        if first is None:
            agree = allocator.ok
        else:
            agree = first.matches(None if allocator.ok else allocator.sqlstate, allocator.message)
        if not agree:
            note = (f"the doctor predicted {predicted or 'success'} but the database answers {error}: "
                    "going with the database (its answer is the probe's, in a rolled-back transaction)")
    person = tuple(b.finding.id for b in hits if b.finding.safety is Safety.human)
    others = tuple(dict.fromkeys(b.finding.booking_id for b in hits
                                 if b.finding.booking_id is not None and b.finding.booking_id != ctx.booking_id))
    command = None if person or not hits else _command(ctx, [b.finding for b in hits],
                                                        explicit_window=explicit_window, adjacency=adjacency)
    return Verdict(error, source, predicted, agree, note, tuple(b.finding.id for b in hits), others, person, command)


def _command(ctx: Context, findings: Sequence[Finding], *, explicit_window: bool, adjacency: bool) -> str:
    parts = ["tablemend", "doctor", "repair", "--booking", str(ctx.booking_id),
             "--tables", ",".join(str(t) for t in ctx.table_ids)]
    if explicit_window and ctx.start_at is not None and ctx.end_at is not None:
        parts += ["--start", ctx.start_at.isoformat(), "--end", ctx.end_at.isoformat()]
    if ctx.idempotency_key is not None:
        parts += ["--key", ctx.idempotency_key]
    if ctx.scope_restaurant is not None:
        parts += ["--restaurant", str(ctx.scope_restaurant)]
    for f in findings:
        if f.safety is Safety.confirm:
            parts += ["--include", f.id]
    if adjacency:
        parts.append("--adjacency")
    parts += ["--retry", "--yes"]
    return " ".join(shlex.quote(p) for p in parts)


def _probe(conn: Connection, ctx: Context, *, adjacency: bool, explicit_window: bool) -> repairs.AllocatorResult:
    with translated(), conn.transaction(force_rollback=True):
        return repairs.call_allocator(conn, repairs.allocator_args(ctx, adjacency=adjacency,
                                                                   explicit_window=explicit_window))


def why(check: Check) -> str:
    """The check's one-line statement of the bad state, as plain text (the docstring's ``literal`` markup removed)."""
    return check.description().splitlines()[0].split(": ", 1)[-1].replace("``", "")
