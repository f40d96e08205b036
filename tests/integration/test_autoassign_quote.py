"""quote_tables: which table sets are offered for a party, in which order, and the typed refusals (migration 0006)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from psycopg import sql

from tablemend import Allocator, autoassign, db, errors
from tablemend.db import Connection
from tests.integration import tmdata as d

START, END = d.at(19), d.at(21)


def _quote(conn: Connection, rid: uuid.UUID, party: int, *, limit: int = 20, zone: uuid.UUID | None = None,
           seating: str | None = None, booking: uuid.UUID | None = None, start: Any = START,
           end: Any = END) -> list[dict[str, Any]]:
    with db.translated():
        return list(conn.execute(
            "SELECT * FROM quote_tables(%s, %s, %s, %s, %s, %s, %s, %s)",
            (rid, party, start, end, zone, seating, limit, booking)).fetchall())


def _numbers(rows: list[dict[str, Any]]) -> list[str]:
    return ["+".join(r["table_numbers"]) for r in rows]


def _set(conn: Connection, table_id: uuid.UUID, **columns: Any) -> None:
    for column, value in columns.items():
        assert column in {"min_party_size", "max_party_size", "seating_type", "status", "active", "mobility"}
        conn.execute(sql.SQL("UPDATE table_inventory SET {} = %s WHERE id = %s").format(sql.Identifier(column)),
                     (value, table_id))


def test_ranking_least_spare_then_fewest_tables_then_zone_order_then_number(tm_conn: Connection) -> None:
    rid = d.restaurant(tm_conn)
    # zone "A-bar" sorts first by name but has sort_order 1: zone order is sort_order, not the name
    main = d.zone(tm_conn, rid, "Main")
    bar = d.zone(tm_conn, rid, "A-bar")
    tm_conn.execute("UPDATE zones SET sort_order = 1 WHERE id = %s", (bar,))
    t = {n: d.table(tm_conn, rid, main, n, capacity=c) for n, c in
         (("T1", 2), ("T2", 2), ("T3", 6), ("T10", 4), ("T4", 5))}
    b1 = d.table(tm_conn, rid, bar, "B1", capacity=4)
    for a, b in (("T1", "T2"), ("T2", "T3")):
        d.adjacency(tm_conn, rid, t[a], t[b])
    rows = _quote(tm_conn, rid, 4)
    # 0 spare: T10 (main, 1 table), B1 (bar, later zone), T1+T2 (2 tables); 1 spare: T4; 2 spare: T3
    assert _numbers(rows) == ["T10", "B1", "T1+T2", "T4", "T3"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["spare_seats"] for r in rows] == [0, 0, 0, 1, 2]
    assert rows[0]["reason"].endswith("best: fewest spare seats, then fewest tables, then zone order, then table"
                                      " number")
    assert "later zone (A-bar after Main)" in rows[1]["reason"]
    assert "same spare seats, more tables (2 > 1)" in rows[2]["reason"]
    assert "more spare seats (1 > 0)" in rows[3]["reason"]
    assert rows[1]["table_ids"] == [b1] and rows[2]["table_ids"] == [t["T1"], t["T2"]]  # in table-number order
    # T2 before T10 (shorter numbers first), and the limit cuts the list
    tm_conn.execute("UPDATE table_inventory SET capacity = 4 WHERE id = %s", (t["T4"],))
    assert _numbers(_quote(tm_conn, rid, 4, limit=2)) == ["T4", "T10"]
    # no candidate is a fitting set plus a table it does not need: T2+T3 (8) contains T3 (6), which fits a party of 6
    assert "T2+T3" not in _numbers(_quote(tm_conn, rid, 6))


def test_a_group_is_connected_only_through_its_own_tables(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=3, capacity=2, chain=False)
    t1, t2, t3 = (f.by_number[n] for n in ("T1", "T2", "T3"))
    d.adjacency(tm_conn, f.restaurant_id, t2, t1)  # stored in the other direction: read both ways
    d.adjacency(tm_conn, f.restaurant_id, t2, t3)
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4)) == ["T1+T2", "T2+T3"]
    assert _numbers(_quote(tm_conn, f.restaurant_id, 6)) == ["T1+T2+T3"]
    # with T2 taken, T1 and T3 are linked only through a table outside the set: refused
    other = d.booking(tm_conn, f.restaurant_id, START, END)
    d.assign(tm_conn, other, [t2])
    with pytest.raises(errors.NoFreeTables) as caught:
        _quote(tm_conn, f.restaurant_id, 4)
    assert caught.value.fields["reason"] == "everything_taken"
    assert caught.value.fields["fitting_sets"] == "2"


def test_fixed_tables_are_offered_alone_never_combined(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=3, capacity=4)  # T1-T2-T3
    _set(tm_conn, f.by_number["T2"], mobility="fixed")
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4)) == ["T1", "T2", "T3"]
    # a party of 8 would need T2 combined with a neighbour: nothing fits
    with pytest.raises(errors.PartyTooLarge) as caught:
        _quote(tm_conn, f.restaurant_id, 8)
    assert caught.value.fields["reason"] == "party_too_large"


def test_min_and_max_party_sizes_apply_per_table_and_add_up_in_a_group(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=3, capacity=4)  # T1-T2-T3
    _set(tm_conn, f.by_number["T1"], min_party_size=3)
    _set(tm_conn, f.by_number["T3"], max_party_size=2)
    # party 2: T1 needs 3+, T3 takes at most 2 (fits with 2 spare seats), T2 fits
    assert _numbers(_quote(tm_conn, f.restaurant_id, 2)) == ["T2", "T3"]
    # party 4: T3 takes at most 2 alone; T1 and T2 fit alone, so no pair is offered
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4)) == ["T1", "T2"]
    # party 6: T2+T3 takes at most 4+2; T1+T2 at most 8 and at least 3+1
    assert _numbers(_quote(tm_conn, f.restaurant_id, 6)) == ["T1+T2", "T2+T3"]
    _set(tm_conn, f.by_number["T2"], min_party_size=4)
    # party 6: T1+T2 needs at least 3+4 = 7 guests now; T2+T3 needs 4+1 and takes 4+2
    assert _numbers(_quote(tm_conn, f.restaurant_id, 6)) == ["T2+T3"]
    _set(tm_conn, f.by_number["T3"], min_party_size=2)
    with pytest.raises(errors.PartyTooLarge) as caught:
        _quote(tm_conn, f.restaurant_id, 1)
    assert caught.value.fields["reason"] == "party_too_small"


def test_zone_and_seating_preferences_restrict_the_candidates(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=2, capacity=4)
    patio = d.zone(tm_conn, f.restaurant_id, "Patio")
    p1 = d.table(tm_conn, f.restaurant_id, patio, "P1", capacity=4)
    _set(tm_conn, p1, seating_type="booth")
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4)) == ["T1", "T2", "P1"]
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4, zone=patio)) == ["P1"]
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4, seating="booth")) == ["P1"]
    assert [r["zone_id"] for r in _quote(tm_conn, f.restaurant_id, 4, zone=f.zone_id)] == [f.zone_id] * 2
    _set(tm_conn, p1, status="out_of_service")
    with pytest.raises(errors.ZoneClosed) as closed:
        _quote(tm_conn, f.restaurant_id, 4, zone=patio)
    assert closed.value.fields["zone_id"] == str(patio) and closed.value.fields["reason"] == "zone_closed"
    with pytest.raises(errors.UnknownZone):
        _quote(tm_conn, f.restaurant_id, 4, zone=uuid.uuid4())


def test_holds_of_other_bookings_block_own_and_expired_holds_do_not(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=2, capacity=4)
    mine = d.booking(tm_conn, f.restaurant_id, START, END, party_size=4)
    other = d.booking(tm_conn, f.restaurant_id, START, END, party_size=4)
    d.hold(tm_conn, f.restaurant_id, [f.by_number["T1"]], START, END, booking_id=other)
    d.hold(tm_conn, f.restaurant_id, [f.by_number["T2"]], START, END, booking_id=mine)
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4, booking=mine)) == ["T2"]
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4, booking=other)) == ["T1"]
    with pytest.raises(errors.NoFreeTables):  # without a booking every active hold blocks
        _quote(tm_conn, f.restaurant_id, 4)
    # back-to-back windows do not overlap
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4, start=END, end=END + timedelta(hours=1))) == ["T1", "T2"]
    # an expired hold never blocks, even before anything retires it
    tm_conn.execute("UPDATE table_holds SET expires_at = now() - interval '1 second' WHERE booking_id = %s",
                    (other,))
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4)) == ["T1"]
    # a live assignment of another booking blocks; the booking's own does not
    d.assign(tm_conn, other, [f.by_number["T1"]])
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4, booking=other)) == ["T1"]
    assert _numbers(_quote(tm_conn, f.restaurant_id, 4, booking=mine, start=START + timedelta(hours=1))) == ["T2"]


@pytest.mark.parametrize(("args", "error", "field"), [
    ({"party": 0}, errors.InvalidPartySize, "party_size"),
    ({"party": None}, errors.InvalidPartySize, "party_size"),
    ({"limit": 0}, errors.InvalidLimit, "limit"),
    ({"limit": 101}, errors.InvalidLimit, "limit"),
    ({"rid": "unknown"}, errors.UnknownRestaurant, "restaurant_id"),
    ({"start": END, "end": START}, errors.InvalidWindow, "start_at"),
    ({"start": None}, errors.InvalidWindow, "start_at"),
    ({"seating": " "}, errors.InvalidArgument, "seating"),
])
def test_bad_input_is_one_typed_error_and_changes_nothing(tm_conn: Connection, args: dict[str, Any],
                                                          error: type[errors.TablemendError], field: str) -> None:
    f = d.floor(tm_conn, tables=2)
    before = d.snapshot(tm_conn)
    rid = uuid.uuid4() if args.get("rid") == "unknown" else f.restaurant_id
    with pytest.raises(error) as caught:
        _quote(tm_conn, rid, args.get("party", 2), limit=args.get("limit", 5), seating=args.get("seating"),
               start=args.get("start", START), end=args.get("end", END))
    assert type(caught.value) is error
    assert field in caught.value.fields
    assert d.snapshot(tm_conn) == before


def test_allocator_quote_returns_candidates(tm_dsn: str) -> None:
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn, tables=3, capacity=2)
    with Allocator.open(tm_dsn) as alloc:
        got = alloc.quote(f.restaurant_id, 4, START, END, limit=1)
        # a naive bound is InvalidWindow (docs/allocator-client.md); its details show it as given, not as if UTC
        with pytest.raises(errors.InvalidWindow) as naive:
            alloc.quote(f.restaurant_id, 4, START.replace(tzinfo=None), END)
        assert f"start_at={START.replace(tzinfo=None).isoformat()} " in naive.value.details
    assert len(got) == 1 and got[0].table_numbers == ("T1", "T2") and got[0].seats == 4 and got[0].rank == 1


# --- the SQL enumeration agrees with the Python one, and both with the naive search over every subset ---------------


def _random_floor(conn: Connection, rng: random.Random, n: int) -> uuid.UUID:
    rid = d.restaurant(conn)
    zones = [d.zone(conn, rid, f"Z{z}") for z in range(rng.randint(1, 3))]
    ids = []
    for i in range(n):
        t = d.table(conn, rid, rng.choice(zones), f"T{i + 1}", capacity=rng.choice((2, 2, 4, 4, 6)),
                    mobility="fixed" if rng.random() < 0.1 else "movable")
        if rng.random() < 0.2:
            _set(conn, t, min_party_size=2)
        if rng.random() < 0.1:
            _set(conn, t, max_party_size=rng.choice((2, 3)), min_party_size=1)
        ids.append(t)
    pairs = {tuple(sorted(rng.sample(ids, 2))) for _ in range(int(n * 1.4))}
    for a, b in pairs:
        d.adjacency(conn, rid, a, b)
    for t in rng.sample(ids, n // 3):  # a third is taken
        bk = d.booking(conn, rid, START, END)
        d.assign(conn, bk, [t])
    return rid


def test_sql_python_and_naive_enumerations_agree_on_random_floors(tm_conn: Connection) -> None:
    rng = random.Random(15)
    for _ in range(6):
        rid = _random_floor(tm_conn, rng, rng.randint(8, 16))
        state = tm_conn.execute("SELECT repack_state(%s, 2, %s, %s) AS s", (rid, START, END)).fetchone()
        assert state is not None
        floor, free = autoassign.floor_from_state(state["s"])
        for party in (1, 2, 3, 5, 7, 9, 12):
            try:
                sql_sets = [tuple(r["table_ids"]) for r in _quote(tm_conn, rid, party, limit=100)]
            except (errors.NoFreeTables, errors.PartyTooLarge):
                sql_sets = []
            py = autoassign.ranked(floor, party, autoassign.connected_sets(floor, party, free))
            naive = autoassign.ranked(floor, party, autoassign.naive_sets(floor, party, free))
            as_ids = [tuple(floor.tables[i].id for i in s) for s in py]
            assert py == naive, (party, py, naive)
            assert sql_sets == as_ids[:100], party
