"""Issue 12: `doctor plan` lists exactly the row changes `doctor repair` then makes and journals (the same tables,
keys and kinds, each as often), including the changes its own repairs make necessary: a ledger row or zone lock left
behind by a deleted assignment is a TMD007 / TMD009 finding no scan reported before the repair."""

from __future__ import annotations

import json
from collections import Counter

from bench import origin_data

from tablemend import db
from tablemend.doctor import scan
from tests.acceptance.cli import result_of, run


def _key(relation: str, op: str, pk: object) -> tuple[str, str, str]:
    return relation, op, json.dumps(pk, sort_keys=True)


def test_the_plan_is_what_the_repair_journals(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        origin_data.generate(conn, 2_000)
        found = {f.id for f in scan(conn)}
    planned = run("doctor", "plan", "--dsn", origin_dsn, "--format", "json")
    assert planned.returncode == 0, planned.stderr
    plan = result_of(planned.stdout)
    repaired = run("doctor", "repair", "--all-safe", "--yes", "--dsn", origin_dsn, "--format", "json")
    assert repaired.returncode == 0, repaired.stderr
    done = result_of(repaired.stdout)
    with db.connect(origin_dsn, autocommit=True) as conn:
        journalled = conn.execute("SELECT relation, op, pk, finding_ids FROM tablemend_doctor.journal_changes "
                                  "WHERE journal_id = %s ORDER BY seq", (done["repair_id"],)).fetchall()
    assert Counter(_key(c["relation"], c["op"], c["pk"]) for c in plan["changes"]) == Counter(
        _key(r["relation"], r["op"], r["pk"]) for r in journalled)
    assert done["changes"] == len(plan["changes"])
    assert sorted(done["findings"]) == sorted(f["id"] for f in plan["apply"])
    # what the repair itself made necessary is in the plan too (found after the first repairs, by no scan before)
    exposed = {f["id"] for f in plan["apply"]} - found
    assert {i.split("-", 1)[0] for i in exposed} >= {"TMD007", "TMD009"}, exposed
    assert any(set(c["findings"]) & exposed for c in plan["changes"])
