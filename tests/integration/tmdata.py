"""Tiny builders for rows of tablemend's own schema (restaurants, zones, tables, adjacency, bookings, holds).

Every builder takes an open connection (autocommit or inside the caller's transaction) and returns the new id. Times
default to a fixed future day so windows are predictable: ``at(19)`` is 2030-06-01 19:00 UTC.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tablemend.db import Connection, translated

DAY = datetime(2030, 6, 1, tzinfo=UTC)


def at(hour: float, day: int = 0) -> datetime:
    """A fixed instant: ``DAY`` + ``day`` days + ``hour`` hours (UTC)."""
    return DAY + timedelta(days=day, hours=hour)


def _one(conn: Connection, query: Any, params: Any) -> uuid.UUID:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    value = next(iter(row.values()))
    assert isinstance(value, uuid.UUID)
    return value


def restaurant(conn: Connection, *, name: str = "Trattoria", timezone: str = "UTC") -> uuid.UUID:
    return _one(conn, "INSERT INTO restaurants (name, timezone) VALUES (%s, %s) RETURNING id", (name, timezone))


def zone(conn: Connection, restaurant_id: uuid.UUID, name: str = "Main") -> uuid.UUID:
    return _one(conn, "INSERT INTO zones (restaurant_id, name) VALUES (%s, %s) RETURNING id", (restaurant_id, name))


def table(
    conn: Connection,
    restaurant_id: uuid.UUID,
    zone_id: uuid.UUID,
    number: str,
    *,
    capacity: int = 4,
    mobility: str = "movable",
    active: bool = True,
    status: str = "available",
) -> uuid.UUID:
    return _one(
        conn,
        "INSERT INTO table_inventory (restaurant_id, zone_id, table_number, capacity, mobility, active, status)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (restaurant_id, zone_id, number, capacity, mobility, active, status),
    )


def adjacency(conn: Connection, restaurant_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID) -> None:
    conn.execute(
        "INSERT INTO table_adjacencies (restaurant_id, table_a, table_b) VALUES (%s, %s, %s)", (restaurant_id, a, b)
    )


def booking(
    conn: Connection,
    restaurant_id: uuid.UUID,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    *,
    party_size: int = 2,
    status: str = "confirmed",
) -> uuid.UUID:
    start = start_at or at(19)
    end = end_at or start + timedelta(hours=2)
    return _one(
        conn,
        "INSERT INTO bookings (restaurant_id, start_at, end_at, party_size, status)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (restaurant_id, start, end, party_size, status),
    )


@dataclass(frozen=True)
class Floor:
    """One restaurant with one zone and numbered tables T1..Tn, sorted by id (the allocator's lock order)."""

    restaurant_id: uuid.UUID
    zone_id: uuid.UUID
    tables: list[uuid.UUID] = field(default_factory=list)
    by_number: dict[str, uuid.UUID] = field(default_factory=dict)


def floor(
    conn: Connection,
    *,
    tables: int = 4,
    capacity: int = 4,
    chain: bool = True,
    name: str = "Trattoria",
    timezone: str = "UTC",
) -> Floor:
    """A restaurant, a zone and ``tables`` movable tables; ``chain`` links T1-T2-...-Tn as adjacent."""
    rid = restaurant(conn, name=name, timezone=timezone)
    zid = zone(conn, rid)
    numbered = {f"T{i}": table(conn, rid, zid, f"T{i}", capacity=capacity) for i in range(1, tables + 1)}
    if chain:
        ids = list(numbered.values())
        for a, b in itertools.pairwise(ids):
            adjacency(conn, rid, a, b)
    return Floor(rid, zid, sorted(numbered.values()), numbered)


def assignments(conn: Connection, booking_id: uuid.UUID) -> list[dict[str, Any]]:
    """The booking's live assignment rows, ordered by table id."""
    return list(
        conn.execute(
            "SELECT table_id, start_at, end_at, merge_group_id, idempotency_key, zone_id"
            " FROM booking_table_assignments WHERE booking_id = %s ORDER BY table_id",
            (booking_id,),
        ).fetchall()
    )


def count(conn: Connection, relation: str, booking_id: uuid.UUID | None = None) -> int:
    """Rows of one of the allocator's relations (optionally of one booking); ``relation`` is a fixed name."""
    allowed = {
        "booking_table_assignments",
        "booking_table_assignments_archive",
        "booking_assignment_idempotency",
        "allocations",
        "table_holds",
        "table_hold_members",
        "observability_events",
    }
    if relation not in allowed:
        raise ValueError(relation)
    from psycopg import sql

    query = sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(relation))
    if booking_id is not None:
        query = sql.SQL("{} WHERE booking_id = %s").format(query)
        row = conn.execute(query, (booking_id,)).fetchone()
    else:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row["n"])


# --- calls to the allocator's SQL functions, through the one translation boundary -------------------------------------


def _rows(conn: Connection, query: Any, params: Any) -> list[dict[str, Any]]:
    with translated():
        return list(conn.execute(query, params).fetchall())


def assign(
    conn: Connection,
    booking_id: uuid.UUID,
    table_ids: list[uuid.UUID] | None,
    *,
    key: str | None = None,
    adjacency: bool = False,
    assigned_by: uuid.UUID | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """``assign_tables_atomic_v2`` with all seven arguments; allocator errors arrive as tablemend classes."""
    return _rows(
        conn,
        "SELECT * FROM assign_tables_atomic_v2(%s, %s, %s, %s, %s, %s, %s)",
        (booking_id, table_ids, key, adjacency, assigned_by, start_at, end_at),
    )


def unassign(conn: Connection, booking_id: uuid.UUID, table_ids: list[uuid.UUID] | None = None) -> list[uuid.UUID]:
    rows = _rows(conn, "SELECT * FROM unassign_tables_atomic(%s, %s)", (booking_id, table_ids))
    return [r["table_id"] for r in rows]


def hold(
    conn: Connection,
    restaurant_id: uuid.UUID,
    table_ids: list[uuid.UUID],
    start_at: datetime,
    end_at: datetime,
    *,
    ttl: timedelta = timedelta(minutes=5),
    booking_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """``create_table_hold`` expiring ``ttl`` from now (server clock)."""
    rows = _rows(
        conn,
        "SELECT create_table_hold(%s, %s, %s, %s, now() + %s, %s) AS id",
        (restaurant_id, table_ids, start_at, end_at, ttl, booking_id),
    )
    value = rows[0]["id"]
    assert isinstance(value, uuid.UUID)
    return value


def confirm(
    conn: Connection, hold_id: uuid.UUID, booking_id: uuid.UUID | None = None, *, key: str | None = None
) -> list[dict[str, Any]]:
    return _rows(conn, "SELECT * FROM confirm_hold_assignment(%s, %s, %s)", (hold_id, booking_id, key))


def snapshot(conn: Connection) -> dict[str, Any]:
    """Everything the allocator may write, as comparable values (to prove a refused call changed nothing)."""
    queries = {
        "assignments": "SELECT restaurant_id, booking_id, table_id, start_at, end_at, merge_group_id, idempotency_key"
        " FROM booking_table_assignments ORDER BY 1, 2, 3",
        "archive": "SELECT id, release_reason FROM booking_table_assignments_archive ORDER BY 1",
        "ledger": "SELECT booking_id, idempotency_key FROM booking_assignment_idempotency ORDER BY 1, 2",
        "holds": "SELECT id, status, expires_at, booking_id FROM table_holds ORDER BY 1",
        "members": "SELECT hold_id, table_id FROM table_hold_members ORDER BY 1, 2",
        "bookings": "SELECT id, status, assigned_zone_id, start_at, end_at, updated_at FROM bookings ORDER BY 1",
        "tables": "SELECT id, status, updated_at FROM table_inventory ORDER BY 1",
        "events": "SELECT count(*) AS n FROM observability_events",
    }
    return {name: conn.execute(q).fetchall() for name, q in queries.items()}
