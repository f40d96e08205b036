"""The scan's shared pass (``sql/doctor/shared_pass.sql``) gives exactly the findings of the checks' own queries: on
every seeded §3 state plus the benchmark's generated drift, and on every schema variant's sandbox."""

from __future__ import annotations

from typing import Any

from bench import origin_data

from tablemend import db, sandbox
from tablemend.doctor import profile as profiles
from tablemend.doctor.rules import Context
from tablemend.doctor.scanner import SHARED_PASS, detect


def _rows(conn: db.Connection, *, shared: bool, restaurant: Any = None) -> list[dict[str, Any]]:
    with conn.transaction(force_rollback=True):
        prof = profiles.detect(conn)
        found = detect(conn, prof, Context(restaurant_id=restaurant), SHARED_PASS, shared=shared)
        return sorted((f.as_row() for f in found), key=lambda r: (r["code"], str(r["booking"]), str(r["table"])))


def test_shared_pass_equals_the_checks_own_queries(origin_conn: db.Connection) -> None:
    cases = [sandbox.seed_state(origin_conn, code) for code in sandbox.ORIGIN_STATES if code not in ("D3", "D4")]
    origin_data.generate(origin_conn, 3_000)
    reference = _rows(origin_conn, shared=False)
    assert {r["code"] for r in reference} == set(SHARED_PASS), "every shared check has findings to compare"
    assert _rows(origin_conn, shared=True) == reference
    one = cases[0].restaurant_id
    assert _rows(origin_conn, shared=True, restaurant=one) == _rows(origin_conn, shared=False, restaurant=one)
