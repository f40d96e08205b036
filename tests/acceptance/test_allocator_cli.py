"""The allocator's CLI (assign, unassign, hold, booking, sample): the installed ``tablemend`` in a subprocess."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tablemend import db
from tests.acceptance.cli import error_lines, result_of, run
from tests.integration import tmdata as d


def _json(*args: str) -> Any:
    done = run(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return result_of(done.stdout)


def _one_line_error(done: Any, code: str, exit_code: int) -> None:
    """One error line naming the SQLSTATE (indented detail / hint lines may follow), no traceback, the class's exit."""
    assert done.returncode == exit_code, (done.returncode, done.stderr)
    lines = error_lines(done.stderr)
    assert lines and lines[0].startswith(f"error [{code}]:"), done.stderr
    assert all(ln.startswith(("  detail:", "  hint:")) for ln in lines[1:]), done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def _state(dsn: str) -> dict[str, Any]:
    with db.connect(dsn, autocommit=True) as conn:
        return d.snapshot(conn)


@pytest.fixture
def floor(tm_dsn: str) -> tuple[d.Floor, uuid.UUID]:
    with db.connect(tm_dsn, autocommit=True) as conn:
        f = d.floor(conn, tables=3)
        booking = d.booking(conn, f.restaurant_id, party_size=6)
    return f, booking


def test_sample_loads_once_then_leaves_it_alone(empty_dsn: str) -> None:
    first = _json("sample", "--dsn", empty_dsn, "--restaurants", "2", "--seed", "3", "--day", "2030-06-01")
    assert first["loaded"] is True and first["migrated"] is True
    assert first["counts"]["restaurants"] == 2 and first["counts"]["assignments"] > 0
    assert 20 <= first["counts"]["tables"] <= 80
    again = _json("sample", "--dsn", empty_dsn, "--restaurants", "2", "--seed", "3", "--day", "2030-06-01")
    assert again["loaded"] is False and again["counts"] == first["counts"]


def test_assign_unassign_round_trip_in_json(tm_dsn: str, floor: tuple[d.Floor, uuid.UUID]) -> None:
    f, booking = floor
    t1, t2 = f.by_number["T1"], f.by_number["T2"]
    rows = _json("assign", str(booking), str(t1), str(t2), "--adjacency", "--key", "k1", "--dsn", tm_dsn)
    assert [r["table_id"] for r in rows] == sorted([str(t1), str(t2)])
    assert rows[0]["merge_group_id"] is not None and rows[0]["merge_group_id"] == rows[1]["merge_group_id"]
    assert rows[0]["start_at"] == d.at(19).isoformat()
    # the same request with the same key is a replay: same rows
    assert _json("assign", str(booking), str(t1), str(t2), "--adjacency", "--key", "k1", "--dsn", tm_dsn) == rows
    removed = _json("unassign", str(booking), str(t2), "--dsn", tm_dsn)
    assert removed == [{"table_id": str(t2)}]
    shown = _json("booking", "show", str(booking), "--dsn", tm_dsn)
    assert shown["table_ids"] == [str(t1)] and shown["status"] == "confirmed"


def test_assign_table_output_and_explicit_window(tm_dsn: str, floor: tuple[d.Floor, uuid.UUID]) -> None:
    f, booking = floor
    done = run("assign", str(booking), str(f.by_number["T3"]), str(f.by_number["T2"]), "--start",
               "2030-06-02T18:00:00Z", "--end", "2030-06-02T20:00", "--dsn", tm_dsn)
    assert done.returncode == 0, done.stderr
    assert str(f.by_number["T3"])[:8] in done.stdout and "2030-06-02 18:00" in done.stdout


def test_hold_create_extend_confirm_then_status_releases(tm_dsn: str, floor: tuple[d.Floor, uuid.UUID]) -> None:
    f, booking = floor
    t1, t2 = str(f.by_number["T1"]), str(f.by_number["T2"])
    made = _json("hold", "create", str(f.restaurant_id), t1, t2, "--start", "2030-06-01T19:00Z", "--end",
                 "2030-06-01T21:00Z", "--booking", str(booking), "--ttl", "120", "--dsn", tm_dsn)
    assert made["table_ids"] == sorted([t1, t2]) and made["booking_id"] == str(booking)
    hold = made["hold_id"]
    extended = _json("hold", "extend", hold, "--ttl", "600", "--dsn", tm_dsn)
    assert extended["expires_at"] > made["expires_at"]
    rows = _json("hold", "confirm", hold, "--dsn", tm_dsn)
    assert sorted(r["table_id"] for r in rows) == sorted([t1, t2])
    assert _json("hold", "release", hold, "--dsn", tm_dsn) == {"hold_id": hold, "released": False}  # consumed
    change = _json("booking", "set-status", str(booking), "cancelled", "--dsn", tm_dsn)
    assert change == {"booking_id": str(booking), "previous": "confirmed", "status": "cancelled", "released": True}
    with psycopg.connect(tm_dsn) as conn:
        left = conn.execute("SELECT count(*) FROM booking_table_assignments").fetchone()
    assert left == (0,)


def test_hold_release_frees_the_tables(tm_dsn: str, floor: tuple[d.Floor, uuid.UUID]) -> None:
    f, _booking = floor
    made = _json("hold", "create", str(f.restaurant_id), str(f.by_number["T1"]), "--start", "2030-06-01T19:00Z",
                 "--end", "2030-06-01T21:00Z", "--dsn", tm_dsn)
    assert made["booking_id"] is None
    assert _json("hold", "release", made["hold_id"], "--dsn", tm_dsn)["released"] is True


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (("assign", "not-a-uuid", "{t1}"), "TMU01", 2),
        (("assign", "{booking}", "{t1}", "--assigned-by", "bob"), "TMU01", 2),
        (("assign", "{unknown}", "{t1}"), "TAN01", 4),
        (("assign", "{booking}", "{t1}", "--start", "2030-06-01T21:00Z", "--end", "2030-06-01T19:00Z"), "TAV02", 2),
        (("assign", "{booking}", "{t1}", "--start", "yesterday", "--end", "2030-06-01T19:00Z"), "TMU01", 2),
        (("assign", "{booking}", "{t1}"), "TAC05", 3),  # a party of 6 on one 4-seat table
        (("unassign", "{unknown}"), "TAN01", 4),
        (("hold", "extend", "{unknown}"), "TAN02", 4),
        (("hold", "confirm", "xyz"), "TMU01", 2),
        (("booking", "set-status", "{booking}", "done"), "TMU01", 2),
        (("booking", "set-status", "{unknown}", "cancelled"), "TAN01", 4),
        (("booking", "move", "{booking}", "--start", "2030-06-01T22:00Z", "--end", "2030-06-01T20:00Z"), "TAV02", 2),
    ],
)
def test_bad_input_is_one_line_with_the_class_exit_code_and_changes_nothing(
    tm_dsn: str, floor: tuple[d.Floor, uuid.UUID], args: tuple[str, ...], code: str, exit_code: int
) -> None:
    f, booking = floor
    names = {"booking": str(booking), "t1": str(f.by_number["T1"]), "unknown": str(uuid.uuid4())}
    before = _state(tm_dsn)
    done = run(*(a.format(**names) for a in args), "--dsn", tm_dsn)
    _one_line_error(done, code, exit_code)
    after = _state(tm_dsn)
    # a conflict (exit 3) is recorded as one observability event; nothing else changes, and nothing at all otherwise
    events = after.pop("events")[0]["n"] - before.pop("events")[0]["n"]
    assert (after, events) == (before, 1 if exit_code == 3 else 0)


def test_unreachable_server_is_one_line() -> None:
    done = run("assign", str(uuid.uuid4()), str(uuid.uuid4()), "--dsn",
               "postgresql://postgres:x@127.0.0.1:1/nowhere?connect_timeout=2", timeout=30)
    _one_line_error(done, "TMU02", 2)
    assert "127.0.0.1:1/nowhere" in done.stderr


def test_help_teaches_with_examples() -> None:
    for command in (("assign",), ("unassign",), ("hold", "create"), ("booking", "set-status"), ("sample",)):
        done = run(*command, "--help")
        assert done.returncode == 0, done.stderr
        assert "Example" in done.stdout and "--dsn" in done.stdout, command


def test_ids_stay_whole_at_80_columns(tm_dsn: str, floor: tuple[d.Floor, uuid.UUID]) -> None:
    """Issue 12: at 80 columns rich folded UUIDs over two lines (assign's table, booking show); a record now prints as
    ``key: value`` lines and a table with ids grows wider than the terminal instead of splitting them."""
    f, booking = floor
    t1, t2 = f.by_number["T1"], f.by_number["T2"]
    narrow = {"COLUMNS": "80"}
    assigned = run("assign", str(booking), str(t1), str(t2), "--adjacency", "--dsn", tm_dsn, env=narrow)
    assert assigned.returncode == 0, assigned.stderr
    merge = _json("booking", "show", str(booking), "--dsn", tm_dsn)
    for table_id in (t1, t2):
        assert str(table_id) in assigned.stdout, assigned.stdout
    assert "19:00:00+00:00" in assigned.stdout  # instants with seconds and offset
    shown = run("booking", "show", str(booking), "--dsn", tm_dsn, env=narrow)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert f"booking_id:       {booking}" in lines, shown.stdout
    assert any(ln.startswith("table_ids:") and str(t1) in ln and str(t2) in ln for ln in lines), shown.stdout
    assert merge["booking_id"] == str(booking)
