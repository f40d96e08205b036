"""The pre-migration gate agrees with PostgreSQL: for every constraint, gate says "creatable" exactly when
``ALTER TABLE … ADD CONSTRAINT`` (run in a rolled-back transaction) succeeds, and the blocking groups / pairs it names
are exactly the duplicate groups / overlapping pairs a brute-force query finds."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

import pytest
from psycopg import sql

from tablemend import db, sandbox
from tablemend.doctor import gate as gate_mod
from tablemend.doctor.gate import Constraint, Verdict
from tablemend.errors import TablemendError
from tests.integration import tmdata

_ORIGIN_CONSTRAINTS = (
    ("booking_table_assignments", "booking_table_assignments_booking_table_key"),
    ("booking_table_assignments", "booking_table_assignments_table_id_slot_id_key"),
    ("booking_table_assignments", "no_overlapping_table_assignments"),
    ("allocations", "allocations_no_overlap"),
)
_DAY = dt.datetime(2031, 3, 1, tzinfo=dt.UTC)


def _at(hour: float) -> dt.datetime:
    return _DAY + dt.timedelta(hours=hour)


def _alter_outcome(conn: db.Connection, c: Constraint) -> str | None:
    """None when the DDL succeeds, else the SQLSTATE it fails with; always rolled back."""
    try:
        with db.translated(), conn.transaction(force_rollback=True):
            conn.execute(c.ddl())
    except TablemendError as exc:
        return exc.sqlstate or "?"
    return None


def _drop_constraints(conn: db.Connection) -> None:
    """The pre-migration state: the table exists, the constraints do not (yet)."""
    with db.translated():
        for table, name in _ORIGIN_CONSTRAINTS:
            conn.execute(sql.SQL("ALTER TABLE public.{} DROP CONSTRAINT {}").format(sql.Identifier(table),
                                                                                    sql.Identifier(name)))
        # not gated, but it would keep the tests from writing several allocations of one booking and resource
        conn.execute("ALTER TABLE public.allocations DROP CONSTRAINT allocations_booking_resource_key")


def _verdicts(conn: db.Connection) -> dict[str, Verdict]:
    return {v.constraint.key: v for v in gate_mod.gate(conn, limit=10_000).verdicts}


def _groups(v: Verdict) -> set[frozenset[uuid.UUID]]:
    return {frozenset(r["row_id"] for r in b.rows) for b in v.blockers}


# --- brute-force oracles: the constraint's semantics stated the slow, obvious way -----------------------------------

_ORACLE: dict[str, str] = {
    "bta_booking_table": """
        SELECT array_agg(id) AS ids FROM public.booking_table_assignments
        WHERE booking_id IS NOT NULL AND table_id IS NOT NULL GROUP BY booking_id, table_id HAVING count(*) > 1""",
    "bta_table_slot": """
        SELECT array_agg(id) AS ids FROM public.booking_table_assignments
        WHERE table_id IS NOT NULL AND slot_id IS NOT NULL GROUP BY table_id, slot_id HAVING count(*) > 1""",
    "bta_no_overlap": """
        SELECT ARRAY[x.id, y.id] AS ids
        FROM public.booking_table_assignments x JOIN public.booking_table_assignments y
          ON x.id < y.id AND x.table_id = y.table_id
        WHERE x.start_at IS NOT NULL AND x.end_at IS NOT NULL AND y.start_at IS NOT NULL AND y.end_at IS NOT NULL
          AND tstzrange(x.start_at, x.end_at) && tstzrange(y.start_at, y.end_at)""",
    "allocations_no_overlap": """
        SELECT ARRAY[x.id, y.id] AS ids
        FROM public.allocations x JOIN public.allocations y
          ON x.id < y.id AND x.restaurant_id = y.restaurant_id AND x.resource_type = y.resource_type
         AND x.resource_id = y.resource_id
        WHERE (NOT x.shadow) AND (NOT y.shadow) AND x."window" && y."window\"""",
}


def _oracle(conn: db.Connection, key: str) -> set[frozenset[uuid.UUID]]:
    rows = conn.execute(_ORACLE[key]).fetchall()
    return {frozenset(r["ids"]) for r in rows}


def _assert_agrees(conn: db.Connection, verdicts: dict[str, Verdict]) -> dict[str, str | None]:
    outcomes: dict[str, str | None] = {}
    for key, v in verdicts.items():
        outcome = _alter_outcome(conn, v.constraint)
        outcomes[key] = outcome
        assert v.creatable == (outcome is None), (key, v.groups, outcome)
        assert _groups(v) == _oracle(conn, key), key
        assert v.groups == len(v.blockers)
    return outcomes


# --- a floor to write rows against ------------------------------------------------------------------------------


def _ids(conn: db.Connection, query: str) -> list[uuid.UUID]:
    return [next(iter(r.values())) for r in conn.execute(query).fetchall()]


def _floor(conn: db.Connection) -> dict[str, list[uuid.UUID]]:
    sandbox.seed_state(conn, "D1")
    sandbox.seed_state(conn, "D1")  # a second restaurant: equal resource ids in two restaurants never conflict
    return {
        "restaurants": _ids(conn, "SELECT id FROM public.restaurants ORDER BY id"),
        "bookings": _ids(conn, "SELECT id FROM public.bookings ORDER BY id")[:5],
        "tables": _ids(conn, "SELECT id FROM public.table_inventory ORDER BY id")[:3],
        "slots": _ids(conn, "SELECT id FROM public.booking_slots ORDER BY id")[:2],
    }


def _clear(conn: db.Connection) -> None:
    conn.execute("DELETE FROM public.booking_table_assignments")
    conn.execute("DELETE FROM public.allocations")


def _bta(conn: db.Connection, booking: uuid.UUID, table: uuid.UUID, slot: uuid.UUID | None,
         start: dt.datetime | None, end: dt.datetime | None) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO public.booking_table_assignments (booking_id, table_id, slot_id, start_at, end_at)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id", (booking, table, slot, start, end)).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def _allocation(conn: db.Connection, restaurant: uuid.UUID, booking: uuid.UUID | None, kind: str,
                resource: uuid.UUID, window: str, shadow: bool) -> uuid.UUID:
    row = conn.execute(
        'INSERT INTO public.allocations (restaurant_id, booking_id, resource_type, resource_id, "window", shadow)'
        " VALUES (%s, %s, %s, %s, %s::tstzrange, %s) RETURNING id",
        (restaurant, booking, kind, resource, window, shadow)).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


# --- tests --------------------------------------------------------------------------------------------------------


def test_seeded_origin_states_keep_every_constraint_creatable(origin_conn: db.Connection) -> None:
    for state in ("D1", "D1a", "D1b", "overlap-other-slot", "leftover-allocation", "orphan-merge-groups"):
        sandbox.seed_state(origin_conn, state)
    result = gate_mod.gate(origin_conn)
    assert result.profile == "origin" and result.creatable
    assert {v.constraint.key: (v.applicable, v.present, v.creatable) for v in result.verdicts} == {
        c.key: (True, True, True) for c in gate_mod.CONSTRAINTS}
    for v in result.verdicts:  # a second copy under another name is creatable too
        assert _alter_outcome(origin_conn, v.constraint) is None


def test_gate_names_the_blockers_and_agrees_with_alter_table(origin_conn: db.Connection) -> None:
    ids = _floor(origin_conn)
    _drop_constraints(origin_conn)
    _clear(origin_conn)
    b1, b2, b3 = ids["bookings"][:3]
    t1, t2, _ = ids["tables"]
    s1, s2 = ids["slots"]
    r1, r2 = ids["restaurants"][:2]
    # uniques: (b1, t1) twice; (t2, s1) twice; NULL slots never collide
    dup_a = _bta(origin_conn, b1, t1, s2, _at(18), _at(19))
    dup_b = _bta(origin_conn, b1, t1, None, None, None)
    slot_a = _bta(origin_conn, b2, t2, s1, _at(12), _at(13))
    slot_b = _bta(origin_conn, b3, t2, s1, _at(13), _at(14))  # back to back: [12,13) and [13,14) do not overlap
    _bta(origin_conn, b2, t1, None, _at(20), _at(20))  # empty window: overlaps nothing
    _bta(origin_conn, b3, t1, None, _at(18.5), None)  # half a window: outside the exclusion's WHERE
    over = _bta(origin_conn, b2, ids["tables"][2], None, _at(19), _at(21))
    over2 = _bta(origin_conn, b3, ids["tables"][2], None, _at(20), _at(22))
    # allocations: only non-shadow rows of the same restaurant, type and resource conflict; '[]' touching counts
    res = uuid.uuid4()
    a1 = _allocation(origin_conn, r1, b1, "table", res, f"[{_at(19)},{_at(21)}]", False)
    a2 = _allocation(origin_conn, r1, b2, "table", res, f"[{_at(21)},{_at(23)})", False)
    _allocation(origin_conn, r1, b3, "table", res, f"[{_at(19)},{_at(23)})", True)  # shadow
    _allocation(origin_conn, r2, b3, "table", res, f"[{_at(19)},{_at(23)})", False)  # other restaurant
    _allocation(origin_conn, r1, b3, "merge_group", res, f"[{_at(19)},{_at(23)})", False)  # other type
    _allocation(origin_conn, r1, None, "table", res, "empty", False)
    verdicts = _verdicts(origin_conn)
    outcomes = _assert_agrees(origin_conn, verdicts)
    assert outcomes == {"bta_booking_table": "23505", "bta_table_slot": "23505", "bta_no_overlap": "23P01",
                        "allocations_no_overlap": "23P01"}
    assert _groups(verdicts["bta_booking_table"]) == {frozenset({dup_a, dup_b})}
    assert _groups(verdicts["bta_table_slot"]) == {frozenset({slot_a, slot_b})}
    assert _groups(verdicts["bta_no_overlap"]) == {frozenset({over, over2})}
    assert _groups(verdicts["allocations_no_overlap"]) == {frozenset({a1, a2})}
    row = verdicts["bta_table_slot"].blockers[0].rows[0]
    assert {"row_id", "booking_id", "table_id", "slot_id", "status", "window", "reason"} <= row.keys()
    assert row["status"] is not None and row["slot_id"] == s1

    # clearing the named rows makes every constraint creatable, and gate says so
    for rid in (dup_b, slot_b, over2):
        origin_conn.execute("DELETE FROM public.booking_table_assignments WHERE id = %s", (rid,))
    origin_conn.execute("DELETE FROM public.allocations WHERE id = %s", (a2,))
    after = _verdicts(origin_conn)
    assert all(v.creatable for v in after.values())
    assert set(_assert_agrees(origin_conn, after).values()) == {None}


def test_an_unindexable_window_blocks_the_exclusion(origin_conn: db.Connection) -> None:
    ids = _floor(origin_conn)
    _drop_constraints(origin_conn)
    # without the generated column (an older schema) a row can have start_at > end_at: tstzrange() raises on it
    origin_conn.execute("ALTER TABLE public.booking_table_assignments DROP COLUMN assignment_window CASCADE")
    _clear(origin_conn)
    bad = _bta(origin_conn, ids["bookings"][0], ids["tables"][0], None, _at(21), _at(19))
    v = _verdicts(origin_conn)["bta_no_overlap"]
    assert v.creatable is False and _groups(v) == {frozenset({bad})}
    assert "invalid window" in v.blockers[0].rows[0]["reason"]
    assert _alter_outcome(origin_conn, v.constraint) == "22000"


def _random_window(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return "empty"
    lo = rng.choice([None, *range(17, 23)])
    hi = None if rng.random() < 0.1 else (lo or 17) + rng.choice([0, 1, 2, 3])
    bounds = rng.choice(["[)", "[]", "(]", "()"])
    if lo is not None and hi is not None and lo == hi and bounds != "[]":
        bounds = "[]"
    lo_text = "" if lo is None else str(_at(lo))
    hi_text = "" if hi is None else str(_at(hi))
    return f"{bounds[0]}{lo_text},{hi_text}{bounds[1]}"


@pytest.mark.parametrize("seed", range(6))
def test_random_data_gate_equals_alter_table(origin_conn: db.Connection, seed: int) -> None:
    rng = random.Random(seed)
    ids = _floor(origin_conn)
    _drop_constraints(origin_conn)
    resources = [uuid.uuid4(), uuid.uuid4()]
    for _ in range(4):
        _clear(origin_conn)
        for _ in range(rng.randint(0, 14)):
            start: dt.datetime | None = None
            end: dt.datetime | None = None
            shape = rng.random()
            if shape < 0.7:
                h = rng.randint(17, 22) + rng.choice([0, 0.5])
                start, end = _at(h), _at(h + rng.choice([0, 0.5, 1, 2]))
            elif shape < 0.85:
                start = _at(rng.randint(17, 22))
            _bta(origin_conn, rng.choice(ids["bookings"]), rng.choice(ids["tables"]),
                 rng.choice([None, *ids["slots"]]), start, end)
        for _ in range(rng.randint(0, 10)):
            _allocation(origin_conn, rng.choice(ids["restaurants"]), rng.choice([None, *ids["bookings"]]),
                        rng.choice(["table", "merge_group"]), rng.choice(resources), _random_window(rng),
                        rng.random() < 0.3)
        verdicts = _verdicts(origin_conn)
        _assert_agrees(origin_conn, verdicts)
        _assert_rows_as_stored(origin_conn, verdicts)


def _assert_rows_as_stored(conn: db.Connection, verdicts: dict[str, Verdict]) -> None:
    """Every blocker row shows the row's own slot id (issue 12: the JSON said null for rows whose slot was set)."""
    slots = {r["id"]: r["slot_id"] for r in conn.execute("SELECT id, slot_id FROM public.booking_table_assignments")}
    for v in verdicts.values():
        if v.constraint.relation != "public.booking_table_assignments":
            continue
        for b in v.blockers:
            for row in b.rows:
                assert row["slot_id"] == slots[row["row_id"]], (v.constraint.key, row)


def test_tablemend_profile_finds_nothing(tm_conn: db.Connection) -> None:
    floor = tmdata.floor(tm_conn, tables=3)
    for hour in (12, 14, 16):
        booking = tmdata.booking(tm_conn, floor.restaurant_id, tmdata.at(hour))
        tmdata.assign(tm_conn, booking, floor.tables[:2])
    result = gate_mod.gate(tm_conn)
    assert result.profile == "tablemend" and result.creatable
    by_key: dict[str, Any] = {v.constraint.key: v for v in result.verdicts}
    assert by_key["bta_booking_table"].creatable and by_key["bta_no_overlap"].creatable
    assert by_key["bta_table_slot"].applicable is False and "slot_id" in by_key["bta_table_slot"].note
    assert by_key["allocations_no_overlap"].applicable is False  # a view in tablemend's schema
    for key in ("bta_booking_table", "bta_no_overlap"):
        assert _alter_outcome(tm_conn, by_key[key].constraint) is None


def test_limit_keeps_the_count(origin_conn: db.Connection) -> None:
    ids = _floor(origin_conn)
    _drop_constraints(origin_conn)
    _clear(origin_conn)
    for table in ids["tables"]:
        for _ in range(2):
            _bta(origin_conn, ids["bookings"][0], table, None, None, None)
    v = gate_mod.gate(origin_conn, keys=["bta_booking_table"], limit=1).verdicts[0]
    assert v.groups == 3 and len(v.blockers) == 1 and len(v.blockers[0].rows) == 2
