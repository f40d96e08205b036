"""Origin spec §3a: the capacity check's ``FOR UPDATE`` (no ``OF b``) also locks the restaurant row, which the same
transaction's foreign-key inserts already hold with KEY SHARE; two writers in one restaurant deadlock."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from tablemend import db, sandbox
from tablemend.errors import TablemendError
from tablemend.sandbox import StateCase


def test_capacity_check_deadlocks_with_another_writer_of_the_restaurant(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as setup:
        ids = sandbox.seed_sample(setup)
    call = StateCase(code="sample", title="Cara takes T1+T2", restaurant_id=ids.restaurant_id,
                     booking_id=ids.booking_ids[2], table_ids=(ids.table_ids[0], ids.table_ids[1]),
                     idempotency_key=None, start_at=None, end_at=None, require_adjacency=False,
                     expected_sqlstate=None, expected_message=None, expected_rows=2, blocking_booking_ids=())
    outcome: dict[str, Any] = {}
    with db.connect(origin_dsn, deadlock_timeout="200ms") as other, \
            db.connect(origin_dsn, autocommit=True, deadlock_timeout="200ms") as assigner:
        # Another assignment in the same restaurant, half-way: its slot insert holds KEY SHARE on the restaurant row.
        other.execute("INSERT INTO booking_slots (restaurant_id, slot_date, slot_time)"
                      " VALUES (%s, current_date, '12:00')", (ids.restaurant_id,))
        pid = assigner.info.backend_pid

        def assign() -> None:
            try:
                outcome["rows"] = sandbox.call_assign(assigner, call)
            except TablemendError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=assign)
        thread.start()
        with db.connect(origin_dsn, autocommit=True) as watch:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                row = watch.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                if row and row["wait_event_type"] == "Lock":
                    break
                time.sleep(0.02)
            else:
                pytest.fail("the assignment never waited on the restaurant row")
        try:
            # ... and now it wants the restaurant row for itself, as the capacity check of its own call would.
            other.execute("SELECT 1 FROM restaurants WHERE id = %s FOR UPDATE", (ids.restaurant_id,))
            other_failed = False
        except psycopg.errors.DeadlockDetected:
            other_failed = True
        other.rollback()
        thread.join(timeout=20)
    assigner_failed = "error" in outcome
    if assigner_failed:
        assert outcome["error"].sqlstate == "40P01"
    assert other_failed != assigner_failed  # exactly one side is chosen as the deadlock victim
