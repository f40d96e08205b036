"""hold_best_tables: holds the best free candidate in one transaction; concurrent callers never share a table."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest

from tablemend import Allocator, db, errors
from tablemend.db import Connection
from tests.integration import tmdata as d

START, END = d.at(19), d.at(21)
CLIENTS = 8


def _hold_best(conn: Connection, rid: uuid.UUID, party: int | None, *, booking: uuid.UUID | None = None,
               zone: uuid.UUID | None = None, start: Any = START, end: Any = END) -> dict[str, Any]:
    with db.translated():
        row = conn.execute(
            "SELECT * FROM hold_best_tables(%s, %s, %s, %s, now() + interval '5 minutes', %s, %s)",
            (rid, party, start, end, booking, zone)).fetchone()
    assert row is not None
    return dict(row)


def _members(conn: Connection, hold_id: uuid.UUID) -> list[uuid.UUID]:
    rows = conn.execute("SELECT table_id FROM table_hold_members WHERE hold_id = %s ORDER BY table_id",
                        (hold_id,)).fetchall()
    return [r["table_id"] for r in rows]


def test_holds_the_best_then_the_next_best_then_refuses_typed(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=3, capacity=2)  # T1-T2-T3, party of 4: T1+T2 then T2+T3 (overlap) ...
    first = _hold_best(tm_conn, f.restaurant_id, 4)
    assert first["rank"] == 1 and first["table_numbers"] == ["T1", "T2"] and first["lost_to_others"] == 0
    assert _members(tm_conn, first["hold_id"]) == sorted([f.by_number["T1"], f.by_number["T2"]])
    meta = tm_conn.execute("SELECT metadata FROM table_holds WHERE id = %s", (first["hold_id"],)).fetchone()
    assert meta is not None and meta["metadata"]["source"] == "hold_best_tables"
    # T2 is held now: nothing of 4 seats is left, and the refusal says everything is taken; nothing changes
    before = d.snapshot(tm_conn)
    with pytest.raises(errors.NoFreeTables) as caught:
        _hold_best(tm_conn, f.restaurant_id, 4)
    assert caught.value.fields["reason"] == "everything_taken"
    assert d.snapshot(tm_conn) == before
    # a party of 2 still gets T3
    assert _hold_best(tm_conn, f.restaurant_id, 2)["table_numbers"] == ["T3"]


def test_a_booking_gets_its_party_and_window_and_its_earlier_hold_is_replaced(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=3, capacity=4)
    b = d.booking(tm_conn, f.restaurant_id, START, END, party_size=3)
    first = _hold_best(tm_conn, f.restaurant_id, None, booking=b, start=None, end=None)
    assert first["table_numbers"] == ["T1"] and (first["start_at"], first["end_at"]) == (START, END)
    # its own hold does not block it: a re-quote takes the best set again and the old hold is cancelled
    again = _hold_best(tm_conn, f.restaurant_id, None, booking=b, start=None, end=None)
    assert again["table_numbers"] == ["T1"] and again["hold_id"] != first["hold_id"]
    row = tm_conn.execute("SELECT status::text AS s FROM table_holds WHERE id = %s", (first["hold_id"],)).fetchone()
    assert row is not None and row["s"] == "cancelled"
    # the hold confirms into an assignment through the allocator's own confirm
    d.confirm(tm_conn, again["hold_id"])
    assert [a["table_id"] for a in d.assignments(tm_conn, b)] == [f.by_number["T1"]]


def test_zone_closed_and_party_too_large_are_typed_and_change_nothing(tm_conn: Connection) -> None:
    f = d.floor(tm_conn, tables=2, capacity=4)
    patio = d.zone(tm_conn, f.restaurant_id, "Patio")
    d.table(tm_conn, f.restaurant_id, patio, "P1", capacity=4, active=False)
    before = d.snapshot(tm_conn)
    with pytest.raises(errors.ZoneClosed):
        _hold_best(tm_conn, f.restaurant_id, 2, zone=patio)
    with pytest.raises(errors.PartyTooLarge):
        _hold_best(tm_conn, f.restaurant_id, 9)
    with pytest.raises(errors.InvalidPartySize):
        _hold_best(tm_conn, f.restaurant_id, -1)
    with pytest.raises(errors.BookingNotFound):
        _hold_best(tm_conn, f.restaurant_id, 2, booking=uuid.uuid4())
    assert d.snapshot(tm_conn) == before


def test_allocator_hold_best_tables(tm_dsn: str) -> None:
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn, tables=2, capacity=4)
    with Allocator.open(tm_dsn) as alloc:
        got = alloc.hold_best_tables(f.restaurant_id, 4, START, END, ttl=timedelta(minutes=2))
        assert got.table_numbers == ("T1",) and got.rank == 1
        with pytest.raises(errors.InvalidArgument):
            alloc.hold_best_tables(f.restaurant_id, 4, START, END, ttl=timedelta(0))
        with pytest.raises(errors.InvalidWindow):
            alloc.hold_best_tables(f.restaurant_id, 4)  # no booking: a window is required


def test_eight_concurrent_clients_one_best_set_exactly_one_wins_it(tm_dsn: str) -> None:
    """Eight clients want a party of 4 over overlapping windows. T1 (4 seats) is everyone's best; T2..T6 (6 seats)
    come next. The first client holds T1 and keeps its transaction open until the seven others are all waiting on
    T1's lock (they saw T1 free in their snapshot); then it commits. Exactly one client has T1, five get T2..T6 (each
    lost at least T1 to a concurrent hold), two get the typed NoFreeTables, and no table is held twice."""
    with db.connect(tm_dsn, autocommit=True) as conn:
        rid = d.restaurant(conn)
        zid = d.zone(conn, rid)
        best = d.table(conn, rid, zid, "T1", capacity=4)
        rest = [d.table(conn, rid, zid, f"T{i}", capacity=6) for i in range(2, 7)]
    call = "SELECT * FROM hold_best_tables(%s, 4, %s, %s, now() + interval '5 minutes')"
    results: list[dict[str, Any]] = []
    refused: list[errors.TablemendError] = []
    other: list[BaseException] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        try:
            with db.connect(tm_dsn, autocommit=True) as conn, db.translated():
                row = conn.execute(call, (rid, START + timedelta(minutes=15 * n),
                                          END + timedelta(minutes=15 * n))).fetchone()
            assert row is not None
            with lock:
                results.append(dict(row))
        except errors.NoFreeTables as exc:
            with lock:
                refused.append(exc)
        except BaseException as exc:  # reported below
            with lock:
                other.append(exc)

    with db.connect(tm_dsn) as first, db.connect(tm_dsn, autocommit=True) as watch:
        with db.translated(), first.transaction():
            mine = first.execute(call, (rid, START, END)).fetchone()
            assert mine is not None and mine["table_ids"] == [best]
            threads = [threading.Thread(target=client, args=(n,)) for n in range(1, CLIENTS)]
            for t in threads:
                t.start()
            waiting = 0
            for _ in range(600):  # until the seven wait on a lock held by this transaction (at most ~60 s)
                row = watch.execute(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE '%%hold_best_tables%%'").fetchone()
                waiting = row["n"] if row else 0
                if waiting == CLIENTS - 1:
                    break
                watch.execute("SELECT pg_sleep(0.1)")
            assert waiting == CLIENTS - 1
        for t in threads:
            t.join()
    assert other == []
    won = [r["table_ids"] for r in results]
    assert [best] not in won  # the first client has it
    assert sorted(tuple(w) for w in won) == sorted((t,) for t in rest)
    assert all(r["lost_to_others"] >= 1 and r["rank"] >= 2 for r in results)
    assert len(refused) == CLIENTS - 1 - len(rest)
    assert all(e.fields["reason"] == "everything_taken" for e in refused)
    with db.connect(tm_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM table_hold_members a JOIN table_hold_members b"
            " ON a.table_id = b.table_id AND a.hold_id < b.hold_id AND a.hold_window && b.hold_window").fetchone()
        members = conn.execute("SELECT count(*) AS n FROM table_hold_members").fetchone()
    assert row is not None and row["n"] == 0
    assert members is not None and members["n"] == 1 + len(rest)
