"""Each planned and journalled row change is owned by the findings whose scope names one of the row's ids: the
findings that made it. A round of several checks' findings must not credit every change to the last check's only
finding (a round's "sole" finding is the only one of the round, not of its last check)."""

from __future__ import annotations

import itertools
from typing import Any

from bench import origin_data

from tablemend import db
from tablemend.doctor import context, journal, repair, scan
from tablemend.doctor.changes import ID_COLUMNS
from tablemend.doctor.repairs import select


def _ids(row: Any) -> set[str]:
    return {str(row[c]) for c in ID_COLUMNS if row.get(c) is not None} if row else set()


def test_a_batch_credits_each_change_to_the_findings_that_name_its_row(origin_conn: db.Connection) -> None:
    origin_data.generate(origin_conn, 2_000)
    order = select(scan(origin_conn), all_safe=True).apply  # the order a --batch repair takes them in
    first = [f for f in itertools.takewhile(lambda f: f.code == order[0].code, order)]
    assert 1 < len(first) < len(order)
    # one batch: every finding of the first check and exactly one of the next, the round's last check
    result = repair(origin_conn, context(origin_conn), batch=len(first) + 1)
    batch = journal.read(origin_conn, result.repair_ids[0])
    applied = {f["id"] for f in batch.findings}
    assert {f.id for f in order[:len(first) + 1]} <= applied  # (and what those repairs exposed)
    scopes: dict[str, set[str]] = {}
    for f in order:
        s = f.scope()
        scopes[f.id] = {str(i) for i in s.bookings | s.tables | s.holds | s.allocations}
    rows = origin_conn.execute("SELECT relation, pk, before, after, finding_ids FROM tablemend_doctor.journal_changes "
                               "WHERE journal_id = %s ORDER BY seq", (result.repair_ids[0],)).fetchall()
    assert rows
    # the first round's changes (a later round's are owned by what the first exposed, found then)
    first_round = [r for r in rows if set(r["finding_ids"]) <= set(scopes)]
    assert len(first_round) > len(first)
    strangers = [(r["relation"], r["pk"], r["finding_ids"]) for r in first_round
                 if not any(scopes.get(o, set()) & (_ids(r["before"]) | _ids(r["after"])) for o in r["finding_ids"])]
    assert strangers == [], strangers[:5]
