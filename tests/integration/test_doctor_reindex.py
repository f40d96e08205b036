"""TMD023: occupancy indexes that lost live entries are found, rebuilt outside the repair transaction, and followed by
the live-overlap check; on both profiles, on both servers of the run."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, LiteralString, cast

import psycopg
import pytest

from tablemend import db, integrity
from tablemend.doctor import context, journal, reindex, scan, undo
from tablemend.doctor import profile as profiles
from tablemend.doctor.rules import Context, Finding
from tablemend.doctor.scanner import opted_out
from tablemend.errors import IndexRebuildRefused, RepairRefused, TablemendError
from tablemend.sqlfiles import split_named
from tests.acceptance.cli import result_of, run
from tests.integration import tmdata as d

SQL = split_named(cast(LiteralString, (Path(__file__).parent / "gist_damage.sql").read_text(encoding="utf-8")))
TM_INDEX = "public.booking_table_assignments_no_overlap"


def _tmd023(conn: db.Connection, restaurant: uuid.UUID | None = None) -> list[Finding]:
    return list(scan(conn, ctx=Context(restaurant_id=restaurant), codes=["TMD023"]))


def _insert(conn: db.Connection, restaurant: uuid.UUID, table: uuid.UUID, start: float, end: float) -> uuid.UUID:
    with conn.transaction():
        conn.execute(SQL["replica"])
        row = conn.execute(SQL["assignment"], {"restaurant": restaurant, "table": table,
                                               "start_at": d.at(start), "end_at": d.at(end)}).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def _damage_by_rescan(conn: db.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    """spec/gist-rescan-kill.sql's pattern on booking_table_assignments: returns (restaurant, filled restaurant)."""
    # fixed ids: the page split (so what the stale offset hits) depends on them
    restaurant, other = uuid.UUID(int=0xA1 << 64), uuid.UUID(int=0xB2 << 64)
    table = uuid.UUID(int=0xC3 << 64)
    with conn.transaction() as aborted:  # the first entry of the root page: a row dead to everyone
        conn.execute(SQL["replica"])
        conn.execute(SQL["assignment"], {"restaurant": restaurant, "table": table, "start_at": d.at(10),
                                         "end_at": d.at(11)})
        raise psycopg.Rollback(aborted)
    _insert(conn, restaurant, table, 12, 13)  # the second entry: live
    conn.execute(SQL["fill_function"])
    with conn.transaction():
        conn.execute(SQL["plain_index_scans"])
        plan = "\n".join(str(r["QUERY PLAN"]) for r in conn.execute(SQL["rescan_plan"], {"other": other}))
        assert "Nested Loop" in plan and "Index Scan using booking_table_assignments_no_overlap" in plan, plan
        conn.execute(SQL["rescan"], {"other": other}).fetchall()
    return restaurant, other


def _copy(conn: db.Connection, row_id: str) -> uuid.UUID:
    with db.translated(), conn.transaction():
        conn.execute(SQL["replica"])
        row = conn.execute(SQL["copy_row"], {"id": row_id}).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def test_rescan_pattern_damages_only_an_affected_server_and_repair_rebuilds(tm_dsn: str) -> None:
    with db.connect(tm_dsn, autocommit=True) as conn:
        affected = integrity.server_check(conn).verdict is integrity.Verdict.affected
        _, other = _damage_by_rescan(conn)
        findings = _tmd023(conn)
        any_row = conn.execute("SELECT id::text AS id FROM booking_table_assignments WHERE restaurant_id = %s"
                               " ORDER BY start_at LIMIT 1", (other,)).fetchone()
        assert any_row is not None
        if not affected:  # a fixed server: the same statement leaves the index whole, the constraint refuses a copy
            assert findings == []
            with pytest.raises(TablemendError) as refused:
                _copy(conn, any_row["id"])
            assert refused.value.sqlstate == "23P01"
            return
        (finding,) = findings
        assert finding.key == {"index": TM_INDEX} and finding.restaurant_id == other
        assert finding.metadata["lost"] == 1
        (lost,) = finding.metadata["missing_rows"][str(other)]
        # the consequence: the exclusion constraint no longer sees that row, a double booking commits
        double = _copy(conn, lost)
        with pytest.raises(IndexRebuildRefused) as refused:
            reindex.rebuild(conn, finding, profile="tablemend")
        assert refused.value.details is not None and lost in refused.value.details
        assert str(double) in refused.value.details
        assert conn.execute("SELECT count(*) AS n FROM pg_class WHERE relname LIKE '%ccnew%'").fetchone() == {"n": 0}
        conn.execute("DELETE FROM booking_table_assignments WHERE id = %s", (double,))  # a person chose
        result = reindex.rebuild(conn, finding, profile="tablemend")
        assert (result.lost_before, result.lost_after, result.overlaps) == (1, 0, ())
        assert _tmd023(conn) == []
        with pytest.raises(TablemendError) as refused_again:
            _copy(conn, lost)
        assert refused_again.value.sqlstate == "23P01"
        (entry,) = journal.entries(conn)
        assert entry["kind"] == "action"
        with pytest.raises(RepairRefused, match="no undo"):
            undo(conn, result.action_id)


def _not_ready(conn: db.Connection, index: str, ready: bool) -> None:
    conn.execute(SQL["index_not_ready"], {"index": index, "ready": ready})


def assignment_the_index_never_got(conn: db.Connection) -> tuple[d.Floor, uuid.UUID]:
    """A new restaurant's booking assigned a table while tablemend's occupancy index took no entries (TMD023)."""
    f = d.floor(conn)
    booking = d.booking(conn, f.restaurant_id)
    _not_ready(conn, TM_INDEX, False)
    conn.execute("SELECT * FROM assign_tables_atomic_v2(%s, ARRAY[%s]::uuid[], NULL, false, NULL, NULL, NULL)",
                 (booking, f.tables[0]))
    _not_ready(conn, TM_INDEX, True)
    return f, booking


def test_origin_index_without_live_entries_is_rebuilt_after_the_overlap_is_resolved(origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        restaurant = conn.execute("INSERT INTO restaurants (name, slug, timezone) VALUES ('Idx', 'idx', 'UTC')"
                                  " RETURNING id").fetchone()
        assert restaurant is not None
        rid, table = restaurant["id"], uuid.uuid4()
        _not_ready(conn, "public.allocations_no_overlap", False)
        with conn.transaction():  # entries the index never got, two of them overlapping
            conn.execute(SQL["replica"])
            for start in (19, 20, 23):
                conn.execute("INSERT INTO allocations (restaurant_id, resource_type, resource_id, \"window\")"
                             " VALUES (%s, 'table', %s, tstzrange(%s, %s))", (rid, table, d.at(start),
                                                                            d.at(start + 2)))
        _not_ready(conn, "public.allocations_no_overlap", True)
        (finding,) = [f for f in _tmd023(conn) if f.key["index"] == "public.allocations_no_overlap"]
        assert finding.metadata["lost"] == 3 and finding.restaurant_id == rid
        with pytest.raises(IndexRebuildRefused) as refused:
            reindex.rebuild(conn, finding, profile="origin")
        assert "overlap" in refused.value.message
        conn.execute("DELETE FROM allocations WHERE restaurant_id = %s AND lower(\"window\") = %s",
                     (rid, d.at(20)))
        result = reindex.rebuild(conn, finding, profile="origin")
        assert (result.lost_before, result.lost_after, result.overlaps) == (2, 0, ())
        assert _tmd023(conn) == []


def test_doctor_repair_rebuilds_first_then_repairs_rows(tm_dsn: str) -> None:
    """`doctor repair --all-safe` in a subprocess: the rebuild runs before (and outside) the row repair."""
    with db.connect(tm_dsn, autocommit=True) as conn:
        f, booking = assignment_the_index_never_got(conn)
        assert len(_tmd023(conn)) == 1
    out = run("doctor", "repair", "--all-safe", "--yes", "--dsn", tm_dsn, "-f", "json")
    assert out.returncode == 0, out.stderr
    body: dict[str, Any] = result_of(out.stdout)
    (action,) = body["actions"]
    assert (action["index"], action["lost_before"], action["lost_after"], action["overlaps"]) == (TM_INDEX, 1, 0, [])
    assert "rebuilt public.booking_table_assignments_no_overlap" in out.stderr
    with db.connect(tm_dsn, autocommit=True) as conn:
        assert _tmd023(conn) == []
        assert [r["table_id"] for r in d.assignments(conn, booking)] == [f.tables[0]]  # the live row is untouched


def test_repair_reads_each_occupancy_index_once(origin_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`repair --all-safe` checks the occupancy indexes before its transaction (to rebuild a damaged one there); the
    transaction does not read them again (at 500k bookings each read is seconds). Counted in process: every
    comparison of an index with its table goes through reindex.compare."""
    from typer.testing import CliRunner

    from tablemend.cli import app
    from tablemend.sandbox import seed_state

    with db.connect(origin_dsn, autocommit=True) as conn:
        seed_state(conn, "D1")
        present = [i.index for i in reindex.present(conn, "origin")]
    assert present  # the origin's occupancy indexes
    compared: list[str] = []
    real = reindex.compare

    def counting(conn: db.Connection, idx: reindex.OccupancyIndex, restaurant: uuid.UUID | None = None
                 ) -> reindex.Comparison:
        compared.append(idx.index)
        return real(conn, idx, restaurant)

    monkeypatch.setattr(reindex, "compare", counting)
    result = CliRunner().invoke(app, ["doctor", "repair", "--all-safe", "--yes", "--dsn", origin_dsn,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert sorted(compared) == sorted(present)


def test_whole_scan_runs_index_verification_only_when_asked(tm_dsn: str) -> None:
    """TMD023 reads every occupancy index whole: a whole-database or restaurant scan leaves it out (and says how to
    run it) unless it is named or asked for; a --booking scan runs it."""
    with db.connect(tm_dsn, autocommit=True) as conn:
        f, booking = assignment_the_index_never_got(conn)
        prof = profiles.detect(conn)
        whole, one = Context(), Context(restaurant_id=f.restaurant_id)
        for ctx in (whole, one):
            assert "TMD023" not in {x.code for x in scan(conn, ctx=ctx)}
            ((check, why),) = opted_out(prof, ctx)
            assert check.code == "TMD023" and "--check TMD023" in why
            assert [x.code for x in scan(conn, ctx=ctx, verify_indexes=True) if x.code == "TMD023"] == ["TMD023"]
            assert [x.code for x in scan(conn, ctx=ctx, codes=["TMD023"])] == ["TMD023"]
            assert opted_out(prof, ctx, ["TMD023"]) == [] and opted_out(prof, ctx, verify_indexes=True) == []
        for_booking = context(conn, booking_id=booking)
        assert opted_out(prof, for_booking) == []
        assert "TMD023" in {x.code for x in scan(conn, ctx=for_booking)}
