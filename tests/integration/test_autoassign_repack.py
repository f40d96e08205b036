"""Re-pack: moves of other live, not-yet-seated bookings that free a table set for a party; applied in one
journalled transaction, refused when stale."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tablemend import Allocator, db, errors
from tablemend.autoassign import RepackPlan
from tablemend.db import Connection
from tests.integration import tmdata as d

START, END = d.at(19), d.at(21)


@pytest.fixture
def alloc(tm_dsn: str) -> Iterator[Allocator]:
    with Allocator.open(tm_dsn, record_conflicts=False) as a:
        yield a


def _table_of(conn: Connection, booking: uuid.UUID) -> list[uuid.UUID]:
    return [a["table_id"] for a in d.assignments(conn, booking)]


def test_moves_a_blocking_booking_to_a_free_table_and_holds_the_freed_set(tm_conn: Connection,
                                                                          alloc: Allocator) -> None:
    f = d.floor(tm_conn, tables=4, capacity=2)  # T1-T2-T3-T4: the only set of 8
    t5 = d.table(tm_conn, f.restaurant_id, f.zone_id, "T5", capacity=2)  # free, adjacent to nothing
    x = d.booking(tm_conn, f.restaurant_id, d.at(18), d.at(20), party_size=2)
    d.assign(tm_conn, x, [f.by_number["T2"]])
    party = d.booking(tm_conn, f.restaurant_id, START, END, party_size=8)
    with pytest.raises(errors.NoFreeTables):
        alloc.quote(f.restaurant_id, 8, START, END)
    plan = alloc.propose_repack(booking_id=party)
    assert plan.table_numbers == ("T1", "T2", "T3", "T4") and plan.booking_id == party
    assert [(m.booking_id, m.from_numbers, m.to_numbers) for m in plan.moves] == [(x, ("T2",), ("T5",))]
    # the span covers the moved booking's own window, which starts before the party's
    assert plan.span_start == d.at(18) and plan.span_end == END
    assert RepackPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    done = alloc.apply_repack(plan, assigned_by=uuid.uuid4())
    assert done.moved_bookings == 1 and set(done.table_ids) == set(f.tables)
    assert _table_of(tm_conn, x) == [t5]
    members = tm_conn.execute("SELECT m.table_id FROM table_hold_members m JOIN table_holds h ON h.id = m.hold_id"
                              " WHERE h.id = %s AND h.booking_id = %s ORDER BY 1", (done.hold_id, party)).fetchall()
    assert [r["table_id"] for r in members] == f.tables
    event = tm_conn.execute("SELECT context FROM observability_events WHERE source = 'autoassign.repack'"
                            " AND event_type = 'autoassign.repack.applied' AND booking_id = %s", (party,)).fetchone()
    assert event is not None and event["context"]["plan"]["fingerprint"] == plan.fingerprint
    assert event["context"]["hold_id"] == str(done.hold_id)
    d.confirm(tm_conn, done.hold_id)
    assert _table_of(tm_conn, party) == f.tables


def test_never_proposes_a_move_that_breaks_the_moved_booking_constraints(tm_conn: Connection,
                                                                         alloc: Allocator) -> None:
    f = d.floor(tm_conn, tables=3, capacity=4)  # T1-T2-T3: 12 seats, the only set for 12
    rid = f.restaurant_id
    x = d.booking(tm_conn, rid, START, END, party_size=3)
    d.assign(tm_conn, x, [f.by_number["T2"]])
    d.table(tm_conn, rid, f.zone_id, "S1", capacity=2)  # too small for 3
    patio = d.zone(tm_conn, rid, "Patio")
    d.table(tm_conn, rid, patio, "P1", capacity=4)  # another zone: a moved booking stays in its zone
    low = d.table(tm_conn, rid, f.zone_id, "M1", capacity=4)
    tm_conn.execute("UPDATE table_inventory SET min_party_size = 4 WHERE id = %s", (low,))  # needs 4 guests
    cap = d.table(tm_conn, rid, f.zone_id, "M2", capacity=4)
    tm_conn.execute("UPDATE table_inventory SET max_party_size = 2 WHERE id = %s", (cap,))  # takes 2 at most
    taken = d.table(tm_conn, rid, f.zone_id, "M3", capacity=4)
    y = d.booking(tm_conn, rid, d.at(20), d.at(22), party_size=2)  # overlaps x's window on M3
    d.assign(tm_conn, y, [taken])
    held = d.table(tm_conn, rid, f.zone_id, "M4", capacity=4)
    d.hold(tm_conn, rid, [held], d.at(17), d.at(23))
    with pytest.raises(errors.RepackNotFound) as caught:
        alloc.propose_repack(rid, 12, START, END)
    assert caught.value.fields["target_sets"] == "1"
    # one legal place appears: the plan uses it
    ok = d.table(tm_conn, rid, f.zone_id, "M9", capacity=4)
    plan = alloc.propose_repack(rid, 12, START, END)
    assert [(m.booking_id, m.to_table_ids) for m in plan.moves] == [(x, (ok,))]


def test_a_seated_party_is_never_moved(tm_conn: Connection, alloc: Allocator) -> None:
    f = d.floor(tm_conn, tables=2, capacity=2)
    d.table(tm_conn, f.restaurant_id, f.zone_id, "T3", capacity=2)
    x = d.booking(tm_conn, f.restaurant_id, START, END, party_size=2, status="checked_in")
    d.assign(tm_conn, x, [f.by_number["T1"]])
    with pytest.raises(errors.RepackNotFound):
        alloc.propose_repack(f.restaurant_id, 4, START, END)
    tm_conn.execute("UPDATE bookings SET status = 'confirmed' WHERE id = %s", (x,))
    plan = alloc.propose_repack(f.restaurant_id, 4, START, END)
    assert [m.to_numbers for m in plan.moves] == [("T3",)]


def test_a_stale_plan_is_refused_and_changes_nothing(tm_conn: Connection, alloc: Allocator) -> None:
    f = d.floor(tm_conn, tables=2, capacity=2)
    t3 = d.table(tm_conn, f.restaurant_id, f.zone_id, "T3", capacity=2)
    x = d.booking(tm_conn, f.restaurant_id, START, END, party_size=2)
    d.assign(tm_conn, x, [f.by_number["T1"]])
    plan = alloc.propose_repack(f.restaurant_id, 4, START, END)
    assert plan.moves[0].to_table_ids == (t3,)
    # someone else takes T3 later the same evening, inside the span: the plan read that table's occupancy
    z = d.booking(tm_conn, f.restaurant_id, d.at(20.5), d.at(22), party_size=2)
    d.assign(tm_conn, z, [t3])
    before = d.snapshot(tm_conn)
    with pytest.raises(errors.RepackPlanStale) as caught:
        alloc.apply_repack(plan)
    assert caught.value.fields["fingerprint"] == plan.fingerprint
    assert d.snapshot(tm_conn) == before
    # a change outside the plan's span does not make it stale
    d.unassign(tm_conn, z)
    late = d.booking(tm_conn, f.restaurant_id, d.at(22), d.at(23), party_size=2)
    d.assign(tm_conn, late, [t3])
    assert alloc.apply_repack(plan).moved_bookings == 1


@pytest.mark.parametrize("change", ["restaurant", "not_json", "no_moves", "bad_id", "party_moves_itself",
                                    "to_target", "from_wrong", "to_too_small", "seated"])
def test_a_malformed_plan_is_a_typed_error(tm_conn: Connection, alloc: Allocator, change: str) -> None:
    f = d.floor(tm_conn, tables=2, capacity=2)
    d.table(tm_conn, f.restaurant_id, f.zone_id, "T3", capacity=2)
    x = d.booking(tm_conn, f.restaurant_id, START, END, party_size=2)
    d.assign(tm_conn, x, [f.by_number["T1"]])
    doc: Any = alloc.propose_repack(f.restaurant_id, 4, START, END).to_json()
    if change == "restaurant":
        doc["restaurant_id"] = str(uuid.uuid4())
    elif change == "not_json":
        doc = ["a", "list"]
    elif change == "no_moves":
        del doc["moves"]
    elif change == "bad_id":
        doc["moves"][0]["to_table_ids"] = ["T3"]
    elif change == "party_moves_itself":
        doc["booking_id"] = doc["moves"][0]["booking_id"]
    # edited plans: the database is still as the plan read it (the fingerprint matches), the moves are not
    elif change == "to_target":
        doc["moves"][0]["to_table_ids"] = [str(f.by_number["T2"])]
    elif change == "from_wrong":
        doc["moves"][0]["from_table_ids"] = [str(f.by_number["T2"])]
    elif change == "to_too_small":
        tm_conn.execute("UPDATE table_inventory SET max_party_size = 1 WHERE table_number = 'T3'")
        doc["fingerprint"] = tm_conn.execute("SELECT repack_fingerprint(%s, %s, %s) AS f",
                                             (f.restaurant_id, doc["span_start"], doc["span_end"])).fetchone()["f"]
    else:
        tm_conn.execute("UPDATE bookings SET status = 'checked_in' WHERE id = %s", (x,))
        doc["fingerprint"] = tm_conn.execute("SELECT repack_fingerprint(%s, %s, %s) AS f",
                                             (f.restaurant_id, doc["span_start"], doc["span_end"])).fetchone()["f"]
    before = d.snapshot(tm_conn)
    with pytest.raises(errors.InvalidRepackPlan), db.translated():
        tm_conn.execute("SELECT * FROM apply_repack_plan(%s, %s::jsonb, now() + interval '1 minute')",
                        (f.restaurant_id, json.dumps(doc)))
    assert d.snapshot(tm_conn) == before


def test_random_days_every_applied_plan_keeps_every_booking_legal(tm_conn: Connection, alloc: Allocator) -> None:
    """Random floors and evenings: whenever quote finds nothing and a plan exists, the plan applies through the
    allocator, and afterwards each moved booking sits in its own zone, on a connected set of its own that admits its
    party (min / max party sizes), and the freed set is held for the party."""
    rng = random.Random(1506)
    applied = 0
    for _ in range(8):
        f = d.floor(tm_conn, tables=8, capacity=2, chain=True)
        rid = f.restaurant_id
        for n in range(9, 13):
            t = d.table(tm_conn, rid, f.zone_id, f"T{n}", capacity=rng.choice((2, 4)))
            d.adjacency(tm_conn, rid, t, f.by_number[f"T{rng.randint(1, 8)}"])
        tables = list(f.by_number.values()) + [r["id"] for r in tm_conn.execute(
            "SELECT id FROM table_inventory WHERE restaurant_id = %s AND table_number IN ('T9','T10','T11','T12')",
            (rid,)).fetchall()]
        for t in rng.sample(tables, 6):
            s = START + timedelta(minutes=rng.choice((-60, -30, 0, 30, 60)))
            bk = d.booking(tm_conn, rid, s, s + timedelta(hours=2), party_size=rng.choice((1, 2)))
            try:
                d.assign(tm_conn, bk, [t])
            except errors.TableOccupied:
                continue
        for party in (6, 8):
            try:
                alloc.quote(rid, party, START, END)
                continue
            except errors.NoFreeTables:
                pass
            try:
                plan = alloc.propose_repack(rid, party, START, END)
            except errors.RepackNotFound:
                continue
            alloc.apply_repack(plan)
            applied += 1
            for m in plan.moves:
                rows = tm_conn.execute(
                    "SELECT t.id, t.zone_id, t.capacity, t.min_party_size, t.max_party_size FROM table_inventory t"
                    " JOIN booking_table_assignments a ON a.table_id = t.id WHERE a.booking_id = %s",
                    (m.booking_id,)).fetchall()
                assert {r["id"] for r in rows} == set(m.to_table_ids)
                assert {r["zone_id"] for r in rows} == {plan.zone_id}
                lo = sum(r["min_party_size"] for r in rows)
                hi = sum(min(r["capacity"], r["max_party_size"] or r["capacity"]) for r in rows)
                assert lo <= m.party_size <= hi
            held = tm_conn.execute(
                "SELECT count(*) AS n FROM table_hold_members m JOIN table_holds h ON h.id = m.hold_id"
                " WHERE h.restaurant_id = %s AND h.status = 'active' AND m.table_id = ANY (%s)",
                (rid, list(plan.table_ids))).fetchone()
            assert held is not None and held["n"] == len(plan.table_ids)
    assert applied >= 3  # the seed gives evenings that need a re-pack
