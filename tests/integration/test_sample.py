"""tablemend.sample: the plan is deterministic and consistent; loading it goes through the allocator and is
idempotent; an empty database is migrated first."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from tablemend import db, sample
from tests.integration import tmdata as d

DAY = dt.date(2030, 6, 1)


def test_same_seed_same_plan_and_ids_from_the_seed() -> None:
    one, two = sample.plan(11, 3, day=DAY), sample.plan(11, 3, day=DAY)
    assert one == two
    assert one.restaurants[0].id == sample.sample_id(11, "restaurant:0")
    other = sample.plan(12, 3, day=DAY)
    assert {r.id for r in other.restaurants}.isdisjoint({r.id for r in one.restaurants})


def test_plan_shape_and_no_planned_double_booking() -> None:
    plan = sample.plan(5, 8, day=DAY)
    assert len(plan.restaurants) == 8
    assert 300 <= len(plan.bookings) <= 8 * 80  # a few hundred
    busy: dict[object, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for r in plan.restaurants:
        assert 10 <= len(r.tables) <= 40
        zone_of = {t.id: t.zone_id for t in r.tables}
        assert all(zone_of[a] == zone_of[b] for a, b in r.adjacencies)
    tables = {t.id: t for r in plan.restaurants for t in r.tables}
    for b in plan.bookings:
        assert DAY <= b.start_at.date() < DAY + dt.timedelta(days=8) and b.start_at < b.end_at
        if not b.table_ids:
            assert b.status == "pending_allocation"
            continue
        chosen = [tables[t] for t in b.table_ids]
        assert len({t.zone_id for t in chosen}) == 1 and sum(t.capacity for t in chosen) >= b.party_size
        assert len(chosen) == 1 or all(t.mobility == "movable" for t in chosen)
        for t in b.table_ids:
            assert all(not (s < b.end_at and b.start_at < e) for s, e in busy[t])
            busy[t].append((b.start_at, b.end_at))


def test_load_seats_every_planned_booking_through_the_allocator(tm_conn: db.Connection) -> None:
    plan = sample.plan(3, 3, day=DAY)
    result = sample.load(tm_conn, plan)
    assert result.loaded and not result.migrated
    planned = [b for b in plan.bookings if b.table_ids]
    assert result.counts == {
        "restaurants": 3, "zones": sum(len(r.zones) for r in plan.restaurants),
        "tables": sum(len(r.tables) for r in plan.restaurants),
        "adjacencies": sum(len(r.adjacencies) for r in plan.restaurants), "bookings": len(plan.bookings),
        "assignments": sum(len(b.table_ids) for b in planned),
    }
    for b in planned[:25]:
        rows = d.assignments(tm_conn, b.id)
        assert tuple(r["table_id"] for r in rows) == b.table_ids
        assert {(r["start_at"], r["end_at"]) for r in rows} == {(b.start_at, b.end_at)}
        merge = {r["merge_group_id"] for r in rows}
        assert (merge == {None}) == (len(rows) == 1)  # a merge group exactly for multi-table bookings
    again = sample.load(tm_conn, plan)
    assert not again.loaded and again.counts == result.counts


def test_load_sample_migrates_an_empty_database(empty_dsn: str) -> None:
    result = sample.load_sample(empty_dsn, seed=2, restaurants=1, day=DAY, bookings_per_restaurant=5)
    assert result.migrated and result.loaded and result.counts["bookings"] == 5
