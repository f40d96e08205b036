"""A history of allocator operations, and a checker that judges it from the history alone (Elle / Jepsen style).

**Recording.** Every operation is an :class:`Op`: which client ran it, its kind and arguments, the booking it acts on,
its invocation and completion times (``time.monotonic()``, one clock for every client of the process) and its
outcome: ``ok`` with the result, ``fail`` with a SQLSTATE (a refused call: one autocommit statement that rolled back,
so it had no effect), or ``info`` (indeterminate: the connection was lost, the backend terminated, the server stopped;
the call may or may not have committed).

**The model.** Each operation takes effect at one instant (its linearization point) somewhere between its invocation
and its completion. For an ``info`` operation the completion is the moment the client saw the connection die: a
terminated backend or a stopped server commits nothing after that. (A client that drops its own socket while the server
still executes is different; the fault tests run such calls inside an explicit transaction that is never committed,
and record them as ``fail`` with the pseudo-code ``ABORT``.) Two operations whose intervals overlap are concurrent and
may take effect in either order; the checker only reports what holds under *every* such order, so an ambiguous
history is never called an anomaly:

- An **occupancy claim** is a table that an acknowledged ``assign`` or ``confirm`` returned for its booking, with the
  window it returned. It is *certainly live* from the operation's completion until the earliest invocation of any
  later-or-concurrent operation that could end it: any ``ok`` or ``info`` write of the same booking (assign, unassign,
  confirm, move, a terminal status). A concurrent write may take effect just after the claim, so its invocation is the
  bound even when it started before the claim completed (then the claim is never certainly live, and is skipped).
- A **read** (``read``: one booking's tables, window and status; ``scan``: every assignment of a restaurant in one
  statement) observed its rows at one unknown instant between its invocation and completion.

Checks (each anomaly carries a minimal witness: the operations involved):

``overlap``
    Two claims of different bookings on one table with overlapping windows, both certainly live at one instant; or a
    read whose whole interval lies inside another booking's certainly-live claim on the same table and window; or one
    ``scan`` that returned two overlapping rows of one table.
``lost-write``
    A read of booking B whose interval starts after the completion of B's last write W, with no other write of B that
    could take effect between W and the read, disagrees with W: after an ``assign`` / ``confirm`` it must show exactly
    W's tables and window, after a full ``unassign`` or a terminal status no table.
``ack-mismatch``
    An acknowledged ``assign`` returned a table set other than the one requested (the origin's silent 0-row replay),
    or rows of two windows or merge groups.
``replay``
    Two calls of one booking with one idempotency key, the first acknowledged and certainly before the second, no
    write of the booking possibly between them: the same request must return the same rows (merge group included),
    and a different request must be refused with ``TAC03`` (IdempotencyMismatch).
``untyped``
    A refusal whose SQLSTATE is not one of tablemend's own classes (:func:`tablemend.errors.for_sqlstate`): a
    deadlock (40P01), a raw constraint violation (23505, 23P01), the origin's P0001 / 22023, anything else.
``indeterminate``
    An ``info`` operation in a run that injected no faults (nothing should lose its answer then).
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tablemend.errors import for_sqlstate

#: Operations that may change a booking's tables (when not refused).
WRITES = frozenset({"assign", "unassign", "confirm", "move", "status"})
READS = frozenset({"read", "scan"})
TERMINAL = frozenset({"completed", "cancelled", "no_show", "PRIORITY_WAITLIST"})
#: The pseudo-SQLSTATE of a call whose transaction the client abandoned before COMMIT (it cannot have committed).
ABORTED = "ABORT"


@dataclass(frozen=True)
class Row:
    """One table of a booking over ``[start_at, end_at)`` (``merge_group_id`` set for multi-table assignments)."""

    booking_id: uuid.UUID
    table_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    merge_group_id: uuid.UUID | None = None


@dataclass
class Op:
    """One call. ``complete`` is ``math.inf`` until it finishes."""

    id: int
    client: int
    kind: str
    booking_id: uuid.UUID | None
    args: dict[str, Any]
    invoke: float
    complete: float = math.inf
    outcome: str = "pending"  # ok | fail | info
    rows: tuple[Row, ...] = ()  # assign / confirm / read / scan: what it returned
    value: Any = None  # anything else it returned (status, window, removed ids, hold id)
    sqlstate: str | None = None
    error: str | None = None

    def describe(self) -> str:
        span = f"[{self.invoke:.6f}, {self.complete:.6f}]"
        what = f"{self.outcome} {self.sqlstate or ''}".strip()
        booking = f" booking={self.booking_id}" if self.booking_id else ""
        rows = f" rows={[(str(r.table_id)[:8], r.start_at.isoformat(), r.end_at.isoformat()) for r in self.rows]}"
        return f"op#{self.id} client {self.client} {self.kind}{booking} {self.args} {span} -> {what}{rows}"

    @property
    def effective(self) -> bool:
        """May have changed something: acknowledged, or indeterminate."""
        return self.outcome in ("ok", "info")

    def is_write(self) -> bool:
        if self.kind not in WRITES or not self.effective:
            return False
        # a non-terminal status change leaves the tables alone; an indeterminate one is ignored too (same reason)
        return not (self.kind == "status" and self.args.get("status") not in TERMINAL)


@dataclass(frozen=True)
class Anomaly:
    kind: str
    message: str
    witness: tuple[Op, ...]

    def __str__(self) -> str:
        return "\n  ".join([f"{self.kind}: {self.message}", *(op.describe() for op in self.witness)])


class History:
    """Thread-safe recorder: ``with history.call(client, kind, booking, args) as op: op.rows = ...``."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def begin(self, client: int, kind: str, booking_id: uuid.UUID | None, args: dict[str, Any]) -> Op:
        op = Op(next(self._ids), client, kind, booking_id, args, time.monotonic())
        with self._lock:
            self.ops.append(op)
        return op

    @staticmethod
    def ok(op: Op) -> None:
        op.complete = time.monotonic()
        op.outcome = "ok"

    @staticmethod
    def fail(op: Op, sqlstate: str | None, error: str, *, indeterminate: bool = False) -> None:
        op.complete = time.monotonic()
        op.outcome = "info" if indeterminate else "fail"
        op.sqlstate = sqlstate
        op.error = error

    def add(self, op: Op) -> None:
        """A fabricated operation (tests of the checker)."""
        with self._lock:
            self.ops.append(op)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for op in self.ops:
            out[f"{op.kind}:{op.outcome if op.outcome != 'fail' else op.sqlstate}"] += 1
        return dict(sorted(out.items()))


# --- the checker ------------------------------------------------------------------------------------------------------


@dataclass
class _Claim:
    row: Row
    op: Op
    start: float  # certainly live from ...
    end: float  # ... until (exclusive); end <= start: never certainly live
    ender: Op | None = None


@dataclass
class Report:
    anomalies: list[Anomaly] = field(default_factory=list)
    ops: int = 0
    claims: int = 0
    reads_checked: int = 0
    replays_checked: int = 0

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for a in self.anomalies:
            out[a.kind] += 1
        return dict(out)


def _overlap(a: Row, b: Row) -> bool:
    return a.start_at < b.end_at and b.start_at < a.end_at


class _Writes:
    """A booking's possibly-effective writes, sorted by invocation, for 'what could take effect after X' queries."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops = sorted(ops, key=lambda o: o.invoke)
        self.invokes = [o.invoke for o in self.ops]
        self.max_len = max((o.complete - o.invoke for o in self.ops if o.complete < math.inf), default=0.0)

    def first_after(self, op: Op) -> Op | None:
        """The write (other than ``op``) with the earliest invocation that may take effect after ``op`` did."""
        if any(o.complete == math.inf for o in self.ops):
            start = 0
        else:
            start = bisect.bisect_left(self.invokes, op.invoke - self.max_len)
        for other in self.ops[start:]:
            if other is not op and other.complete > op.invoke:
                return other
        return None

    def between(self, first: Op, later_complete: float) -> list[Op]:
        """Writes other than ``first`` that may take effect after ``first`` and before a point ≤ ``later_complete``."""
        end = bisect.bisect_left(self.invokes, later_complete)
        return [o for o in self.ops[:end] if o is not first and o.complete > first.invoke]


def check(ops: Iterable[Op], *, faults: bool = False) -> Report:
    """Every anomaly the history proves (see the module docstring)."""
    done = [op for op in ops if op.outcome != "pending"]
    report = Report(ops=len(done))
    writes_by_booking: dict[uuid.UUID, list[Op]] = defaultdict(list)
    for op in done:
        if op.booking_id is not None and op.is_write():
            writes_by_booking[op.booking_id].append(op)
    writes = {b: _Writes(w) for b, w in writes_by_booking.items()}
    empty = _Writes([])
    _check_errors(done, faults, report)
    claims = _claims(done, writes, empty)
    report.claims = len(claims)
    _check_overlaps(done, claims, report)
    _check_reads(done, writes, empty, report)
    _check_acks(done, report)
    _check_replays(done, writes, empty, report)
    return report


def _check_errors(done: Sequence[Op], faults: bool, report: Report) -> None:
    for op in done:
        if op.outcome == "fail" and op.sqlstate != ABORTED and for_sqlstate(op.sqlstate) is None:
            report.anomalies.append(Anomaly("untyped", f"refused with SQLSTATE {op.sqlstate}: {op.error}", (op,)))
        elif op.outcome == "info" and not faults:
            report.anomalies.append(Anomaly("indeterminate", f"lost its answer in a run without faults: {op.error}",
                                            (op,)))


def _claims(done: Sequence[Op], writes: dict[uuid.UUID, _Writes], empty: _Writes) -> list[_Claim]:
    out: list[_Claim] = []
    for op in done:
        if op.outcome != "ok" or op.kind not in ("assign", "confirm") or op.booking_id is None:
            continue
        ender = writes.get(op.booking_id, empty).first_after(op)
        end = ender.invoke if ender is not None else math.inf
        out.extend(_Claim(row, op, op.complete, end, ender) for row in op.rows)
    return out


def _witness(*claims: _Claim) -> tuple[Op, ...]:
    ops: list[Op] = []
    for c in claims:
        for op in (c.op, c.ender):
            if op is not None and op not in ops:
                ops.append(op)
    return tuple(ops)


def _check_overlaps(done: Sequence[Op], claims: Sequence[_Claim], report: Report) -> None:
    by_table: dict[uuid.UUID, list[_Claim]] = defaultdict(list)
    for c in claims:
        if c.end > c.start:
            by_table[c.row.table_id].append(c)
    observed: dict[uuid.UUID, list[tuple[Row, Op]]] = defaultdict(list)
    for op in done:
        if op.outcome == "ok" and op.kind in READS:
            for row in op.rows:
                observed[row.table_id].append((row, op))
            if op.kind == "scan":
                _check_scan(op, report)
    seen: set[tuple[int, int]] = set()
    for table, table_claims in by_table.items():
        table_claims.sort(key=lambda c: c.start)
        active: list[_Claim] = []
        for c in table_claims:
            active = [a for a in active if a.end > c.start]
            for a in active:
                if a.row.booking_id != c.row.booking_id and _overlap(a.row, c.row):
                    pair = (min(a.op.id, c.op.id), max(a.op.id, c.op.id))
                    if pair not in seen:
                        seen.add(pair)
                        report.anomalies.append(Anomaly(
                            "overlap", f"table {table}: bookings {a.row.booking_id} and {c.row.booking_id} both "
                            f"certainly held it over overlapping windows at t={c.start:.6f}", _witness(a, c)))
            active.append(c)
        # a read inside another booking's certainly-live claim
        for row, read in observed.get(table, []):
            for c in table_claims:
                if (c.start <= read.invoke and c.end >= read.complete and c.row.booking_id != row.booking_id
                        and _overlap(c.row, row)):
                    report.anomalies.append(Anomaly(
                        "overlap", f"table {table}: read saw booking {row.booking_id} while {c.row.booking_id} "
                        "certainly held it over an overlapping window", (*_witness(c), read)))
                    break


def _check_scan(op: Op, report: Report) -> None:
    by_table: dict[uuid.UUID, list[Row]] = defaultdict(list)
    for row in op.rows:
        by_table[row.table_id].append(row)
    for table, rows in by_table.items():
        for a, b in itertools.combinations(rows, 2):
            if a.booking_id != b.booking_id and _overlap(a, b):
                report.anomalies.append(Anomaly(
                    "overlap", f"one scan saw table {table} held by {a.booking_id} and {b.booking_id} over "
                    f"overlapping windows", (op,)))


def _expected_after(write: Op) -> Callable[[Op], str | None] | None:
    """What a read must show after ``write`` (None: the history does not say)."""
    if write.outcome != "ok":
        return None
    if write.kind in ("assign", "confirm"):
        want = sorted((r.table_id, r.start_at, r.end_at) for r in write.rows)

        def same_rows(read: Op) -> str | None:
            got = sorted((r.table_id, r.start_at, r.end_at) for r in read.rows)
            return None if got == want else f"read {len(got)} rows, the write left {len(want)}"

        return same_rows
    if (write.kind == "unassign" and write.args.get("table_ids") is None) or write.kind == "status":
        return lambda read: None if not read.rows else f"read {len(read.rows)} rows after a release"
    # a move to the booking's own window leaves an assignment of a custom window as it is: the history alone does not
    # say which, so a move is not judged
    return None


def _check_reads(done: Sequence[Op], writes: dict[uuid.UUID, _Writes], empty: _Writes, report: Report) -> None:
    for read in done:
        if read.kind != "read" or read.outcome != "ok" or read.booking_id is None:
            continue
        w = writes.get(read.booking_id, empty)
        end = bisect.bisect_left(w.invokes, read.complete)
        before = [o for o in w.ops[:end] if o.complete < read.invoke]
        if not before:
            continue
        last = max(before, key=lambda o: o.complete)
        if w.between(last, read.complete):
            continue  # another write may sit between them: nothing is certain
        expect = _expected_after(last)
        if expect is None:
            continue
        report.reads_checked += 1
        problem = expect(read)
        if problem is not None:
            report.anomalies.append(Anomaly("lost-write", f"booking {read.booking_id}: {problem}", (last, read)))


def _check_acks(done: Sequence[Op], report: Report) -> None:
    for op in done:
        if op.outcome != "ok" or op.kind != "assign":
            continue
        requested = {uuid.UUID(str(t)) for t in op.args["table_ids"]}
        got = {r.table_id for r in op.rows}
        windows = {(r.start_at, r.end_at) for r in op.rows}
        groups = {r.merge_group_id for r in op.rows}
        if got != requested:
            report.anomalies.append(Anomaly("ack-mismatch", f"requested {len(requested)} tables, acknowledged "
                                            f"{len(got)}", (op,)))
        elif len(windows) > 1 or len(groups) > 1 or (len(got) > 1) != (None not in groups):
            report.anomalies.append(Anomaly("ack-mismatch", "rows of different windows or merge groups", (op,)))


def _request(op: Op) -> tuple[Any, ...]:
    a = op.args
    return (tuple(sorted({str(t) for t in a["table_ids"]})), a.get("start_at"), a.get("end_at"),
            bool(a.get("require_adjacency")), a.get("assigned_by"))


def _check_replays(done: Sequence[Op], writes: dict[uuid.UUID, _Writes], empty: _Writes, report: Report) -> None:
    keyed: dict[tuple[uuid.UUID, str], list[Op]] = defaultdict(list)
    for op in done:
        if op.kind == "assign" and op.booking_id is not None and op.args.get("key") and op.outcome in ("ok", "fail"):
            keyed[(op.booking_id, op.args["key"])].append(op)
    for (booking, _key), calls in keyed.items():
        calls.sort(key=lambda o: o.invoke)
        w = writes.get(booking, empty)
        for first, second in itertools.pairwise(calls):
            if first.outcome != "ok" or first.complete >= second.invoke:
                continue
            # any write of the booking that may fall between them, other than a same-request replay, spoils it
            between = [o for o in w.between(first, second.complete) if o is not second
                       and not (o.kind == "assign" and o.args.get("key") == first.args.get("key")
                                and _request(o) == _request(first) and o.outcome == "ok" and o.rows == first.rows)]
            if between:
                continue
            report.replays_checked += 1
            if _request(second) == _request(first):
                if second.outcome == "ok" and second.rows != first.rows:
                    report.anomalies.append(Anomaly("replay", "a replay returned other rows than the original",
                                                    (first, second)))
            elif second.outcome == "ok":
                report.anomalies.append(Anomaly("replay", "a key reused for a different request was accepted",
                                                (first, second)))
            elif second.sqlstate not in ("TAC03", "TAC04"):
                report.anomalies.append(Anomaly("replay", f"a key reused for a different request was refused with "
                                                f"{second.sqlstate}, not TAC03", (first, second)))


def rows_of(records: Iterable[Any], booking_id: uuid.UUID | None = None) -> tuple[Row, ...]:
    """:class:`Row` values, sorted by table, from allocator results (``Assignment``, with ``booking_id`` given) or
    dict rows with ``booking_id, table_id, start_at, end_at, merge_group_id``."""
    out: list[Row] = []
    for r in records:
        fields = r if isinstance(r, dict) else vars(r)
        bid = booking_id if booking_id is not None else fields["booking_id"]
        out.append(Row(bid, fields["table_id"], fields["start_at"], fields["end_at"], fields.get("merge_group_id")))
    return tuple(sorted(out, key=lambda x: x.table_id))


def summary(report: Report) -> Iterator[str]:
    yield (f"{report.ops} operations, {report.claims} occupancy claims, {report.reads_checked} reads and "
           f"{report.replays_checked} replays checked, {len(report.anomalies)} anomalies {report.by_kind()}")
    for a in report.anomalies[:5]:
        yield str(a)
