"""The idempotency ledger: replay, typed mismatch per field, in-flight keys, and ledger rows that cannot go stale.

Contract (docs/allocator.md): a ledger row lives exactly as long as the assignment it produced is the booking's
current one. Same key + same request returns that assignment (the original result). Anything that changes or removes
the assignment (unassign, replacement, terminal status, time edit, direct DELETE/UPDATE) deletes the booking's ledger
rows, so the key is then free again and the same request executes afresh instead of replaying a result that no longer
exists.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from tablemend import db, errors
from tablemend.db import Connection, translated
from tests.integration import tmdata as d
from tests.integration.tmdata import assign, at, snapshot, unassign


def test_same_key_same_request_returns_the_original_result_without_writing(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    first = assign(tm_conn, b, f.tables[:2], key="k1")
    before = snapshot(tm_conn)
    again = assign(tm_conn, b, [f.tables[1], f.tables[0]], key="k1")  # order of ids is not part of the request
    assert again == first
    assert snapshot(tm_conn) == before


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("table_ids", {"tables": 1}),
        ("start_at", {"start_at": at(18), "end_at": at(21)}),
        ("end_at", {"start_at": at(19), "end_at": at(22)}),
        ("require_adjacency", {"adjacency": True}),
        ("assigned_by", {"assigned_by": uuid.UUID(int=7)}),
    ],
)
def test_same_key_different_request_names_the_first_differing_field(
    tm_conn: Connection, field: str, change: dict[str, Any]
) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    window = {"start_at": at(19), "end_at": at(21)} if field == "end_at" else {}
    assign(tm_conn, b, f.tables[:2], key="k1", **window)
    before = snapshot(tm_conn)
    tables = f.tables[: 2 + change.pop("tables", 0)]
    with pytest.raises(errors.IdempotencyMismatch) as caught:
        assign(tm_conn, b, tables, key="k1", **change)
    err = caught.value
    assert err.sqlstate == "TAC03" and err.http_status == 409
    assert err.fields["field"] == field
    assert err.fields["booking_id"] == str(b) and err.fields["idempotency_key"] == "k1"
    assert snapshot(tm_conn) == before


def test_key_in_flight_in_another_transaction_is_refused_at_once(tm_dsn: str, tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    with db.connect(tm_dsn) as other:  # not autocommit: its transaction stays open
        first = assign(other, b, f.tables[:2], key="k1")
        with pytest.raises(errors.IdempotencyInProgress) as caught:
            assign(tm_conn, b, f.tables[:2], key="k1")
        assert caught.value.sqlstate == "TAC04"
        assert caught.value.fields == {"booking_id": str(b), "idempotency_key": "k1"}
        other.commit()
    assert assign(tm_conn, b, f.tables[:2], key="k1") == first


def test_racing_retries_of_one_key_write_once(tm_dsn: str, tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    start = threading.Barrier(6)
    outcomes: list[str] = []
    results: list[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def call() -> None:
        with db.connect(tm_dsn, autocommit=True) as conn:
            start.wait()
            try:
                rows = assign(conn, b, f.tables[:2], key="race")
            except errors.IdempotencyInProgress:
                with lock:
                    outcomes.append("in_progress")
                return
            with lock:
                outcomes.append("ok")
                results.append(rows)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(outcomes) <= {"ok", "in_progress"} and "ok" in outcomes
    assert all(r == results[0] for r in results)
    assert d.count(tm_conn, "booking_table_assignments", b) == 2
    assert d.count(tm_conn, "booking_assignment_idempotency", b) == 1
    assert d.count(tm_conn, "booking_table_assignments_archive") == 0  # nobody wrote twice


def test_new_key_for_the_same_table_set_succeeds(tm_conn: Connection) -> None:
    # origin: raw 23505 on booking_assignment_idempotency_booking_hash_key
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    first = assign(tm_conn, b, f.tables[:2], key="k1")
    assert assign(tm_conn, b, f.tables[:2], key="k2") == first
    assert d.count(tm_conn, "booking_assignment_idempotency", b) == 2
    assert assign(tm_conn, b, f.tables[:2], key="k1") == first  # both keys replay the same assignment


def test_same_key_after_unassign_executes_again_instead_of_replaying_nothing(tm_conn: Connection) -> None:
    # origin: a silent 0-row "success" from the stale ledger row
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, f.tables[:2], key="k1")
    unassign(tm_conn, b)
    assert d.count(tm_conn, "booking_assignment_idempotency", b) == 0
    rows = assign(tm_conn, b, f.tables[:2], key="k1")
    assert [r["table_id"] for r in rows] == sorted(f.tables[:2])
    assert d.count(tm_conn, "booking_table_assignments", b) == 2


def test_same_key_after_the_booking_moved_returns_the_moved_assignment(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, b, f.tables[:2], key="k1")
    tm_conn.execute("UPDATE bookings SET start_at = %s, end_at = %s WHERE id = %s", (at(20), at(22), b))
    assert d.count(tm_conn, "booking_assignment_idempotency", b) == 0
    rows = assign(tm_conn, b, f.tables[:2], key="k1")
    assert {(r["start_at"], r["end_at"]) for r in rows} == {(at(20), at(22))}


def test_same_key_after_a_replacement_with_another_key_executes_again(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    assign(tm_conn, b, f.tables[:2], key="k1")
    assign(tm_conn, b, f.tables[2:4], key="k2")
    rows = assign(tm_conn, b, f.tables[:2], key="k1")  # k1 no longer describes the booking: it executes
    assert [r["table_id"] for r in rows] == sorted(f.tables[:2])
    keys = tm_conn.execute(
        "SELECT idempotency_key FROM booking_assignment_idempotency WHERE booking_id = %s", (b,)
    ).fetchall()
    assert keys == [{"idempotency_key": "k1"}]


def test_direct_ledger_row_without_assignment_is_refused_at_commit(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id)
    with pytest.raises(errors.LedgerInconsistent) as caught, translated():
        tm_conn.execute(
            "INSERT INTO booking_assignment_idempotency (restaurant_id, booking_id, idempotency_key, table_ids,"
            " require_adjacency, request_fingerprint, start_at, end_at)"
            " VALUES (%s, %s, 'k1', %s, false, 'x', %s, %s)",
            (f.restaurant_id, b, f.tables[:2], at(19), at(21)),
        )
    assert caught.value.sqlstate == "TAI01" and caught.value.http_status == 409
    assert caught.value.fields["booking_id"] == str(b) and caught.value.fields["idempotency_key"] == "k1"
    assert d.count(tm_conn, "booking_assignment_idempotency") == 0


def test_direct_ledger_row_for_another_window_is_refused(tm_conn: Connection) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, b, f.tables[:2])
    with pytest.raises(errors.LedgerInconsistent), translated():
        tm_conn.execute(
            "INSERT INTO booking_assignment_idempotency (restaurant_id, booking_id, idempotency_key, table_ids,"
            " require_adjacency, request_fingerprint, start_at, end_at, merge_group_id)"
            " SELECT %s, %s, 'k1', %s, false, 'x', %s, %s, merge_group_id FROM booking_table_assignments"
            " WHERE booking_id = %s LIMIT 1",
            (f.restaurant_id, b, sorted(f.tables[:2]), at(18), at(21), b),
        )


@pytest.mark.parametrize("write", ["delete", "update"])
def test_direct_change_of_assignment_rows_deletes_the_ledger(tm_conn: Connection, write: str) -> None:
    f = d.floor(tm_conn)
    b = d.booking(tm_conn, f.restaurant_id, at(19), at(21))
    assign(tm_conn, b, f.tables[:2], key="k1")
    if write == "delete":
        tm_conn.execute("DELETE FROM booking_table_assignments WHERE booking_id = %s AND table_id = %s",
                        (b, f.tables[0]))
    else:
        tm_conn.execute("UPDATE booking_table_assignments SET end_at = %s WHERE booking_id = %s", (at(22), b))
    assert d.count(tm_conn, "booking_assignment_idempotency", b) == 0
    rows = assign(tm_conn, b, f.tables[:2], key="k1")  # executes again, reaching the requested state
    assert {(r["table_id"], r["start_at"], r["end_at"]) for r in rows} == {
        (t, at(19), at(21)) for t in f.tables[:2]
    }
