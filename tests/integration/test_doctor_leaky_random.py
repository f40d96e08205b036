"""Issue 10, found item 8: random sequences of the origin's leaky operations (assign, cancel by a status update,
unassign without ledger cleanup, direct slotless inserts, moves that sync only the allocated tables and keep
slot_id), then ``repair --all-safe``. Afterwards every live booking P, asking again for two main-zone tables, either
has a finding that names the cause -- and ``repair --booking P`` with its confirm findings makes the real retry
succeed -- or a ``human`` finding says why not. Before TMD024 / TMD025 some retries still failed with 23514 "already
has assignments in a different zone" or 23P01 while no finding named the rows."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest

from tablemend import db, sandbox
from tablemend.doctor import repair, scan
from tablemend.doctor.rules import Context, Safety
from tablemend.doctor.scanner import context
from tablemend.errors import RepairRefused, TablemendError

_STARTS = ("17:00", "18:00", "19:00", "20:00", "21:00")


def _op(conn: db.Connection, rng: random.Random, lay: object, bookings: list[uuid.UUID]) -> None:
    b = rng.choice(bookings)
    tables = list(lay.t[:5]) + list(lay.u)  # type: ignore[attr-defined]
    kind = rng.choice(("assign", "assign", "cancel", "unassign", "direct", "move"))
    try:
        with db.translated(), conn.transaction():
            if kind == "assign":
                zone = list(lay.t[:5]) if rng.random() < 0.7 else list(lay.u)  # type: ignore[attr-defined]
                sandbox._assign(conn, b, rng.sample(zone, rng.choice((1, 2))), key=f"k{rng.randrange(3)}")
            elif kind == "cancel":
                sandbox._status(conn, b, "cancelled")
            elif kind == "unassign":
                conn.execute(sandbox._q("unassign"), {"booking_id": b, "table_ids": None})
            elif kind == "direct":
                row = conn.execute("SELECT start_at, end_at FROM public.bookings WHERE id = %s", (b,)).fetchone()
                assert row is not None
                conn.execute(sandbox._q("insert_raw_assignment"), {
                    "booking_id": b, "table_id": rng.choice(tables), "slot_id": None, "start_at": row["start_at"],
                    "end_at": row["end_at"], "notes": "direct"})
            else:
                start = dt.time.fromisoformat(rng.choice(_STARTS))
                end = dt.time(start.hour + 2, 0)
                moved = conn.execute(sandbox._q("move_booking"), {"booking_id": b, "start_time": start,
                                                                  "end_time": end}).fetchone()
                assert moved is not None
                allocated = [r["resource_id"] for r in conn.execute(
                    "SELECT resource_id FROM public.allocations WHERE booking_id = %s AND resource_type = 'table'",
                    (b,)).fetchall()]
                conn.execute(sandbox._q("sync_windows"), {"booking_id": b, "table_ids": allocated,
                                                           "start_at": moved["start_at"], "end_at": moved["end_at"]})
    except TablemendError:
        pass  # the origin refused this step: the database is unchanged


@pytest.mark.parametrize("seed", range(6))
def test_every_live_retry_is_explained_and_repairable(origin_dsn: str, seed: int) -> None:
    rng = random.Random(seed)
    with db.connect(origin_dsn, autocommit=True) as conn:
        with db.translated(), conn.transaction():
            lay = sandbox._layout(conn, f"leaky{seed}")
            bookings = [sandbox._booking(conn, lay, f"b{i}", start=rng.choice(_STARTS) if i % 2 else "19:00",
                                         end="23:00" if i % 2 else "21:00", status="pending", party=2).id
                        for i in range(10)]
        for _ in range(60):
            _op(conn, rng, lay, bookings)
        repair(conn, Context(), all_safe=True)
        live = [r["id"] for r in conn.execute(
            "SELECT id FROM public.bookings WHERE id = ANY (%s) AND status <> 'cancelled' ORDER BY id",
            (bookings,)).fetchall()]
        unexplained = []
        for p in live:
            tables = sorted(rng.sample(list(lay.t[:5]), 2))
            ctx = context(conn, booking_id=p, table_ids=tables)
            findings = list(scan(conn, ctx=ctx))
            if any(f.safety is Safety.human for f in findings):
                continue  # a person's call, and said so
            include = [f.id for f in findings if f.safety is Safety.confirm]
            try:
                result = repair(conn, ctx, include=include, retry=True, explicit_window=False)
            except RepairRefused as exc:
                unexplained.append((str(p), exc.message, sorted(f.id for f in findings)))
                continue
            assert result.allocator is not None and result.allocator.ok
        assert unexplained == []
