"""The doctor at scale, on bench/origin_data's drift (the origin's real triggers and foreign keys): the plan shows
every row change the repair makes, including what the repair's own changes make necessary; --batch gives
transactions that are undone on their own; TMD032's indexes are created, journalled and dropped by undo."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from bench import origin_data

from tablemend import db
from tablemend.doctor import context, costs, indexes, journal, repair, scan, undo
from tablemend.doctor import plan as make_plan
from tablemend.doctor.changes import RowChange
from tablemend.doctor.rules import Safety

N = 2_000


def _key(change: RowChange) -> tuple[str, str, str]:
    return change.relation, change.op, json.dumps(dict(change.pk), sort_keys=True, default=str)


def _safe(conn: db.Connection) -> Counter[str]:
    return Counter(f.id for f in scan(conn) if f.safety is Safety.safe)


def test_plan_shows_every_change_the_repair_makes(origin_conn: db.Connection) -> None:
    origin_data.generate(origin_conn, N)
    ctx = context(origin_conn)
    planned = make_plan(origin_conn, ctx)
    result = repair(origin_conn, ctx)
    assert result.repair_id is not None
    made = journal.read(origin_conn, result.repair_id).changes
    assert sorted(_key(c) for c, _ in planned.changes) == sorted(_key(c) for c in made)
    # the repair's own changes expose ledger rows and zone locks of the bookings it cleared: planned too
    codes = Counter(f.code for f in planned.selection.apply)
    assert codes["TMD007"] > origin_data.expected_findings(N)["TMD007"]
    assert codes["TMD009"] > origin_data.expected_findings(N)["TMD009"]
    assert not [f.id for f in scan(origin_conn) if f.safety is Safety.safe]  # nothing safe left behind


def test_streamed_plan_keeps_no_changes_in_memory(origin_conn: db.Connection) -> None:
    origin_data.generate(origin_conn, N)
    seen: list[Any] = []

    def emit(p: Any, changes: Any) -> None:
        seen.append(p)
        seen.extend(changes)

    streamed = make_plan(origin_conn, context(origin_conn), emit=emit)
    assert streamed.changes == () and streamed.count == len(seen) - 1 > 0
    assert streamed.count == make_plan(origin_conn, context(origin_conn)).count


def test_batches_are_undone_on_their_own(origin_conn: db.Connection) -> None:
    origin_data.generate(origin_conn, N)
    before = _safe(origin_conn)
    result = repair(origin_conn, context(origin_conn), batch=10)
    assert len(result.repair_ids) > 2 and result.repair_id == result.repair_ids[0]
    assert not _safe(origin_conn)
    last = journal.read(origin_conn, result.repair_ids[-1])
    assert 0 < len(last.findings) <= 10
    undo(origin_conn, result.repair_ids[-1])
    assert set(_safe(origin_conn)) == {f["id"] for f in last.findings}  # only the last batch's findings are back
    for repair_id in reversed(result.repair_ids[:-1]):
        undo(origin_conn, repair_id)
    assert _safe(origin_conn) == before


def _notes_table(conn: db.Connection) -> None:
    with conn.transaction():
        conn.execute("CREATE TABLE public.case_allocation_notes (id bigint PRIMARY KEY, allocation_id uuid "
                     "REFERENCES public.allocations (id) ON DELETE SET NULL)")
        conn.execute("INSERT INTO public.case_allocation_notes (id) SELECT g FROM generate_series(1, 60000) g")
        conn.execute("ANALYZE public.case_allocation_notes")


def test_unindexed_foreign_keys_are_estimated_indexed_and_dropped_by_undo(origin_conn: db.Connection) -> None:
    origin_data.generate(origin_conn, N)
    _notes_table(origin_conn)
    found = [f for f in scan(origin_conn) if f.code == "TMD032"]
    assert [f.metadata["relation"] for f in found] == ["public.case_allocation_notes"]
    assert found[0].remediation.startswith("CREATE INDEX CONCURRENTLY")
    planned = make_plan(origin_conn, context(origin_conn))
    assert planned.estimate is not None
    assert {t.relation for t, seconds in planned.estimate.traps if seconds > 0} >= {"public.case_allocation_notes"}

    entry = indexes.create(origin_conn)
    assert entry is not None and "public.case_allocation_notes_allocation_id_idx" in entry.indexes
    assert not costs.traps(origin_conn)
    assert not [f for f in scan(origin_conn) if f.code == "TMD032"]
    undo(origin_conn, entry.journal_id)
    assert {t.relation for t in costs.traps(origin_conn)} >= {"public.case_allocation_notes",
                                                              "public.booking_table_assignments"}
    assert [e["kind"] for e in journal.entries(origin_conn)] == ["repair", "undo"]
