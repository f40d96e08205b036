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

from tablemend.db import Connection

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
