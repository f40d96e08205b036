"""Where a whole-database repair's time went, pinned (bench/repair.py measures it): each check is read once, after
the checks whose repairs can expose its findings, with the same changes as re-detecting what each round exposed; and
the repair's and plan's detection reads with the scan's planner settings (a cursor planned for all its rows, sorts
and hashes in memory), not the session's defaults."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from bench import origin_data

from tablemend import db
from tablemend.doctor import bulk, context, journal, repair, repairs, undo
from tablemend.doctor import plan as make_plan
from tablemend.doctor.rules import Check, Context, Finding, for_profile
from tablemend.doctor.scanner import SHARED_PASS

N = 2_000


def _counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    seen: Counter[str] = Counter()
    real = repairs.detect

    def counted(conn: db.Connection, prof: Any, ctx: Context, codes: Iterable[str] | None = None,
                on_check: Any = None) -> Iterator[Finding]:
        def note(check: Check) -> None:
            seen[check.code] += 1
        return real(conn, prof, ctx, codes, note)

    monkeypatch.setattr(repairs, "detect", counted)
    return seen


def _changes(conn: db.Connection, repair_id: Any) -> list[tuple[str, str, str, str]]:
    return sorted((c.relation, c.op, json.dumps(dict(c.pk), sort_keys=True, default=str),
                   json.dumps(c.before, sort_keys=True, default=str))
                  for c in journal.read(conn, repair_id).changes)


def test_a_whole_database_repair_reads_each_check_once(origin_conn: db.Connection,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    origin_data.generate(origin_conn, N)
    seen = _counting(monkeypatch)
    result = repair(origin_conn, context(origin_conn))
    assert result.repair_id is not None
    codes = Counter(f.code for f in result.plan.selection.apply)
    # the repair exposed ledger rows and zone locks (TMD001 cleared bookings' tables) and repaired them ...
    assert codes["TMD007"] > origin_data.expected_findings(N)["TMD007"]
    assert codes["TMD009"] > origin_data.expected_findings(N)["TMD009"]
    # ... found by the one look at TMD007 / TMD009, taken after TMD001's repair
    assert seen and max(seen.values()) == 1, seen
    assert {"TMD001", "TMD007", "TMD009"} <= set(seen)


def test_reading_each_check_once_makes_the_same_changes(origin_conn: db.Connection) -> None:
    origin_data.generate(origin_conn, N)
    ctx = context(origin_conn)
    # --batch takes the other road: detect everything, repair, re-detect what each round exposed
    rounds = repair(origin_conn, ctx, batch=10**6)
    assert rounds.repair_id is not None and len(rounds.repair_ids) == 1
    by_rounds = _changes(origin_conn, rounds.repair_id)
    undo(origin_conn, rounds.repair_id)
    once = repair(origin_conn, ctx)
    assert once.repair_id is not None
    assert _changes(origin_conn, once.repair_id) == by_rounds and by_rounds


def test_strata_put_every_check_after_those_exposing_it() -> None:
    codes = [c.code for c in for_profile("origin")]
    order = bulk.strata(codes)
    assert sorted(c for s in order for c in s) == sorted(set(codes))
    at = {c: i for i, s in enumerate(order) for c in s}
    for code in codes:
        for exposed in bulk.EXPOSES.get(code, frozenset()):
            if exposed in at and exposed != code and code not in bulk.EXPOSES.get(exposed, frozenset()):
                assert at[code] < at[exposed], (code, exposed, order)
    # the shared pass's checks are detected together: a whole-database repair reads assignments for them once
    assert {at[code] for code in SHARED_PASS} == {0}, order


def test_plan_and_repair_detect_with_the_scan_settings(origin_conn: db.Connection) -> None:
    origin_data.generate(origin_conn, 200)
    settings: list[tuple[str, str]] = []

    def emit(p: Any, changes: Any) -> None:  # inside the plan's transaction
        row = origin_conn.execute("SELECT current_setting('cursor_tuple_fraction') AS f, "
                                  "current_setting('work_mem') AS w").fetchone()
        assert row is not None
        settings.append((row["f"], row["w"]))

    make_plan(origin_conn, context(origin_conn), emit=emit)
    assert settings == [("1", "256MB")]
    # this transaction only: the connection's own settings are untouched afterwards
    row = origin_conn.execute("SELECT current_setting('cursor_tuple_fraction') AS f").fetchone()
    assert row is not None and row["f"] == "0.1"
