"""The history checker on fabricated histories: each anomaly is caught with its witness, and concurrent (ambiguous)
operations are never called an anomaly. No database needed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.reliability.history import ABORTED, History, Op, Row, check

T1, T2 = uuid.UUID(int=1), uuid.UUID(int=2)
A, B, M = uuid.UUID(int=10), uuid.UUID(int=11), uuid.UUID(int=99)
S, E = datetime(2030, 6, 1, 19, tzinfo=UTC), datetime(2030, 6, 1, 21, tzinfo=UTC)


class Fab:
    """Builds a history op by op: ``at(invoke, complete)``."""

    def __init__(self) -> None:
        self.history = History()
        self.n = 0

    def op(self, kind: str, booking: uuid.UUID | None, invoke: float, complete: float, *, outcome: str = "ok",
           rows: tuple[Row, ...] = (), sqlstate: str | None = None, **args: Any) -> Op:
        if kind == "assign":
            args.setdefault("table_ids", [r.table_id for r in rows] or [T1])
        op = Op(self.n, self.n % 3, kind, booking, args, invoke, complete, outcome, rows, None, sqlstate,
                None if outcome == "ok" else "fabricated")
        self.n += 1
        self.history.add(op)
        return op


def row(booking: uuid.UUID, table: uuid.UUID = T1, start: datetime = S, end: datetime = E,
        merge: uuid.UUID | None = None) -> Row:
    return Row(booking, table, start, end, merge)


def kinds(fab: Fab, **kw: Any) -> list[str]:
    return [a.kind for a in check(fab.history.ops, **kw).anomalies]


def test_sequential_double_booking_is_an_overlap_with_both_operations_as_witness() -> None:
    fab = Fab()
    first = fab.op("assign", A, 0, 1, rows=(row(A),))
    second = fab.op("assign", B, 2, 3, rows=(row(B),))
    report = check(fab.history.ops)
    assert [a.kind for a in report.anomalies] == ["overlap"]
    assert report.anomalies[0].witness == (first, second)


def test_a_removal_that_may_come_first_makes_it_ambiguous() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),))
    fab.op("unassign", A, 1.5, 3.5, table_ids=None)  # concurrent with B's assign: may have taken effect first
    fab.op("assign", B, 2, 3, rows=(row(B),))
    assert kinds(fab) == []


def test_a_removal_certainly_after_does_not_excuse_it() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),))
    fab.op("assign", B, 2, 3, rows=(row(B),))
    ender = fab.op("unassign", A, 4, 5, table_ids=None)
    report = check(fab.history.ops)
    assert [a.kind for a in report.anomalies] == ["overlap"] and ender in report.anomalies[0].witness


def test_a_refused_removal_excuses_nothing_and_an_indeterminate_one_may() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),))
    fab.op("unassign", A, 1.5, 1.8, outcome="fail", sqlstate="TAN01", table_ids=None)
    fab.op("assign", B, 2, 3, rows=(row(B),))
    assert kinds(fab) == ["overlap"]
    fab.op("status", A, 1.6, 1.9, outcome="info", sqlstate="57P01", status="cancelled")
    assert kinds(fab, faults=True) == []


def test_back_to_back_windows_and_other_tables_do_not_overlap() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),))
    fab.op("assign", B, 2, 3, rows=(row(B, start=E, end=E.replace(hour=23)),))
    fab.op("assign", B, 4, 5, rows=(row(B, table=T2),))
    assert kinds(fab) == []


def test_a_read_inside_another_bookings_live_claim_is_an_overlap() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),))
    read = fab.op("read", B, 2, 3, rows=(row(B),))
    report = check(fab.history.ops)
    assert [a.kind for a in report.anomalies] == ["overlap"] and read in report.anomalies[0].witness


def test_one_scan_with_two_overlapping_rows_is_an_overlap() -> None:
    fab = Fab()
    scan = fab.op("scan", None, 0, 1, rows=(row(A), row(B, start=S.replace(hour=20), end=E.replace(hour=22))))
    report = check(fab.history.ops)
    assert [a.kind for a in report.anomalies] == ["overlap"] and report.anomalies[0].witness == (scan,)


def test_an_acknowledged_assignment_missing_from_a_later_read_is_a_lost_write() -> None:
    fab = Fab()
    write = fab.op("assign", A, 0, 1, rows=(row(A, merge=M), row(A, T2, merge=M)))
    read = fab.op("read", A, 2, 3, rows=(row(A),))
    report = check(fab.history.ops)
    assert [a.kind for a in report.anomalies] == ["lost-write"]
    assert report.anomalies[0].witness == (write, read)


def test_a_read_concurrent_with_another_write_is_not_judged() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A, merge=M), row(A, T2, merge=M)))
    fab.op("unassign", A, 1.5, 2.5, table_ids=[T2])
    fab.op("read", A, 2, 3, rows=(row(A),))
    report = check(fab.history.ops)
    assert report.anomalies == [] and report.reads_checked == 0


def test_rows_after_a_terminal_status_are_a_lost_release() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),))
    fab.op("status", A, 2, 3, status="cancelled")
    fab.op("read", A, 4, 5, rows=(row(A),))
    assert kinds(fab) == ["lost-write"]


def test_a_replay_with_other_rows_and_an_accepted_key_reuse_are_caught() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),), key="k")
    fab.op("assign", A, 2, 3, rows=(), key="k", table_ids=[T1])  # the origin's silent 0-row replay
    report = check(fab.history.ops)
    assert sorted(a.kind for a in report.anomalies) == ["ack-mismatch", "replay"]
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),), key="k")
    fab.op("assign", A, 2, 3, rows=(row(A, T2),), key="k")  # another request under the same key
    assert kinds(fab) == ["replay"]
    fab = Fab()
    fab.op("assign", A, 0, 1, rows=(row(A),), key="k")
    fab.op("assign", A, 2, 3, outcome="fail", sqlstate="TAC03", key="k", table_ids=[T2])
    assert kinds(fab) == []


def test_untyped_refusals_and_lost_answers_without_faults_are_anomalies() -> None:
    fab = Fab()
    fab.op("assign", A, 0, 1, outcome="fail", sqlstate="40P01", table_ids=[T1])
    fab.op("assign", A, 2, 3, outcome="fail", sqlstate="P0001", table_ids=[T1])
    fab.op("assign", A, 4, 5, outcome="fail", sqlstate="TAC01", table_ids=[T1])
    fab.op("assign", A, 6, 7, outcome="fail", sqlstate=ABORTED, table_ids=[T1])
    fab.op("assign", A, 8, 9, outcome="info", sqlstate="57P01", table_ids=[T1])
    assert kinds(fab) == ["untyped", "untyped", "indeterminate"]
    assert kinds(fab, faults=True) == ["untyped", "untyped"]
