"""Deterministic sample data for demos and benchmarks: restaurants, zones, tables, adjacency, live bookings.

:func:`plan` is pure: the same ``seed``, restaurant count and ``day`` give the same rows (ids are uuid5 of the seed and
a name, everything else comes from one seeded RNG). :func:`load` writes a plan in one transaction: floors and bookings
with plain inserts that respect every constraint, then each planned assignment through the allocator's own
``assign_tables_atomic_v2``, so zone locks, merge groups and the exclusion constraint are exactly what the allocator
would make. The planner keeps its own occupancy, so every planned assignment succeeds; a booking it could not seat is
left ``pending_allocation`` without tables.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tablemend import db, sqlfiles
from tablemend.db import Connection
from tablemend.errors import UsageError

#: Namespace of every sample id: uuid5(NAMESPACE, f"{seed}:{what}").
NAMESPACE = uuid.UUID("6f1d3c52-8a7e-5b0f-9c4d-2e61a7b0c9d3")
_ZONE_NAMES = ("Main room", "Terrace", "Bar", "Garden", "Mezzanine")
_AREA = {"Main room": "indoor", "Terrace": "outdoor", "Bar": "indoor", "Garden": "outdoor", "Mezzanine": "covered"}
_TIMEZONES = ("UTC", "Europe/London", "Europe/Paris", "Europe/Madrid")
_NAMES = ("Trattoria", "Bistro", "Brasserie", "Osteria", "Taverna", "Cantina", "Kitchen", "Grill", "Table", "Canteen")
_PLACES = ("Harbour", "Market", "Corner", "Garden", "River", "Station", "Square", "Hill", "Lane", "Park")
_GUESTS = ("Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena", "Mo", "Nia")
_MAX_RESTAURANTS = 10_000


@dataclass(frozen=True)
class SampleTable:
    id: uuid.UUID
    zone_id: uuid.UUID
    number: str
    capacity: int
    mobility: str


@dataclass(frozen=True)
class SampleZone:
    id: uuid.UUID
    name: str
    tables: tuple[SampleTable, ...]


@dataclass(frozen=True)
class SampleRestaurant:
    id: uuid.UUID
    name: str
    timezone: str
    zones: tuple[SampleZone, ...]
    adjacencies: tuple[tuple[uuid.UUID, uuid.UUID], ...]

    @property
    def tables(self) -> tuple[SampleTable, ...]:
        return tuple(t for z in self.zones for t in z.tables)


@dataclass(frozen=True)
class SampleBooking:
    id: uuid.UUID
    restaurant_id: uuid.UUID
    start_at: dt.datetime
    end_at: dt.datetime
    party_size: int
    status: str
    customer_name: str
    #: tables the loader assigns through the allocator (empty: left unassigned)
    table_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True)
class SamplePlan:
    seed: int
    day: dt.date
    restaurants: tuple[SampleRestaurant, ...]
    bookings: tuple[SampleBooking, ...]

    @property
    def restaurant_ids(self) -> list[uuid.UUID]:
        return [r.id for r in self.restaurants]


@dataclass(frozen=True)
class SampleResult:
    seed: int
    day: dt.date
    loaded: bool  # False: the sample with this seed was already there; nothing was written
    migrated: bool
    counts: dict[str, int] = field(default_factory=dict)
    restaurant_ids: tuple[uuid.UUID, ...] = ()


def sample_id(seed: int, what: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{seed}:{what}")


def default_day() -> dt.date:
    """Tomorrow (UTC): the sample's bookings fall on the coming days."""
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)


# --- planning (pure) -------------------------------------------------------------------------------------------------


def _floor(rng: random.Random, seed: int, index: int) -> SampleRestaurant:
    rid = sample_id(seed, f"restaurant:{index}")
    name = f"{rng.choice(_NAMES)} {rng.choice(_PLACES)} {index + 1}"
    n_tables = rng.randint(10, 40)
    n_zones = 1 if n_tables < 16 else rng.randint(2, min(4, n_tables // 8 + 1))
    # split the tables over the zones, at least 4 per zone
    cuts = sorted(rng.sample(range(4, n_tables - 3), n_zones - 1)) if n_zones > 1 else []
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, n_tables], strict=True)]
    zones: list[SampleZone] = []
    edges: list[tuple[uuid.UUID, uuid.UUID]] = []
    number = 0
    for z, size in enumerate(sizes):
        zid = sample_id(seed, f"restaurant:{index}:zone:{z}")
        tables: list[SampleTable] = []
        for _ in range(size):
            number += 1
            capacity = rng.choice((2, 2, 2, 4, 4, 4, 4, 6, 8))
            mobility = "fixed" if capacity >= 8 or rng.random() < 0.08 else "movable"
            tid = sample_id(seed, f"restaurant:{index}:table:{number}")
            tables.append(SampleTable(tid, zid, f"T{number}", capacity, mobility))
        zones.append(SampleZone(zid, _ZONE_NAMES[z], tuple(tables)))
        # a row of tables (neighbours adjacent), plus a few cross links between rows
        for a, b in itertools.pairwise(tables):
            edges.append((a.id, b.id))
        for a_i in range(len(tables) - 3):
            if rng.random() < 0.15:
                edges.append((tables[a_i].id, tables[a_i + 3].id))
    return SampleRestaurant(rid, name, rng.choice(_TIMEZONES), tuple(zones), tuple(edges))


def _groups(restaurant: SampleRestaurant) -> list[tuple[SampleTable, ...]]:
    """Every table set the planner may assign: single tables, and connected pairs / triples of movable tables."""
    by_id = {t.id: t for t in restaurant.tables}
    neighbours: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for a, b in restaurant.adjacencies:
        if by_id[a].mobility == by_id[b].mobility == "movable":
            neighbours[a].add(b)
            neighbours[b].add(a)
    groups: list[tuple[SampleTable, ...]] = [(t,) for t in restaurant.tables]
    pairs = sorted({tuple(sorted((a, b))) for a, b in restaurant.adjacencies if b in neighbours[a]})
    groups += [(by_id[a], by_id[b]) for a, b in pairs]
    triples = sorted({tuple(sorted((a, b, c))) for a, b in pairs for c in neighbours[a] | neighbours[b]
                      if c not in (a, b)})
    groups += [tuple(by_id[x] for x in trio) for trio in triples]
    return groups


def _free(busy: dict[uuid.UUID, list[tuple[dt.datetime, dt.datetime]]], tables: Sequence[SampleTable],
          start: dt.datetime, end: dt.datetime) -> bool:
    return all(not (s < end and start < e) for t in tables for s, e in busy[t.id])


def plan(seed: int = 1, restaurants: int = 5, *, day: dt.date | None = None, days: int = 7,
         bookings_per_restaurant: int | None = None) -> SamplePlan:
    """The sample's rows, computed without a database."""
    if not 1 <= restaurants <= _MAX_RESTAURANTS:
        raise UsageError(f"invalid restaurant count {restaurants}: 1 to {_MAX_RESTAURANTS}")
    if bookings_per_restaurant is not None and bookings_per_restaurant < 0:
        raise UsageError(f"invalid bookings per restaurant {bookings_per_restaurant}: must be >= 0")
    first = day or default_day()
    rng = random.Random(seed)
    floors = tuple(_floor(rng, seed, i) for i in range(restaurants))
    bookings: list[SampleBooking] = []
    for index, rest in enumerate(floors):
        groups = _groups(rest)
        busy: dict[uuid.UUID, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        # a few hundred bookings over all restaurants by default
        count = bookings_per_restaurant if bookings_per_restaurant is not None else rng.randint(40, 80)
        for n in range(count):
            bid = sample_id(seed, f"restaurant:{index}:booking:{n}")
            start = dt.datetime.combine(first, dt.time(0), dt.UTC) + dt.timedelta(
                days=rng.randrange(days), hours=rng.randint(11, 21), minutes=rng.choice((0, 15, 30, 45)))
            end = start + dt.timedelta(minutes=rng.choice((60, 90, 90, 120, 120, 150)))
            party = rng.choice((1, 2, 2, 2, 3, 4, 4, 5, 6, 7, 8, 10))
            fits = [g for g in groups
                    if party <= sum(t.capacity for t in g) <= party + 4 and _free(busy, g, start, end)]
            chosen: tuple[SampleTable, ...] = ()
            if fits and rng.random() < 0.9:  # some bookings stay unseated, as in real life
                fewest = min(len(g) for g in fits)
                chosen = rng.choice([g for g in fits if len(g) == fewest])
                for t in chosen:
                    busy[t.id].append((start, end))
            status = ("confirmed" if rng.random() < 0.85 else "pending") if chosen else "pending_allocation"
            guest = f"{rng.choice(_GUESTS)} {chr(ord('A') + rng.randrange(26))}."
            bookings.append(SampleBooking(bid, rest.id, start, end, party, status, guest,
                                          tuple(sorted(t.id for t in chosen))))
    return SamplePlan(seed, first, floors, tuple(bookings))


# --- loading ---------------------------------------------------------------------------------------------------------


def ensure_schema(conn: Connection) -> bool:
    """Run ``migrate`` when tablemend's schema is missing; True when it did."""
    with db.translated():
        row = conn.execute(sqlfiles.query("schema_present", "sample.sql")).fetchone()
    if row and row["x"]:
        return False
    from tablemend.migrations import migrate

    migrate(conn)
    return True


def _rows(sample: SamplePlan) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sample.restaurants:
        slug = r.name.lower().replace(" ", "-")
        rows["insert_restaurant"].append({"id": r.id, "name": r.name, "slug": slug, "timezone": r.timezone})
        for order, z in enumerate(r.zones):
            rows["insert_zone"].append({"restaurant_id": r.id, "id": z.id, "name": z.name, "sort_order": order,
                                        "area_type": _AREA[z.name]})
            for t in z.tables:
                rows["insert_table"].append({"restaurant_id": r.id, "id": t.id, "number": t.number,
                                             "capacity": t.capacity, "zone_id": z.id, "mobility": t.mobility,
                                             "section": z.name})
        for a, b in r.adjacencies:
            rows["insert_adjacency"].append({"restaurant_id": r.id, "table_a": a, "table_b": b})
    for bk in sample.bookings:
        rows["insert_booking"].append({
            "restaurant_id": bk.restaurant_id, "id": bk.id, "start_at": bk.start_at, "end_at": bk.end_at,
            "party_size": bk.party_size, "status": bk.status, "customer_name": bk.customer_name,
            "reference": f"S{bk.id.hex[:8].upper()}",
        })
        if bk.table_ids:
            rows["assign"].append({"booking_id": bk.id, "table_ids": list(bk.table_ids),
                                   "adjacency": len(bk.table_ids) > 1})
    return rows


def load(conn: Connection, sample: SamplePlan) -> SampleResult:
    """Write ``sample`` in one transaction (migrating first if needed); a sample already present is left alone.

    ``conn`` should be in autocommit mode, so the commit (and the ledger's deferred check) happens in here.
    """
    migrated = ensure_schema(conn)
    ids = sample.restaurant_ids
    order = ("insert_restaurant", "insert_zone", "insert_table", "insert_adjacency", "insert_booking", "assign")
    with db.translated(), conn.transaction():
        present = conn.execute(sqlfiles.query("restaurants_present", "sample.sql"), {"ids": ids}).fetchone()
        loaded = not (present and present["n"])
        if loaded:
            rows = _rows(sample)
            with conn.cursor() as cur:
                for name in order:
                    if rows[name]:
                        cur.executemany(sqlfiles.query(name, "sample.sql"), rows[name])
        counts = conn.execute(sqlfiles.query("counts", "sample.sql"), {"ids": ids}).fetchone()
    return SampleResult(sample.seed, sample.day, loaded, migrated, dict(counts or {}), tuple(ids))


def load_sample(dsn: str | None = None, *, seed: int = 1, restaurants: int = 5, day: dt.date | None = None,
                bookings_per_restaurant: int | None = None) -> SampleResult:
    """Plan and load in one call (what ``tablemend sample`` runs)."""
    sample = plan(seed, restaurants, day=day, bookings_per_restaurant=bookings_per_restaurant)
    with db.connect(dsn, autocommit=True) as conn:
        return load(conn, sample)
