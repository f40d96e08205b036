"""The HTTP app in-process (httpx.ASGITransport) over a fresh copy of a database with two sample restaurants.

Restaurant A and B come from ``tablemend sample`` (seed 7, fixed day); keys: ``admin`` (all restaurants, every scope),
``a`` (A: read, assign, repair), ``a_read`` (A: read), ``b`` (B: every scope).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tablemend import db, keys
from tablemend.api import Service, Settings, create_app
from tablemend.sample import load, plan
from tests.conftest import TemplateFactory

DAY = dt.date(2030, 6, 3)
SEED = 7


def _build(dsn: str) -> None:
    with db.connect(dsn, autocommit=True) as conn:
        load(conn, plan(SEED, 2, day=DAY, days=1, bookings_per_restaurant=12))


@dataclass
class Api:
    app: Any
    service: Service
    dsn: str
    keys: dict[str, str]
    restaurants: list[uuid.UUID]
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, url: str, *, key: str | None = "admin", headers: dict[str, str] | None = None,
                **kwargs: Any) -> httpx.Response:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {self.keys.get(key, key)}"

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://tablemend.test") as client:
                return await client.request(method, url, headers=sent, **kwargs)

        return asyncio.run(go())

    def rpc(self, function: str, body: Any = None, *, key: str | None = "admin", **kwargs: Any) -> httpx.Response:
        return self.request("POST", f"/rest/v1/rpc/{function}", key=key, json=body, **kwargs)

    def sql(self, query: Any, params: Any = None) -> list[dict[str, Any]]:
        with db.connect(self.dsn, autocommit=True) as conn:
            return [dict(r) for r in conn.execute(query, params).fetchall()]

    @property
    def a(self) -> uuid.UUID:
        return self.restaurants[0]

    @property
    def b(self) -> uuid.UUID:
        return self.restaurants[1]


def make_api(dsn: str, settings: Settings | None = None) -> Iterator[Api]:
    with db.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT id FROM restaurants ORDER BY name, id").fetchall()
        restaurants = [r["id"] for r in rows]
        a, b = restaurants
        made = {
            "admin": keys.create(conn, "admin", all_restaurants=True, scopes=keys.SCOPES).secret,
            "a": keys.create(conn, "a", restaurants=[a], scopes=keys.SCOPES).secret,
            "a_read": keys.create(conn, "a-read", restaurants=[a], scopes=["read"]).secret,
            "b": keys.create(conn, "b", restaurants=[b], scopes=keys.SCOPES).secret,
        }
    service = Service.open(dsn, settings or Settings(), max_size=4)
    try:
        yield Api(create_app(service), service, dsn, made, restaurants)
    finally:
        service.close()


@pytest.fixture
def api_dsn(templates: TemplateFactory) -> Iterator[str]:
    with templates.database("api", _build) as dsn:
        yield dsn


@pytest.fixture
def api(api_dsn: str) -> Iterator[Api]:
    yield from make_api(api_dsn)


def live_booking(api: Api, restaurant: uuid.UUID) -> dict[str, Any]:
    """A seated, live booking of the restaurant with its tables."""
    rows = api.sql("""
        SELECT b.id, array_agg(a.table_id ORDER BY a.table_id) AS tables, b.start_at, b.end_at
        FROM bookings b JOIN booking_table_assignments a ON a.restaurant_id = b.restaurant_id AND a.booking_id = b.id
        WHERE b.restaurant_id = %s GROUP BY b.restaurant_id, b.id ORDER BY b.id LIMIT 1""", (restaurant,))
    return rows[0]


def free_table(api: Api, restaurant: uuid.UUID, party: int = 1) -> uuid.UUID:
    """A table of the restaurant with nothing assigned, seating at least ``party``."""
    rows = api.sql("""
        SELECT t.id FROM table_inventory t
        WHERE t.restaurant_id = %s AND t.capacity >= %s AND t.mobility <> 'fixed'
          AND NOT EXISTS (SELECT 1 FROM booking_table_assignments a WHERE a.table_id = t.id)
        ORDER BY t.capacity DESC, t.id LIMIT 1""", (restaurant, party))
    table: uuid.UUID = rows[0]["id"]
    return table


def snapshot(api: Api) -> dict[str, int]:
    """Row counts of everything a call could change (compare before / after a refused call)."""
    row = api.sql("""
        SELECT (SELECT count(*) FROM booking_table_assignments) AS assignments,
               (SELECT count(*) FROM booking_assignment_idempotency) AS ledger,
               (SELECT count(*) FROM table_holds WHERE status = 'active') AS holds,
               (SELECT count(*) FROM bookings WHERE status IN ('cancelled', 'completed', 'no_show')) AS ended,
               (SELECT md5(string_agg(b.id::text || b.status::text || b.start_at::text, ',' ORDER BY b.id))
                FROM bookings b) AS bookings""")[0]
    return row


def seed_expired_hold(api: Api, restaurant: uuid.UUID, *, hour: int = 20) -> dict[str, Any]:
    """A hold left 'active' past its expiry with its member (doctor finding TMD019), on a free table at ``hour``:00
    of DAY, as a crashed client would leave it (the TMD019 case's setup)."""
    table = free_table(api, restaurant)
    row = api.sql("SELECT zone_id FROM table_inventory WHERE id = %s", (table,))[0]
    hold = uuid.uuid4()
    start = dt.datetime.combine(DAY, dt.time(hour), dt.UTC)
    end = start + dt.timedelta(hours=2)
    expired = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    api.sql("""INSERT INTO table_holds (restaurant_id, id, zone_id, start_at, end_at, expires_at)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""", (restaurant, hold, row["zone_id"], start, end, expired))
    api.sql("""INSERT INTO table_hold_members (restaurant_id, hold_id, table_id, start_at, end_at)
               VALUES (%s, %s, %s, %s, %s) RETURNING hold_id""", (restaurant, hold, table, start, end))
    return {"hold_id": hold, "table_id": table, "start_at": start, "end_at": end}
