"""The doctor against every state of origin spec §3, on the origin sandbox.

For each state: the origin function fails with its exact error → scan reports it → explain names the blocking rows →
plan changes nothing → repair → verify and a real retry succeed → undo restores byte-identical tables, and the retry
fails again with the same error.
"""

from __future__ import annotations

from typing import Any

import pytest

from tablemend import db, sandbox
from tablemend.doctor import explain, plan, repair, scan, undo, verify
from tablemend.doctor.rules import Safety
from tablemend.doctor.scanner import context
from tablemend.errors import RepairRefused, TablemendError

TABLES = ("bookings", "booking_table_assignments", "allocations", "booking_assignment_idempotency",
          "booking_confirmation_results", "table_holds", "table_hold_members", "table_hold_windows",
          "table_inventory", "booking_slots")


def checksums(conn: db.Connection) -> dict[str, str]:
    from psycopg import sql

    out = {}
    for name in TABLES:
        query = sql.SQL("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS sum "
                        "FROM {} t").format(sql.Identifier("public", name))
        out[name] = conn.execute(query).fetchone()["sum"]  # type: ignore[index]
    return out


def outcome(conn: db.Connection, case: sandbox.StateCase) -> tuple[str | None, str | None, int | None]:
    """(sqlstate, message, rows) of the case's call, always rolled back."""
    try:
        with conn.transaction(force_rollback=True):
            rows = sandbox.call_assign(conn, case)
    except TablemendError as exc:
        return exc.sqlstate, exc.message, None
    return None, None, len(rows)


def expected(case: sandbox.StateCase) -> tuple[str | None, str | None, int | None]:
    return case.expected_sqlstate, case.expected_message, case.expected_rows


def ctx_for(conn: db.Connection, case: sandbox.StateCase) -> Any:
    return context(conn, booking_id=case.booking_id, table_ids=case.table_ids, start_at=case.start_at,
                   end_at=case.end_at, idempotency_key=case.idempotency_key)


#: D1c: B is live (confirmed) and still seated on X over P's window: a live conflict, a person's call
LIVE_CONFLICTS = ("D1c",)
REPAIRABLE = [s for s in sandbox.ORIGIN_STATES if s not in ("D3", "D4", *LIVE_CONFLICTS)]


@pytest.mark.parametrize("code", REPAIRABLE)
def test_state_round_trip(origin_dsn: str, code: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, code)
        assert outcome(conn, case) == expected(case)

        ctx = ctx_for(conn, case)
        findings = list(scan(conn, ctx=ctx))
        assert findings, "scan reports the state"
        for blocker in case.blocking_booking_ids:
            assert any(f.booking_id == blocker for f in findings), f"scan names blocker {blocker}"

        why = explain(conn, booking_id=case.booking_id, table_ids=case.table_ids, start_at=case.start_at,
                      end_at=case.end_at, idempotency_key=case.idempotency_key)
        assert {b.finding.booking_id for b in why.blockers} >= set(case.blocking_booking_ids)
        assert why.allocator is not None
        assert (why.allocator.sqlstate, why.allocator.message) == (case.expected_sqlstate, case.expected_message)

        confirm = [f.id for f in findings if f.safety is Safety.confirm]
        before = checksums(conn)
        dry = plan(conn, ctx, include=confirm)
        assert dry.changes, "the plan changes rows"
        assert checksums(conn) == before, "plan changes nothing"

        checked = verify(conn, ctx, include=confirm, explicit_window=case.start_at is not None)
        assert checked.allocator.ok, checked.allocator
        assert checksums(conn) == before, "verify changes nothing"

        result = repair(conn, ctx, include=confirm)
        assert result.repair_id is not None
        assert checksums(conn) != before
        state, message, rows = outcome(conn, case)
        assert state is None, message
        assert rows == len(case.table_ids)

        undo(conn, result.repair_id)
        assert checksums(conn) == before, "undo restores byte-identical tables"
        assert outcome(conn, case) == expected(case)


@pytest.mark.parametrize("code", LIVE_CONFLICTS)
def test_live_conflict_is_human_and_names_both(origin_dsn: str, code: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, code)
        ctx = ctx_for(conn, case)
        findings = list(scan(conn, ctx=ctx))
        human = [f for f in findings if f.safety is Safety.human]
        assert human, findings
        for blocker in case.blocking_booking_ids:
            named = [f for f in human if f.booking_id == blocker]
            assert named and str(case.booking_id) in named[0].detail, "names both bookings"
        assert all(f.safety is Safety.human for f in findings if f.booking_id in case.blocking_booking_ids)
        before = checksums(conn)
        result = repair(conn, ctx, include=[f.id for f in findings if f.safety is Safety.confirm])
        assert result.repair_id is None and not result.plan.changes
        assert checksums(conn) == before
        assert outcome(conn, case) == expected(case)


@pytest.mark.parametrize("code", ["D3", "D4"])
def test_schema_defects_are_human(origin_legacy_dsn: str, code: str) -> None:
    with db.connect(origin_legacy_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, code)
        assert outcome(conn, case) == expected(case)
        # the overload affects only calls naming 5 or fewer arguments: a whole scan reports it, P's scope does not
        ctx = ctx_for(conn, case) if code == "D3" else context(conn)
        findings = {f.code: f for f in scan(conn, ctx=ctx)}
        wanted = "TMD014" if code == "D3" else "TMD015"
        assert findings[wanted].safety is Safety.human
        before = checksums(conn)
        assert repair(conn, ctx, codes=[wanted]).repair_id is None
        with pytest.raises(RepairRefused):
            repair(conn, ctx, include=[findings[wanted].id])
        assert checksums(conn) == before
        # the finding's own remediation, run as printed, clears it (issue 12: TMD014's said `DROP INDEX <index>`)
        conn.execute(findings[wanted].remediation)
        state, message, rows = outcome(conn, case)
        assert state is None, message
        assert rows == len(case.table_ids)
        assert wanted not in {f.code for f in scan(conn, ctx=ctx)}
