"""A live guest's seat is a person's call (issue 17, item 2).

No ``safe`` or ``confirm`` change removes or alters an assignment row (table, window) of a booking in a live status,
or an allocation that backs one: checked per live status on the issue's own state (confirmed B on X for P's window,
B's allocation pruned), and as a property over random origin states with every ``confirm`` finding included.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from tablemend import db, sandbox
from tablemend.doctor import plan, repair, scan
from tablemend.doctor.rules import Context, Safety
from tests.integration.test_doctor_safety_random import _build
from tests.integration.test_doctor_states import ctx_for

LIVE_STATUSES = ("pending", "pending_allocation", "confirmed", "checked_in")

_SEATS = """
    SELECT 'row' AS kind, bta.booking_id, bta.table_id, bta.start_at::text AS s, bta.end_at::text AS e
    FROM public.booking_table_assignments bta JOIN public.bookings b ON b.id = bta.booking_id
    WHERE b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
    UNION ALL
    SELECT 'allocation', a.booking_id, a.resource_id, a."window"::text, a.shadow::text
    FROM public.allocations a JOIN public.bookings b ON b.id = a.booking_id
    WHERE b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
      AND a.resource_type = 'table' AND NOT a.shadow
      AND EXISTS (SELECT 1 FROM public.booking_table_assignments x
                   WHERE x.booking_id = a.booking_id AND x.table_id = a.resource_id)"""


def _seats(conn: db.Connection) -> set[tuple[Any, ...]]:
    return {tuple(r.values()) for r in conn.execute(_SEATS).fetchall()}


def _set_status(conn: db.Connection, booking: uuid.UUID, status: str) -> None:
    conn.execute("UPDATE public.bookings SET status = %s::public.booking_status,"
                 " checked_in_at = CASE WHEN %s THEN now() END WHERE id = %s",
                 (status, status == "checked_in", booking))


@pytest.mark.parametrize("status", LIVE_STATUSES)
def test_live_blocker_without_allocation_keeps_its_seat(origin_dsn: str, status: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1c")  # B sits on X for P's window; B's allocation on X was pruned
        b, x = case.blocking_booking_ids[0], case.table_ids[0]
        _set_status(conn, b, status)
        seats = _seats(conn)
        ctx = ctx_for(conn, case)
        mine = [f for f in scan(conn, ctx=ctx) if f.booking_id == b]
        assert mine and all(f.safety is Safety.human for f in mine), mine
        assert any(str(case.booking_id) in f.detail for f in mine), "the conflict names both bookings"
        confirm = [f.id for f in scan(conn, ctx=ctx) if f.safety is Safety.confirm]
        dry = plan(conn, ctx, include=confirm)
        assert not [c for c, _ in dry.changes if c.relation == "public.booking_table_assignments"
                    and (c.before or {}).get("booking_id") == str(b)]
        # the whole scan offers to restore B's allocation (confirm), never to delete B's table
        whole = [f for f in scan(conn) if f.booking_id == b and f.table_id == x]
        assert [(f.code, f.safety) for f in whole] == [("TMD016", Safety.confirm)], whole
        result = repair(conn, Context(), all_safe=True, include=[whole[0].id])
        assert result.repair_id is not None
        after = _seats(conn)
        assert seats <= after, seats - after
        assert ("allocation", b, x) in {s[:3] for s in after}


@pytest.mark.parametrize("seed", range(6))
def test_no_safe_or_confirm_change_touches_a_live_seat(origin_conn: db.Connection, seed: int) -> None:
    rng = random.Random(1000 + seed)
    mix = _build(origin_conn, rng)
    seats = _seats(origin_conn)
    # one booking at a time, as an operator would, every confirm finding included
    bookings = [r["id"] for r in origin_conn.execute(
        "SELECT DISTINCT bta.booking_id AS id FROM public.booking_table_assignments bta ORDER BY 1").fetchall()]
    for p in rng.sample(bookings, k=min(6, len(bookings))):
        from tablemend.doctor import context

        ctx = context(origin_conn, booking_id=p)
        if not ctx.table_ids:
            continue
        confirm = [f.id for f in scan(origin_conn, ctx=ctx) if f.safety is Safety.confirm]
        repair(origin_conn, ctx, include=confirm)
        assert seats <= _seats(origin_conn), (mix, p)
    # then the whole database, every confirm finding included
    confirm = [f.id for f in scan(origin_conn) if f.safety is Safety.confirm]
    repair(origin_conn, Context(), all_safe=True, include=confirm)
    after = _seats(origin_conn)
    assert seats <= after, (mix, sorted(seats - after, key=str)[:5])
