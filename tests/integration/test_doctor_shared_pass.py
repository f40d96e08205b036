"""The scan's shared pass (``sql/doctor/shared_pass.sql``) gives exactly the findings of the checks' own queries: on
every seeded §3 state plus the benchmark's generated drift, and on every schema variant's sandbox."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pytest
from bench import origin_data

from tablemend import db, sandbox
from tablemend.doctor import profile as profiles
from tablemend.doctor import scanner
from tablemend.doctor.rules import Context
from tablemend.doctor.scanner import SHARED_PASS, detect
from tests.conftest import TemplateFactory
from tests.integration.test_origin_variants import _build


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
    (TMD016 human, and that booking's TMD002 confirm); two more live bookings moved onto a seated row's window, each
    with a row without a window on its table (TMD005), and a cancelled one that starts before them (TMD001)."""
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
    taken = {first["booking_id"], second["booking_id"], third["booking_id"]}
    seated = next(r for r in rows if r["booking_id"] not in taken)
    movers = [r for r in rows if r["booking_id"] not in taken | {seated["booking_id"]}
              and r["restaurant_id"] == seated["restaurant_id"] and r["table_id"] != seated["table_id"]]
    with conn.transaction():  # as a path that bypasses the origin's triggers would leave them
        conn.execute("SET LOCAL session_replication_role = replica")
        one_hour = dt.timedelta(hours=1)
        for n, mover in enumerate(list({r["booking_id"]: r for r in movers}.values())[:3]):
            # the third is cancelled and starts first: a released row is in the ordered pass but never overlaps
            shift, status = (one_hour, "cancelled") if n == 2 else (dt.timedelta(0), "confirmed")
            conn.execute("UPDATE public.bookings SET start_at = %s, end_at = %s, status = %s WHERE id = %s",
                         (seated["start_at"] - shift, seated["end_at"] - shift, status, mover["booking_id"]))
            conn.execute("INSERT INTO public.booking_table_assignments (booking_id, table_id) VALUES (%s, %s)",
                         (mover["booking_id"], seated["table_id"]))


@pytest.mark.parametrize("variant", [v for v in sandbox.ORIGIN_VARIANTS if v != "newest"])
def test_shared_pass_equals_the_checks_own_queries_on_every_variant(variant: str, templates: TemplateFactory) -> None:
    """The same comparison on each historical schema (where a pooled check needs an equivalent query, nothing is
    pooled there: each runs its own). The generator writes table_holds.status: variants without it get the seeded
    states only."""
    with (templates.database(f"origin_{variant.replace('-', '_')}", partial(_build, variant)) as dsn,
          db.connect(dsn, autocommit=True) as conn):
        for code in sandbox.ORIGIN_STATES:
            if code not in ("D3", "D4"):
                sandbox.seed_state(conn, code)
        generated = profiles.detect(conn).catalog.has("public.table_holds.status")
        if generated:
            origin_data.generate(conn, 2_000)
            _drift(conn)
        reference = _rows(conn, shared=False)
        assert {"TMD001", "TMD016"} <= {r["code"] for r in reference}
        assert _rows(conn, shared=True) == reference


def test_findings_past_the_memory_share_wait_in_a_file_in_order(origin_conn: db.Connection,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A check's query is read to its end before its findings are handed out (the caller may use the connection in
    between, as with a named cursor); past ``_IN_MEMORY`` they come back from a temporary file, in the same order."""
    origin_data.generate(origin_conn, 3_000)
    prof = profiles.detect(origin_conn)
    with origin_conn.transaction(force_rollback=True):
        whole = [f.as_row() for f in detect(origin_conn, prof, Context())]
    monkeypatch.setattr(scanner, "_IN_MEMORY", 3)
    with origin_conn.transaction(force_rollback=True):
        stream = detect(origin_conn, prof, Context())
        first = next(stream)
        assert origin_conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
        spilled = [first.as_row(), *(f.as_row() for f in stream)]
    assert spilled == whole
    assert len([r for r in whole if r["code"] == "TMD001"]) > 3
