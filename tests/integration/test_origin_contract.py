"""The origin sandbox's assign_tables_atomic_v2 against the contract of origin spec §2 (validation steps, holds,
capacity, ledger, unassign, confirm), on the sample restaurant."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tablemend import db, sandbox
from tablemend.errors import TablemendError
from tablemend.sandbox import SampleIds, StateCase


@pytest.fixture
def sample(origin_conn: db.Connection) -> Iterator[tuple[db.Connection, SampleIds]]:
    yield origin_conn, sandbox.seed_sample(origin_conn)


def _case(ids: SampleIds, booking: uuid.UUID, tables: list[uuid.UUID] | None, *, key: str | None = None,
          start_at: dt.datetime | None = None, end_at: dt.datetime | None = None,
          adjacency: bool = False) -> StateCase:
    return StateCase(code="sample", title="", restaurant_id=ids.restaurant_id, booking_id=booking,
                     table_ids=tuple(tables) if tables is not None else (), idempotency_key=key, start_at=start_at,
                     end_at=end_at, require_adjacency=adjacency, expected_sqlstate=None, expected_message=None,
                     expected_rows=None, blocking_booking_ids=())


def _fails(conn: db.Connection, case: StateCase, sqlstate: str) -> TablemendError:
    with pytest.raises(TablemendError) as info:
        sandbox.call_assign(conn, case)
    assert info.value.sqlstate == sqlstate, info.value.message
    return info.value


def _call_raw(conn: db.Connection, args: dict[str, Any]) -> list[dict[str, Any]]:
    return list(conn.execute(
        "SELECT * FROM assign_tables_atomic_v2(p_booking_id => %(p_booking_id)s, p_table_ids => %(p_table_ids)s,"
        " p_start_at => %(p_start_at)s, p_end_at => %(p_end_at)s)", args).fetchall())


def _one(conn: db.Connection, query: str, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return next(iter(row.values()))


def test_null_and_empty_table_lists(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    with pytest.raises(TablemendError) as info, db.translated():
        _call_raw(conn, {"p_booking_id": cara, "p_table_ids": None, "p_start_at": None, "p_end_at": None})
    assert (info.value.sqlstate, info.value.message) == (
        "23514", "assign_tables_atomic_v2 requires at least one table id")
    err = _fails(conn, _case(ids, cara, []), "23514")
    assert err.message == "assign_tables_atomic_v2 requires at least one valid table id"  # '{}' passes step 1


def test_missing_booking_and_missing_table(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    ghost = uuid.uuid4()
    assert _fails(conn, _case(ids, ghost, [ids.table_ids[0]]), "P0002").message == f"Booking {ghost} not found"
    cara = ids.booking_ids[2]
    err = _fails(conn, _case(ids, cara, [ids.table_ids[0], uuid.uuid4()]), "P0002")
    assert err.message == f"Unable to load all requested tables for booking {cara}"


def test_window_checks(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    t1 = ids.table_ids[0]
    now = dt.datetime.now(dt.UTC)
    err = _fails(conn, _case(ids, cara, [t1], start_at=now, end_at=None), "22023")
    assert err.message == "assign_tables_atomic_v2 requires both start and end when providing custom window"
    err = _fails(conn, _case(ids, cara, [t1], start_at=now, end_at=now), "22000")
    assert err.message == f"Booking {cara} has invalid time window"


def test_table_checks(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    t = ids.table_ids
    t5, t6, u1 = t[4], t[5], t[6]
    assert _fails(conn, _case(ids, cara, [t5, t6]), "23514").message == (
        f"Merged assignments require movable tables ({t6} is fixed)")
    assert _fails(conn, _case(ids, cara, [t[0], u1]), "23514").message.startswith(
        "All tables must belong to the same zone (found ")
    conn.execute("UPDATE table_inventory SET active = false WHERE id = %s", (t5,))
    assert _fails(conn, _case(ids, cara, [t5]), "23514").message == f"Table {t5} is inactive"
    other = sandbox.seed_state(conn, "orphan-merge-groups")
    foreign = other.table_ids[0]
    assert _fails(conn, _case(ids, cara, [foreign]), "23503").message == (
        f"Table {foreign} belongs to a different restaurant")


def test_adjacency_is_checked_only_when_asked(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    t1, t3 = ids.table_ids[0], ids.table_ids[4]  # T1 and T5: no edge between them
    first = min(t1, t3)
    err = _fails(conn, _case(ids, cara, [t1, t3], adjacency=True), "23514")
    assert err.message == f"Table {first} is not adjacent to the selected set"
    assert len(sandbox.call_assign(conn, _case(ids, cara, [t1, t3]))) == 2


def test_multi_table_assignment_writes_every_row(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    t1, t2 = ids.table_ids[0], ids.table_ids[1]
    rows = sandbox.call_assign(conn, _case(ids, cara, [t2, t1, t2], key="cara-1", adjacency=True))
    assert [r["table_id"] for r in rows] == sorted([t1, t2])  # de-duplicated, in id order
    merge = {r["merge_group_id"] for r in rows}
    assert len(merge) == 1 and None not in merge
    booking = conn.execute("SELECT start_at, end_at, assigned_zone_id FROM bookings WHERE id = %s", (cara,)).fetchone()
    assert booking is not None
    assert all((r["start_at"], r["end_at"]) == (booking["start_at"], booking["end_at"]) for r in rows)
    assert booking["assigned_zone_id"] == ids.zone_ids[0]
    bta = conn.execute(
        "SELECT b.slot_id, s.slot_time, b.allocation_id IS NOT NULL AS linked, b.idempotency_key"
        " FROM booking_table_assignments b JOIN booking_slots s ON s.id = b.slot_id WHERE b.booking_id = %s",
        (cara,)).fetchall()
    assert [(r["slot_time"], r["linked"], r["idempotency_key"]) for r in bta] == [(dt.time(20, 30), True, "cara-1")] * 2
    kinds = conn.execute("SELECT resource_type, count(*) AS n FROM allocations WHERE booking_id = %s AND NOT shadow"
                         " GROUP BY 1 ORDER BY 1", (cara,)).fetchall()
    assert [(r["resource_type"], r["n"]) for r in kinds] == [("merge_group", 1), ("table", 2)]
    ledger = conn.execute("SELECT table_ids, table_set_hash, merge_group_allocation_id FROM"
                          " booking_assignment_idempotency WHERE booking_id = %s", (cara,)).fetchone()
    assert ledger is not None
    assert ledger["table_ids"] == sorted([t1, t2])
    assert ledger["table_set_hash"] == _one(conn, "SELECT md5(%s)", (f"{min(t1, t2)},{max(t1, t2)}",))
    assert ledger["merge_group_allocation_id"] in merge
    audit = _one(conn, "SELECT count(*) FROM audit_logs WHERE metadata->>'booking_id' = %s", (str(cara),))
    assert audit == 2


def test_ledger_replay_and_mismatch(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    t1, t2, t5 = ids.table_ids[0], ids.table_ids[1], ids.table_ids[4]
    first = sandbox.call_assign(conn, _case(ids, cara, [t1, t2], key="k"))
    again = sandbox.call_assign(conn, _case(ids, cara, [t2, t1], key="k"))
    assert again == first
    assert _one(conn, "SELECT count(*) FROM allocations WHERE booking_id = %s AND resource_type = 'merge_group'",
                (cara,)) == 1  # the replay wrote nothing
    err = _fails(conn, _case(ids, cara, [t1, t5], key="k"), "P0003")
    assert err.message == f"assign_tables_atomic_v2 idempotency mismatch for booking {cara}"
    assert err.details == "Idempotency key reuse detected with a different table set"


def test_hold_of_another_booking_blocks_with_detail_and_hint(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    t2 = ids.table_ids[1]
    start = _one(conn, "SELECT start_at FROM bookings WHERE id = %s", (cara,))
    hold = _one(conn, "INSERT INTO table_holds (restaurant_id, zone_id, start_at, end_at, expires_at)"
                      " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (ids.restaurant_id, ids.zone_ids[0], start, start + dt.timedelta(hours=1),
                 start + dt.timedelta(hours=2)))
    conn.execute("INSERT INTO table_hold_members (hold_id, table_id) VALUES (%s, %s)", (hold, t2))
    shadow = _one(conn, "SELECT count(*) FROM allocations WHERE resource_id = %s AND shadow", (t2,))
    assert shadow == 1  # the member trigger mirrored it
    # the real function's DETAIL is format('Hold % overlaps …'), which format() rejects: the caller gets 22023, never
    # the documented P0001 "Hold conflict prevents assignment" (spec §2 step 11)
    err = _fails(conn, _case(ids, cara, [t2]), "22023")
    assert err.message == 'unrecognized format() type specifier " "'
    assert err.hint == 'For a single "%" use "%%".'
    # The booking's own hold is ignored, and confirming it turns the shadow allocation into a real one.
    conn.execute("UPDATE table_holds SET booking_id = %s WHERE id = %s", (cara, hold))
    rows = list(conn.execute("SELECT * FROM confirm_hold_assignment_tx(%s, %s, 'confirm-1')", (hold, cara)))
    assert [r["table_id"] for r in rows] == [t2]
    assert _one(conn, "SELECT count(*) FROM allocations WHERE resource_id = %s AND shadow", (t2,)) == 0
    assert _one(conn, "SELECT count(*) FROM table_holds WHERE id = %s", (hold,)) == 0
    assert _one(conn, "SELECT count(*) FROM booking_confirmation_results WHERE booking_id = %s", (cara,)) == 1


def test_confirm_raises_p0003_on_an_empty_replay(origin_conn: db.Connection) -> None:
    case = sandbox.seed_state(origin_conn, "ledger-replay-empty")
    zone = _one(origin_conn, "SELECT zone_id FROM table_inventory WHERE id = %s", (case.table_ids[0],))
    window = origin_conn.execute("SELECT start_at, end_at FROM bookings WHERE id = %s", (case.booking_id,)).fetchone()
    assert window is not None
    hold = _one(origin_conn, "INSERT INTO table_holds (restaurant_id, booking_id, zone_id, start_at, end_at,"
                             " expires_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (case.restaurant_id, case.booking_id, zone, window["start_at"], window["end_at"], window["end_at"]))
    origin_conn.execute("INSERT INTO table_hold_members (hold_id, table_id) VALUES (%s, %s)",
                        (hold, case.table_ids[0]))
    with pytest.raises(TablemendError) as info, db.translated():
        origin_conn.execute("SELECT * FROM confirm_hold_assignment_tx(%s, %s, %s)",
                            (hold, case.booking_id, case.idempotency_key))
    assert (info.value.sqlstate, info.value.message) == (
        "P0003", f"assign_tables_atomic_v2 returned no assignments for booking {case.booking_id}")


def test_capacity_check_rolls_back_the_whole_call(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    t1, t2 = ids.table_ids[0], ids.table_ids[1]
    conn.execute("INSERT INTO restaurant_capacity_rules (restaurant_id, max_parties) VALUES (%s, 2)",
                 (ids.restaurant_id,))
    err = _fails(conn, _case(ids, cara, [t1, t2], key="cap"), "P0001")
    assert err.message == "capacity_exceeded_post_assignment"
    assert err.details == "Capacity exceeded after assignment: covers 12/999999, parties 3/2"
    assert err.hint == "Release tables or adjust capacity overrides before retrying."
    # Nothing of the call survives: no rows, no allocations, no ledger, no zone lock.
    left = conn.execute(
        "SELECT (SELECT count(*) FROM booking_table_assignments WHERE booking_id = %(b)s)"
        " + (SELECT count(*) FROM allocations WHERE booking_id = %(b)s)"
        " + (SELECT count(*) FROM booking_assignment_idempotency WHERE booking_id = %(b)s) AS n,"
        " (SELECT assigned_zone_id FROM bookings WHERE id = %(b)s) AS zone", {"b": cara}).fetchone()
    assert left == {"n": 0, "zone": None}
    conn.execute("SET app.capacity.post_assignment.enabled = 'off'")
    assert len(sandbox.call_assign(conn, _case(ids, cara, [t1, t2], key="cap"))) == 2


def test_unknown_assigned_by_escapes_as_raw_foreign_key_error(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    with pytest.raises(TablemendError) as info, db.translated():
        conn.execute("SELECT * FROM assign_tables_atomic_v2(%s, %s, NULL, false, %s)",
                     (ids.booking_ids[2], [ids.table_ids[0]], uuid.uuid4()))
    assert info.value.sqlstate == "23503"


def test_unassign_touches_only_rows_and_table_allocations(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    t1, t2 = ids.table_ids[0], ids.table_ids[1]
    sandbox.call_assign(conn, _case(ids, cara, [t1, t2], key="u"))
    removed = [r["table_id"] for r in conn.execute("SELECT * FROM unassign_tables_atomic(%s)", (cara,))]
    assert sorted(removed) == sorted([t1, t2])
    state = conn.execute(
        "SELECT (SELECT count(*) FROM booking_table_assignments WHERE booking_id = %(b)s) AS bta,"
        " (SELECT count(*) FROM allocations WHERE booking_id = %(b)s AND resource_type = 'table') AS tables,"
        " (SELECT count(*) FROM allocations WHERE booking_id = %(b)s AND resource_type = 'merge_group') AS merges,"
        " (SELECT count(*) FROM booking_assignment_idempotency WHERE booking_id = %(b)s) AS ledger,"
        " (SELECT assigned_zone_id IS NOT NULL FROM bookings WHERE id = %(b)s) AS zone_locked", {"b": cara}).fetchone()
    assert state == {"bta": 0, "tables": 0, "merges": 1, "ledger": 1, "zone_locked": True}
    assert list(conn.execute("SELECT * FROM unassign_tables_atomic(%s)", (cara,))) == []


def test_prune_moves_past_allocations_and_keeps_rows(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    alice = ids.booking_ids[0]
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    moved = _one(conn, "SELECT prune_allocations_history(%s)", (far,))
    assert moved >= 3
    row = conn.execute("SELECT allocation_id FROM booking_table_assignments WHERE booking_id = %s", (alice,)).fetchone()
    assert row == {"allocation_id": None}
    assert _one(conn, "SELECT count(*) FROM allocations_archive WHERE booking_id = %s", (alice,)) == 1


def test_confirming_a_booking_without_assignments_is_refused(sample: tuple[db.Connection, SampleIds]) -> None:
    conn, ids = sample
    cara = ids.booking_ids[2]
    with pytest.raises(TablemendError, match="No table assignments exist"), db.translated():
        conn.execute("UPDATE bookings SET status = 'confirmed' WHERE id = %s", (cara,))


def test_foreign_key_actions_are_the_origins(origin_conn: db.Connection) -> None:
    """Spec item 10: what a delete does to the rows that point at it."""
    rows = origin_conn.execute(
        "SELECT c.conrelid::regclass::text AS tbl, a.attname AS col, c.confdeltype AS on_delete"
        " FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
        " WHERE c.contype = 'f' AND cardinality(c.conkey) = 1").fetchall()
    actions = {(r["tbl"], r["col"]): r["on_delete"] for r in rows}
    expected = {
        ("booking_table_assignments", "booking_id"): "c",
        ("booking_table_assignments", "table_id"): "r",
        ("booking_table_assignments", "slot_id"): "n",
        ("booking_table_assignments", "merge_group_id"): "n",
        ("booking_table_assignments", "allocation_id"): "n",
        ("booking_table_assignments", "assigned_by"): "n",
        ("allocations", "booking_id"): "c",
        ("booking_assignment_idempotency", "booking_id"): "c",
        ("booking_assignment_idempotency", "merge_group_allocation_id"): "n",
        ("table_hold_members", "hold_id"): "c",
        ("table_hold_members", "table_id"): "r",
        ("table_holds", "booking_id"): "n",
        ("table_inventory", "zone_id"): "r",
        ("bookings", "assigned_zone_id"): "n",
    }
    assert {k: actions.get(k) for k in expected} == expected
