"""``tablemend doctor gate`` in a subprocess: exit 0 when every constraint is creatable, 1 with the blocking rows when
one is not, 2 (one line, no traceback) on bad input or an unrecognised database."""

from __future__ import annotations

from typing import Any

from tablemend import db, sandbox
from tests.acceptance.cli import error_lines, result_of, run


def pre_migration_duplicate(dsn: str) -> dict[str, Any]:
    """The pre-migration state: no (table, slot) key yet, and a second row of one booking on its table and slot."""
    with db.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.booking_table_assignments"
                     " DROP CONSTRAINT booking_table_assignments_table_id_slot_id_key,"
                     " DROP CONSTRAINT booking_table_assignments_booking_table_key")
        row = conn.execute("INSERT INTO public.booking_table_assignments (booking_id, table_id, slot_id)"
                           " SELECT booking_id, table_id, slot_id FROM public.booking_table_assignments"
                           " WHERE slot_id IS NOT NULL LIMIT 1 RETURNING id, booking_id").fetchone()
    assert row is not None
    return dict(row)


def test_gate_exit_codes(origin_dsn: str, empty_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        sandbox.seed_state(conn, "D1")
    ok = run("doctor", "gate", "--dsn", origin_dsn)
    assert ok.returncode == 0, ok.stderr
    assert "no_overlapping_table_assignments" in ok.stdout

    row = pre_migration_duplicate(origin_dsn)
    blocked = run("doctor", "gate", "--dsn", origin_dsn, "--format", "json")
    assert blocked.returncode == 1, blocked.stderr
    report = result_of(blocked.stdout)
    assert report["creatable"] is False
    verdicts = {c["constraint"]: c for c in report["constraints"]}
    assert verdicts["bta_table_slot"]["creatable"] is False and verdicts["bta_booking_table"]["creatable"] is False
    assert verdicts["bta_no_overlap"]["creatable"] is True  # the copy has no window: outside the WHERE clause
    named = {r["row_id"] for b in verdicts["bta_table_slot"]["blockers"] for r in b["rows"]}
    assert str(row["id"]) in named
    # the same verdict as GitHub Actions annotations: one ::error per constraint that cannot be created
    annotated = run("doctor", "gate", "--dsn", origin_dsn, "--format", "github")
    assert annotated.returncode == 1, annotated.stderr
    lines = annotated.stdout.splitlines()
    assert sorted(ln.split("::")[1] for ln in lines) == [
        "error title=gate booking_table_assignments_booking_table_key",
        "error title=gate booking_table_assignments_table_id_slot_id_key"], lines
    assert any(str(row["id"]) in ln for ln in lines), lines

    table = run("doctor", "gate", "--dsn", origin_dsn, "--constraint", "bta_no_overlap")
    assert table.returncode == 0, table.stderr

    for bad in (["--constraint", "nope"], ["--limit", "-1"]):
        result = run("doctor", "gate", "--dsn", origin_dsn, *bad)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(error_lines(result.stderr)) == 1, result.stderr
    unknown = run("doctor", "gate", "--dsn", empty_dsn)
    assert unknown.returncode == 2 and "TMD91" in unknown.stderr and "Traceback" not in unknown.stderr
