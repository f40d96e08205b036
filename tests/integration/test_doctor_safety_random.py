"""Randomised safety of ``repair(all_safe=True)`` on mixed origin databases.

Each case (seeded RNG) mixes a random subset of the §3 states, a few hundred generated bookings (healthy live ones
plus the benchmark's known drift) and random extra drift on live bookings. Then:

* every live booking's seats are the same before and after the repair: its assignment rows (table, window) and the
  real (non-shadow) table allocations that back them;
* a rescan finds no ``safe`` finding left, and a second ``repair`` has nothing to do (the repair is idempotent);
* ``undo`` restores every table byte for byte.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from bench import origin_data

from tablemend import db, sandbox
from tablemend.doctor import repair, scan, undo
from tablemend.doctor.rules import Context, Safety
from tests.integration.test_doctor_states import checksums

_STATES = [s for s in sandbox.ORIGIN_STATES if s not in ("D3", "D4")]  # those two need the legacy schema
_GENERATED = 360

_LIVE = """
    SELECT b.id FROM public.bookings b
    WHERE b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()"""
_OCCUPANCY = """
    SELECT 'assignment' AS source, bta.booking_id, bta.table_id AS resource,
           coalesce(bta.start_at::text, '-') || ' .. ' || coalesce(bta.end_at::text, '-') AS span
    FROM public.booking_table_assignments bta WHERE bta.booking_id = ANY (%(ids)s)
    UNION ALL
    -- every real table allocation that backs one of those rows (an allocation of a booking on a table it holds no
    -- row on backs no seat: TMD002); a merge_group row occupies no table
    SELECT 'allocation', a.booking_id, a.resource_id, a."window"::text
    FROM public.allocations a
    WHERE NOT a.shadow AND a.resource_type = 'table' AND a.booking_id = ANY (%(ids)s)
      AND EXISTS (SELECT 1 FROM public.booking_table_assignments bta
                   WHERE bta.booking_id = a.booking_id AND bta.table_id = a.resource_id)"""


def _occupancy(conn: db.Connection, live: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    rows = conn.execute(_OCCUPANCY, {"ids": live}).fetchall()
    return sorted((r["source"], r["booking_id"], r["resource"], r["span"]) for r in rows)


def _booking(i: int) -> str:
    return f"b{i}"


# random drift on generated bookings (restaurant bench-0): each takes the booking number i of a healthy live booking
_DRIFT: dict[str, list[str]] = {
    # a status route that cancels without releasing anything
    "cancel_without_release": ["UPDATE public.bookings SET status = 'cancelled' WHERE id = md5(%(b)s)::uuid"],
    # a reset script that deletes assignment rows only
    "delete_rows_only": ["DELETE FROM public.booking_table_assignments WHERE booking_id = md5(%(b)s)::uuid"],
    # unassign: rows and their allocations go, the ledger row and the zone lock stay
    "unassign": ["DELETE FROM public.booking_table_assignments WHERE booking_id = md5(%(b)s)::uuid",
                 "DELETE FROM public.allocations WHERE booking_id = md5(%(b)s)::uuid"],
    # synchronizeAssignments pruned the allocation
    "prune_allocation": ["DELETE FROM public.allocations WHERE booking_id = md5(%(b)s)::uuid"],
    # a legacy row without a window
    "null_window": ["UPDATE public.booking_table_assignments SET start_at = NULL, end_at = NULL"
                    " WHERE booking_id = md5(%(b)s)::uuid"],
    # the booking moved; slot_id kept an old value
    "stale_slot": ["UPDATE public.booking_table_assignments SET slot_id = md5(%(stale)s)::uuid"
                   " WHERE booking_id = md5(%(b)s)::uuid"],
    # zone lock on the other zone
    "zone_drift": ["UPDATE public.bookings SET assigned_zone_id = md5(%(other_zone)s)::uuid"
                   " WHERE id = md5(%(b)s)::uuid"],
}


def _drift_params(i: int) -> dict[str, str]:
    """Ids of booking i's neighbours, by the generator's formulas (one restaurant at this size)."""
    t, s, d = i % 20, (i // 20) % 3, i // 60
    return {"b": _booking(i), "stale": f"s0-{d}-{s + 3}", "other_zone": f"z0-{(t + 1) % 2}"}


def _build(conn: db.Connection, rng: random.Random) -> list[str]:
    states = rng.sample(_STATES, k=rng.randint(2, 5))
    for state in states:
        sandbox.seed_state(conn, state)
    origin_data.generate(conn, _GENERATED)
    candidates = [i for i in range(_GENERATED)
                  if origin_data.kind_of(i) == "healthy" and origin_data.holds_tables(i) and (i * 37) % 100 < 92]
    applied = []
    with db.translated():
        for i in rng.sample(candidates, k=rng.randint(3, 12)):
            kind = rng.choice(sorted(_DRIFT))
            for statement in _DRIFT[kind]:
                conn.execute(statement, _drift_params(i))
            applied.append(f"{kind}:{i}")
    return [*states, *applied]


@pytest.mark.parametrize("seed", range(8))
def test_repair_all_safe_never_moves_a_live_booking(origin_conn: db.Connection, seed: int) -> None:
    rng = random.Random(seed)
    mix = _build(origin_conn, rng)
    live = [r["id"] for r in origin_conn.execute(_LIVE).fetchall()]
    occupancy = _occupancy(origin_conn, live)
    sums = checksums(origin_conn)
    safe_before = [f for f in scan(origin_conn) if f.safety is Safety.safe]
    assert safe_before, mix

    result = repair(origin_conn, Context(), all_safe=True)
    assert result.repair_id is not None, mix
    assert _occupancy(origin_conn, live) == occupancy, mix

    leftover = [f.id for f in scan(origin_conn) if f.safety is Safety.safe]
    assert leftover == [], (mix, leftover)
    again = repair(origin_conn, Context(), all_safe=True)
    assert again.repair_id is None and not again.plan.changes, mix

    undo(origin_conn, result.repair_id)
    assert checksums(origin_conn) == sums, mix
    assert _occupancy(origin_conn, live) == occupancy, mix


def test_orphan_allocation_of_an_unseated_booking_is_safe_of_a_seated_one_confirm(origin_conn: db.Connection) -> None:
    """TMD002's decision (see its docstring): a live booking with no assignment row at all is seated nowhere, so its
    leftover allocation is removed by --all-safe; a live booking that still holds another table keeps it unless
    someone includes the finding."""
    origin_data.generate(origin_conn, 20)  # booking 4 is a live booking with an allocation and no assignment row
    unseated = origin_conn.execute("SELECT md5('b4')::uuid AS id").fetchone()
    seated = origin_conn.execute(
        "SELECT b.id FROM public.bookings b JOIN public.booking_table_assignments bta ON bta.booking_id = b.id"
        " WHERE b.status IN ('pending', 'confirmed') AND b.end_at > now() ORDER BY b.id LIMIT 1").fetchone()
    assert unseated is not None and seated is not None
    # a second allocation of the seated booking, on a table it has no row on (a half-finished move)
    origin_conn.execute(
        "INSERT INTO public.allocations (booking_id, restaurant_id, resource_type, resource_id, \"window\", shadow)"
        " SELECT b.id, b.restaurant_id, 'table', t.id, tstzrange(b.start_at, b.end_at, '[)'), false"
        " FROM public.bookings b JOIN public.table_inventory t ON t.restaurant_id = b.restaurant_id"
        " WHERE b.id = %(b)s AND NOT EXISTS (SELECT 1 FROM public.allocations a WHERE a.resource_id = t.id"
        "   AND a.\"window\" && tstzrange(b.start_at, b.end_at, '[)'))"
        " AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments x WHERE x.table_id = t.id"
        "   AND x.booking_id = b.id) ORDER BY t.id LIMIT 1", {"b": seated["id"]})
    found = {f.booking_id: f for f in scan(origin_conn) if f.code == "TMD002"}
    assert found[unseated["id"]].safety is Safety.safe
    assert found[seated["id"]].safety is Safety.confirm
    repair(origin_conn, Context(), all_safe=True)

    def count(booking: uuid.UUID) -> int:
        row = origin_conn.execute("SELECT count(*) AS n FROM public.allocations WHERE NOT shadow"
                                  " AND resource_type = 'table' AND booking_id = %s", (booking,)).fetchone()
        assert row is not None
        return int(row["n"])

    assert count(unseated["id"]) == 0
    left = {f.booking_id for f in scan(origin_conn) if f.code == "TMD002"}
    assert left == {seated["id"]}
