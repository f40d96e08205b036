"""The history checker on real runs: tablemend's allocator (no anomaly), a planted double booking written around the
allocator (caught, with its witness), and the origin sandbox's functions (its known anomalies, caught)."""

from __future__ import annotations

import os

from tablemend import Allocator, db
from tests.integration import tmdata as d
from tests.reliability import history as h
from tests.reliability import workload as w

CLIENTS = int(os.environ.get("TABLEMEND_RELIABILITY_CLIENTS", "8"))
OPS = int(os.environ.get("TABLEMEND_RELIABILITY_OPS", "150"))


def test_allocator_history_has_no_anomaly(tm_dsn: str) -> None:
    _world, history = w.run_tablemend(tm_dsn, clients=CLIENTS, ops=OPS, seed=7)
    report = h.check(history.ops)
    counts = history.counts()
    assert not report.anomalies, "\n".join(h.summary(report))
    # the run really collided and really succeeded, so the checks had something to judge (floors well below what a
    # run gives: the split between outcomes depends on the threads' interleaving, e.g. 44 acknowledged assigns of 1,200)
    assert counts.get("assign:ok", 0) > 15 and counts.get("assign:TAC01", 0) > 10, counts
    assert report.claims > 15 and report.reads_checked > 10 and report.replays_checked > 0, list(h.summary(report))


def test_a_double_booking_written_around_the_allocator_is_caught_with_its_witness(tm_dsn: str) -> None:
    """The exclusion constraint is dropped in this test's database, then a rogue writer INSERTs a row for another
    booking straight into booking_table_assignments, over a table and window the allocator acknowledged."""
    world, history = w.run_tablemend(tm_dsn, clients=4, ops=40, seed=11)
    assert not h.check(history.ops).anomalies  # clean so far
    with db.connect(tm_dsn, autocommit=True) as conn, Allocator.open(tm_dsn, record_conflicts=False) as alloc:
        conn.execute("ALTER TABLE booking_table_assignments DROP CONSTRAINT booking_table_assignments_no_overlap")
        r = world.restaurants[0]
        zone = _zone(conn, r.zones[0][0])
        table = d.table(conn, r.id, zone, "X1")  # free, so the acknowledged assignment surely succeeds
        victim, rogue = (d.booking(conn, r.id, d.at(19)) for _ in range(2))
        r.bookings += [victim, rogue]
        rec = w.Recorder(history, 99)
        with rec.call("assign", victim, {"table_ids": [table], "key": None, "require_adjacency": False,
                                         "start_at": None, "end_at": None}) as acked:
            acked.rows = h.rows_of(alloc.assign(victim, [table]), victim)
        with rec.call("assign", rogue, {"table_ids": [table], "key": None, "require_adjacency": False,
                                        "start_at": None, "end_at": None}) as planted:
            conn.execute("UPDATE bookings SET assigned_zone_id = %s WHERE id = %s", (zone, rogue))
            planted.rows = h.rows_of(conn.execute(
                "INSERT INTO booking_table_assignments (restaurant_id, booking_id, table_id, zone_id, start_at, end_at)"
                " SELECT b.restaurant_id, b.id, %s, b.assigned_zone_id, b.start_at, b.end_at FROM bookings b"
                " WHERE b.id = %s RETURNING booking_id, table_id, start_at, end_at, merge_group_id",
                (table, rogue)).fetchall())
        w.final_reads(world, alloc, history)
    report = h.check(history.ops)
    overlaps = [a for a in report.anomalies if a.kind == "overlap"]
    assert overlaps, "\n".join(h.summary(report))
    # the witness names the acknowledged assignment and the planted write (and nothing in between excuses them)
    assert any(acked in a.witness and planted in a.witness for a in overlaps), [str(a) for a in overlaps]
    assert {a.kind for a in report.anomalies} == {"overlap"}


def _zone(conn: db.Connection, table: object) -> object:
    row = conn.execute("SELECT zone_id FROM table_inventory WHERE id = %s", (table,)).fetchone()
    assert row is not None
    return row["zone_id"]


def test_the_origin_functions_show_their_known_anomalies(origin_dsn: str) -> None:
    """Origin spec §3 / §3a: untyped refusals (deadlocks 40P01, 'assignment duplicate' P0001, raw 23505 / 23P01),
    silent 0-row replays of a deterministic key after an unassign, tables kept by cancelled bookings."""
    _world, history = w.run_origin(origin_dsn, clients=4, ops=150, seed=5)
    report = h.check(history.ops)
    found = report.by_kind()
    codes = {a.witness[0].sqlstate for a in report.anomalies if a.kind == "untyped"}
    assert {"untyped", "ack-mismatch"} <= set(found), "\n".join(h.summary(report))
    assert codes & {"40P01", "P0001", "23505", "23P01"}, codes
    replays = [a for a in report.anomalies if a.kind == "ack-mismatch" and not a.witness[0].rows]
    assert replays, "no silent empty replay"


def test_an_assignment_deleted_around_the_allocator_is_a_lost_write(tm_dsn: str) -> None:
    """An acknowledged assignment that disappears without any recorded removal (a DELETE behind the allocator's
    back): the final read of the booking disagrees with its last write, and the witness is that pair."""
    world, history = w.run_tablemend(tm_dsn, clients=4, ops=40, seed=12)
    with db.connect(tm_dsn, autocommit=True) as conn, Allocator.open(tm_dsn, record_conflicts=False) as alloc:
        r = world.restaurants[0]
        table = d.table(conn, r.id, _zone(conn, r.zones[0][0]), "X1")
        victim = d.booking(conn, r.id, d.at(12))
        r.bookings.append(victim)
        with w.Recorder(history, 99).call("assign", victim, {"table_ids": [table], "key": None,
                                                             "require_adjacency": False, "start_at": None,
                                                             "end_at": None}) as acked:
            acked.rows = h.rows_of(alloc.assign(victim, [table]), victim)
        conn.execute("DELETE FROM booking_table_assignments WHERE booking_id = %s", (victim,))  # not in the history
        w.final_reads(world, alloc, history)
    report = h.check(history.ops)
    assert [a.kind for a in report.anomalies] == ["lost-write"], "\n".join(h.summary(report))
    first, read = report.anomalies[0].witness
    assert first is acked and read.kind == "read" and read.booking_id == victim and not read.rows
