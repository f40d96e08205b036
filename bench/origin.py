"""The origin column of ``bench.allocator``: the origin sandbox's ``assign_tables_atomic_v2`` (spec/origin-system.md
§2-§3a, built by :func:`tablemend.sandbox.build_origin`) on the same floors as tablemend's sample, in its own database
on the same server.

:func:`build` loads the sample's restaurants, zones, tables and adjacencies into an origin schema (same ids, so the
same table groups). :func:`plan_cell` inserts one fresh ``pending`` booking per operation the way the origin's API
writes it (date + local times, with its slot row), one evening per day. :func:`assign_ops` calls the function as the
origin's repository does (all 7 named arguments, a key per request, adjacency required for several tables), one
transaction per call. Nothing here changes the origin's behaviour: its deadlocks (§3a) and refusals are counted, not
avoided.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, LiteralString

from psycopg_pool import ConnectionPool

from bench.clients import ClientRun, Group, Planned, contended_work, groups_from_rows, run_clients, split
from tablemend import db, sample, sandbox, sqlfiles

_SQL = Path(__file__).with_name("origin.sql")
_CAPACITIES = (2, 4, 6, 8)  # every capacity the sample's tables have (table_inventory's FK to allowed_capacities)
_AREA = {"Main room": "indoor", "Terrace": "outdoor", "Bar": "indoor", "Garden": "outdoor", "Mezzanine": "covered"}
_SEATING = (dt.time(19), dt.time(21))


def query(name: str) -> LiteralString:
    return sqlfiles.split_named(_SQL.read_text(encoding="utf-8"))[name]


def build(conn: db.Connection, plan: sample.SamplePlan) -> None:
    """The origin's schema and functions (unless present), then the plan's floors (not its bookings)."""
    if not sandbox.origin_features(conn).installed:
        sandbox.build_origin(conn)
    rows: dict[str, list[dict[str, Any]]] = {"insert_restaurant": [], "insert_capacity": [], "insert_zone": [],
                                             "insert_table": [], "insert_adjacency": []}
    for r in plan.restaurants:
        rows["insert_restaurant"].append({"id": r.id, "name": r.name, "slug": r.name.lower().replace(" ", "-"),
                                          "timezone": r.timezone})
        rows["insert_capacity"] += [{"restaurant_id": r.id, "capacity": c} for c in _CAPACITIES]
        for order, z in enumerate(r.zones):
            rows["insert_zone"].append({"restaurant_id": r.id, "id": z.id, "name": z.name, "sort_order": order,
                                        "area_type": _AREA.get(z.name, "indoor")})
            rows["insert_table"] += [{"restaurant_id": r.id, "id": t.id, "number": t.number, "capacity": t.capacity,
                                      "zone_id": z.id, "mobility": t.mobility, "section": z.name} for t in z.tables]
        rows["insert_adjacency"] += [{"table_a": a, "table_b": b} for a, b in r.adjacencies]
    with db.translated(), conn.transaction(), conn.cursor() as cur:
        for name, batch in rows.items():
            cur.executemany(query(name), batch)


def find_groups(conn: db.Connection, restaurant_ids: Sequence[uuid.UUID], size: int, *, movable: bool = False
                ) -> list[Group]:
    with db.translated():
        rows = conn.execute(query("groups"), {"ids": list(restaurant_ids)}).fetchall()
    return groups_from_rows(rows, size, movable=movable)


def _insert_bookings(conn: db.Connection, rows: list[dict[str, Any]]) -> None:
    with db.translated(), conn.transaction(), conn.cursor() as cur:
        cur.executemany(query("insert_slot"), rows)
        cur.executemany(query("insert_booking"), rows)


def plan_cell(conn: db.Connection, groups: Sequence[Group], clients: int, ops: int, first_day: dt.date
              ) -> list[list[Planned]]:
    """Per client, ``ops // clients`` fresh bookings on that client's own groups, one 19:00-21:00 seating per group
    and day (so no two share a table's slot); inserted with their slots. ``start_at`` / ``end_at`` of the result are
    the local times on a UTC date, for reference only: the call passes no window, as the origin's callers do."""
    plans: list[list[Planned]] = []
    rows: list[dict[str, Any]] = []
    for mine in split(groups, clients):
        planned: list[Planned] = []
        for i in range(ops // clients):
            group = mine[i % len(mine)]
            day = first_day + dt.timedelta(days=i // len(mine))
            bid = uuid.uuid4()
            start, end = (dt.datetime.combine(day, t, dt.UTC) for t in _SEATING)
            planned.append(Planned(bid, group.table_ids, start, end))
            rows.append({"restaurant_id": group.restaurant_id, "id": bid, "booking_date": day,
                         "start_time": _SEATING[0], "end_time": _SEATING[1], "party_size": min(2, group.seats),
                         "reference": f"B{bid.hex[:10].upper()}"})
        plans.append(planned)
    _insert_bookings(conn, rows)
    return plans


def open_pool(dsn: str, size: int) -> ConnectionPool[Any]:
    """Connections like tablemend's pool (autocommit, no prepared statements, dict rows): one call, one transaction."""
    pool: ConnectionPool[Any] = ConnectionPool(dsn, min_size=size, max_size=size, open=False, name="bench-origin",
                                               kwargs={"autocommit": True, **db.connect_kwargs()},
                                               configure=db.configure)
    with db.translated():
        pool.open(wait=True, timeout=30)
    return pool


def call(pool: ConnectionPool[Any], booking: uuid.UUID, tables: Sequence[uuid.UUID], key: str | None) -> int:
    """One ``assign_tables_atomic_v2`` call with all 7 named arguments, as the origin's repository makes it."""
    with db.translated(), pool.connection() as conn:
        rows = conn.execute(sqlfiles.query("call_v2", "origin/sandbox.sql"), {
            "p_booking_id": booking, "p_table_ids": list(tables), "p_idempotency_key": key,
            "p_require_adjacency": len(tables) > 1, "p_assigned_by": None, "p_start_at": None, "p_end_at": None,
        }).fetchall()
    return len(rows)


def unassign(pool: ConnectionPool[Any], booking: uuid.UUID) -> int:
    with db.translated(), pool.connection() as conn:
        return len(conn.execute(query("unassign"), {"booking_id": booking}).fetchall())


def assign_ops(pool: ConnectionPool[Any], plans: list[list[Planned]]) -> list[list[Callable[[], object]]]:
    def op(p: Planned) -> Callable[[], object]:
        return lambda: call(pool, p.booking_id, p.table_ids, f"bench-{p.booking_id}")

    return [[op(p) for p in planned] for planned in plans]


def contended(pool: ConnectionPool[Any], conn: db.Connection, restaurant_id: uuid.UUID, clients: int, ops: int,
              seed: int, first_day: dt.date) -> ClientRun:
    """The same contended workload as tablemend's: ``clients`` clients on 8 movable tables of one restaurant, random
    assign (1-3 adjacent tables, the origin caller's key per request) and unassign on 40 bookings of one evening."""
    zone_tables = [g.table_ids[0] for g in find_groups(conn, [restaurant_id], 1, movable=True)][:8]
    rows: list[dict[str, Any]] = []
    for i in range(40):
        start = dt.datetime.combine(first_day, dt.time(17)) + dt.timedelta(minutes=15 * (i % 12))
        bid = uuid.uuid4()
        rows.append({"restaurant_id": restaurant_id, "id": bid, "booking_date": first_day,
                     "start_time": start.time(), "end_time": (start + dt.timedelta(hours=2)).time(),
                     "party_size": 2, "reference": f"C{bid.hex[:10].upper()}"})
    _insert_bookings(conn, rows)
    bookings = [r["id"] for r in rows]
    # no key, as tablemend's contended calls
    return run_clients(contended_work(bookings, zone_tables, clients=clients, ops=ops, seed=seed,
                                      assign=lambda booking, tables: call(pool, booking, tables, None),
                                      unassign=lambda booking: unassign(pool, booking)))


def deadlocks(conn: db.Connection) -> int:
    with db.translated():
        row = conn.execute(query("deadlocks")).fetchone()
    return int(row["n"]) if row else 0
