"""Doctor precision (issue 17 items 3-4, issue 10 items 2-5): explain says what the database will do, in the order
it does it, and ``repair --booking P`` touches only rows that P's call would hit.

Every sandbox state gets unrelated drift on P's own tables next to it (rows the real function never meets: a legacy
row without a window on another day, a cancelled hold and an orphan shadow allocation on another day). Then:

* the first blocker explain lists predicts the error the database's own allocator raises (its probe), for every state;
* ``repair --booking P`` changes rows of P and of the bookings that block it, and of no other booking.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tablemend import db, sandbox
from tablemend.doctor import explain, plan, repair, scan
from tablemend.doctor.rules import Safety
from tablemend.errors import ErrorNotRecognised, UsageError
from tests.integration.test_doctor_states import ctx_for, outcome

_STATES = [s for s in sandbox.ORIGIN_STATES if s not in ("D3", "D4")]

_NOISE = """
WITH p AS (SELECT b.restaurant_id, b.booking_date + 3 AS day FROM public.bookings b WHERE b.id = %(p)s),
     z AS (SELECT t.zone_id FROM public.table_inventory t WHERE t.id = %(x)s),
     n AS (
    INSERT INTO public.bookings (restaurant_id, customer_name, booking_date, start_time, end_time, party_size, status,
                                 reference)
    SELECT p.restaurant_id, 'noise-' || s.i, p.day, '12:00', '14:00', 2, s.status::public.booking_status,
           'N-' || md5(random()::text)
    FROM p, (VALUES (1, 'cancelled'), (2, 'confirmed'), (3, 'cancelled'), (4, 'pending')) s(i, status)
    RETURNING id, customer_name, restaurant_id, start_at, end_at),
     legacy AS (
    -- legacy rows without a window ('(,)' "overlaps" everything), of a cancelled and of a live booking, no slot
    INSERT INTO public.booking_table_assignments (booking_id, table_id, notes)
    SELECT n.id, %(x)s, 'legacy' FROM n WHERE n.customer_name IN ('noise-1', 'noise-2') RETURNING booking_id),
     hold AS (
    INSERT INTO public.table_holds (restaurant_id, booking_id, zone_id, start_at, end_at, expires_at, status)
    SELECT n.restaurant_id, n.id, z.zone_id, n.start_at, n.end_at, n.end_at, 'cancelled' FROM n, z
    WHERE n.customer_name = 'noise-3' RETURNING id)
INSERT INTO public.table_hold_members (hold_id, table_id) SELECT hold.id, %(x)s FROM hold
"""
_SHADOW = """
INSERT INTO public.allocations (booking_id, restaurant_id, resource_type, resource_id, "window", shadow)
SELECT b.id, b.restaurant_id, 'table', %(x)s, tstzrange(b.start_at, b.end_at, '[)'), true
FROM public.bookings b WHERE b.restaurant_id = (SELECT restaurant_id FROM public.bookings WHERE id = %(p)s)
  AND b.customer_name = 'noise-4'
"""


def _noise(conn: db.Connection, case: sandbox.StateCase) -> None:
    for x in case.table_ids:
        conn.execute(_NOISE, {"p": case.booking_id, "x": x})
        conn.execute(_SHADOW, {"p": case.booking_id, "x": x})


def _booking_ids(change: Any) -> set[str]:
    ids = set()
    for image in (change.before, change.after):
        if image and image.get("booking_id"):
            ids.add(str(image["booking_id"]))
    return ids


@pytest.mark.parametrize("code", _STATES)
def test_first_blocker_is_the_error_the_database_raises(origin_dsn: str, code: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, code)
        _noise(conn, case)
        assert outcome(conn, case)[:2] == (case.expected_sqlstate, case.expected_message)
        why = explain(conn, booking_id=case.booking_id, table_ids=case.table_ids, start_at=case.start_at,
                      end_at=case.end_at, idempotency_key=case.idempotency_key)
        assert why.verdict is not None and why.allocator is not None
        assert why.verdict.agree, (why.verdict, [b.as_row() for b in why.blockers])
        blocking = [b for b in why.blockers if b.blocks]
        if case.expected_sqlstate is not None:
            first = blocking[0]
            assert first.prediction is not None
            assert first.prediction.matches(case.expected_sqlstate, case.expected_message), first.as_row()
            assert why.verdict.blocking[0] == first.finding.id
        # the noise is not P's business: no blocker belongs to a noise booking
        noise = {r["id"] for r in conn.execute("SELECT id FROM public.bookings WHERE customer_name LIKE 'noise-%%'")}
        assert not [b.finding.id for b in why.blockers if b.finding.booking_id in noise]
        if why.verdict.person:
            assert why.verdict.command is None
        elif blocking:
            assert why.verdict.command is not None and f"--booking {case.booking_id}" in why.verdict.command


@pytest.mark.parametrize("code", _STATES)
def test_repair_for_p_touches_only_what_p_hits(origin_dsn: str, code: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, code)
        _noise(conn, case)
        ctx = ctx_for(conn, case)
        confirm = [f.id for f in scan(conn, ctx=ctx) if f.safety is Safety.confirm]
        allowed = {str(case.booking_id), *(str(b) for b in case.blocking_booking_ids)}
        dry = plan(conn, ctx, include=confirm)
        touched = set().union(*(_booking_ids(c) for c, _ in dry.changes)) if dry.changes else set()
        # (hold windows carry their hold's booking: the noise hold's would show here)
        assert touched <= allowed, (code, touched - allowed)


def test_completed_blocker_is_found_by_scan_explain_and_repair(origin_dsn: str) -> None:
    """Issue 10 item 2: a completed booking dated ahead holding P's (table, slot)."""
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1")
        blocker = case.blocking_booking_ids[0]
        conn.execute("UPDATE public.bookings SET status = 'completed', checked_in_at = now(), checked_out_at = now()"
                     " WHERE id = %s", (blocker,))
        assert outcome(conn, case)[:2] == (case.expected_sqlstate, case.expected_message)
        whole = [f for f in scan(conn) if f.booking_id == blocker]
        assert [(f.code, f.safety) for f in whole] == [("TMD001", Safety.safe)]
        why = explain(conn, booking_id=case.booking_id, table_ids=case.table_ids)
        assert why.blockers[0].finding.id == whole[0].id and why.verdict is not None and why.verdict.agree
        assert why.error_table == case.table_ids[0]
        repair(conn, ctx_for(conn, case))
        assert outcome(conn, case)[0] is None


def test_own_old_slot_with_a_new_key_is_repaired_completely(origin_dsn: str) -> None:
    """Issue 10 item 3: P edited to a new slot while B holds (X, S), and P's call comes with a new key: explain
    predicts the raw 23505 its probe sees, and after repair --booking P the real retry succeeds (P's own ledger row
    under the old key, same table set, is found: TMD028)."""
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "stale-own-slot")
        old_key, new_key = f"old-{uuid.uuid4().hex[:8]}", f"new-{uuid.uuid4().hex[:8]}"
        # P's first assignment was made with a key: its ledger row records the same table set
        conn.execute("UPDATE public.booking_table_assignments SET idempotency_key = %s WHERE booking_id = %s",
                     (old_key, case.booking_id))
        conn.execute("INSERT INTO public.booking_assignment_idempotency (booking_id, idempotency_key, table_ids,"
                     " assignment_window, table_set_hash) SELECT %s, %s, %s::uuid[], tstzrange(now(), now() + '1h'),"
                     " md5(array_to_string(ARRAY(SELECT DISTINCT t FROM unnest(%s::uuid[]) t ORDER BY t), ','))",
                     (case.booking_id, old_key, list(case.table_ids), list(case.table_ids)))
        keyed = sandbox.StateCase(**{**case.__dict__, "idempotency_key": new_key})
        state, message, _ = outcome(conn, keyed)
        assert (state, message) == (case.expected_sqlstate, case.expected_message)
        why = explain(conn, booking_id=case.booking_id, table_ids=case.table_ids, idempotency_key=new_key)
        assert why.verdict is not None and why.verdict.agree, why.verdict
        assert "TMD028" in {b.finding.code for b in why.blockers}
        result = repair(conn, ctx_for(conn, keyed))
        assert result.repair_id is not None
        assert outcome(conn, keyed)[0] is None, outcome(conn, keyed)


def test_live_null_window_row_is_a_live_conflict_even_when_the_call_succeeds(origin_dsn: str) -> None:
    """Issue 10 item 4: live B holds X through a legacy row without a window, at another slot, over P's time. P's call
    succeeds and double-books X; explain says so (prediction = probe), and the finding is human, naming both."""
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1a")  # a no-show B with a NULL-window row at (X, S)
        blocker = case.blocking_booking_ids[0]
        conn.execute("UPDATE public.bookings SET status = 'confirmed' WHERE id = %s", (blocker,))
        conn.execute("UPDATE public.booking_table_assignments SET slot_id = NULL WHERE booking_id = %s", (blocker,))
        assert outcome(conn, case)[0] is None  # the silent double booking
        why = explain(conn, booking_id=case.booking_id, table_ids=case.table_ids)
        first = why.blockers[0]
        assert (first.finding.code, first.finding.safety, first.finding.booking_id) == ("TMD005", Safety.human,
                                                                                          blocker)
        assert str(case.booking_id) in first.finding.detail
        assert first.prediction is not None and first.prediction.sqlstate is None
        assert "double-books" in first.error
        assert why.verdict is not None and why.verdict.agree and why.verdict.person == (first.finding.id,)
        assert why.verdict.command is None


def test_prediction_and_probe_disagree_the_probe_wins(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D1")
        conn.execute("UPDATE public.table_inventory SET active = false WHERE id = %s", (case.table_ids[1],))
        why = explain(conn, booking_id=case.booking_id, table_ids=case.table_ids)
        assert why.verdict is not None and why.allocator is not None
        assert why.verdict.agree is False and why.verdict.note
        assert why.verdict.error == f"23514 Table {case.table_ids[1]} is inactive"
        assert why.verdict.predicted is not None and "duplicate" in why.verdict.predicted


def test_explain_reads_the_error_by_its_shape(origin_dsn: str) -> None:
    """Issue 17 item 4 / issue 10 item 5: the message's ids are typed; the real 22023 hold text is recognised; the
    second overload is no blocker of a 7-argument call; error_table comes from the message or the probe."""
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "ledger-hash-collision")
        p = case.booking_id
        mismatch = explain(conn, booking_id=p, table_ids=case.table_ids, idempotency_key=case.idempotency_key,
                           error=f"assign_tables_atomic_v2 idempotency mismatch for booking {p}")
        assert mismatch.context.table_ids == case.table_ids  # P's id is not taken for a table
        assert mismatch.reported is not None and mismatch.reported.shape.sqlstate == "P0003"
        held = explain(conn, booking_id=p, table_ids=case.table_ids,
                       error='error [22023]: unrecognized format() type specifier " "')
        assert held.reported is not None and held.reported.shape.name == "hold-conflict-real"
        with pytest.raises(ErrorNotRecognised):
            explain(conn, booking_id=p, table_ids=case.table_ids, error="something else went wrong")
        with pytest.raises(UsageError):
            explain(conn, booking_id=p, table_ids=case.table_ids,
                    error=f"Booking {uuid.uuid4()} locked to zone {uuid.uuid4()}, cannot assign zone {uuid.uuid4()}")
        d1 = sandbox.seed_state(conn, "D1")
        probed = explain(conn, booking_id=d1.booking_id, table_ids=d1.table_ids)
        assert probed.error_table == d1.table_ids[0]
        assert "TMD015" not in {b.finding.code for b in probed.blockers}


def test_first_blocker_with_the_legacy_idempotency_index(origin_legacy_dsn: str) -> None:
    """State D3: the legacy (booking_id, idempotency_key) index makes a keyed multi-table call fail on its second
    table; the 5-argument overload installed beside it is no blocker of the 7-argument call explain probes."""
    with db.connect(origin_legacy_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "D3")
        why = explain(conn, booking_id=case.booking_id, table_ids=case.table_ids,
                      idempotency_key=case.idempotency_key)
        assert why.verdict is not None and why.verdict.agree, why.verdict
        first = why.blockers[0]
        assert first.finding.code == "TMD014" and first.prediction is not None
        assert first.prediction.matches(case.expected_sqlstate, case.expected_message)
        assert "TMD015" not in {b.finding.code for b in why.blockers}
