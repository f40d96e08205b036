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
    _drift(origin_conn)
    reference = _rows(origin_conn, shared=False)
    assert {r["code"] for r in reference} == set(SHARED_PASS), "every shared check has findings to compare"
    assert {("TMD001", "completed"), ("TMD016", "human"), ("TMD002", "confirm")} <= {
        (r["code"], r["metadata"].get("status") if r["code"] == "TMD001" else r["safety"]) for r in reference}
    assert _rows(origin_conn, shared=True) == reference
    one = cases[0].restaurant_id
    assert _rows(origin_conn, shared=True, restaurant=one) == _rows(origin_conn, shared=False, restaurant=one)


def _drift(conn: db.Connection) -> None:
    """States the generated data lacks: a completed booking dated ahead still seated (TMD001); a live row whose
    allocation is gone while another live booking, seated elsewhere, holds an allocation on that table over it
    (TMD016 human, and that booking's TMD002 confirm)."""
    live = ("SELECT bta.booking_id, bta.table_id, bta.start_at, bta.end_at, b.restaurant_id "
            "FROM public.booking_table_assignments bta JOIN public.bookings b ON b.id = bta.booking_id "
            "WHERE b.status = 'confirmed' AND b.end_at > now() AND bta.start_at > now() "
            "AND EXISTS (SELECT 1 FROM public.allocations a WHERE a.booking_id = bta.booking_id "
            "AND a.resource_id = bta.table_id AND NOT a.shadow) ORDER BY bta.booking_id, bta.table_id")
    rows = conn.execute(live).fetchall()
    first, second = rows[0], next(r for r in rows if r["booking_id"] != rows[0]["booking_id"]
                                   and r["restaurant_id"] == rows[0]["restaurant_id"]
                                   and r["table_id"] != rows[0]["table_id"])
    third = next(r for r in rows if r["booking_id"] not in (first["booking_id"], second["booking_id"]))
    conn.execute("UPDATE public.bookings SET status = 'completed', checked_in_at = now(), checked_out_at = now() "
                 "WHERE id = %s", (third["booking_id"],))
    conn.execute("DELETE FROM public.allocations WHERE booking_id = %s AND resource_id = %s AND NOT shadow",
                 (first["booking_id"], first["table_id"]))
    conn.execute("INSERT INTO public.allocations (booking_id, restaurant_id, resource_type, resource_id, \"window\", "
                 "shadow) VALUES (%s, %s, 'table', %s, tstzrange(%s, %s, '[)'), false)",
                 (second["booking_id"], first["restaurant_id"], first["table_id"], first["start_at"], first["end_at"]))
