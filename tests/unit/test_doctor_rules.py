"""Pure logic of the doctor: registry, stable finding ids, selection by safety, error parsing, generated docs."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tablemend.doctor import registry
from tablemend.doctor.docs import render
from tablemend.doctor.explainer import parse_error_table
from tablemend.doctor.repairs import select
from tablemend.doctor.rules import Category, Finding, Level, Safety
from tablemend.errors import ErrorNotRecognised, FindingNotFound, RepairRefused, UsageError

ROOT = Path(__file__).resolve().parents[2]


def _finding(code: str = "TMD001", safety: Safety = Safety.safe, **key: object) -> Finding:
    return Finding(code=code, level=Level.error, safety=safety, restaurant_id=None, booking_id=None, table_id=None,
                   detail="d", remediation="r", key=key or {"booking_id": "b", "table_id": "t"})


def test_registry_codes_are_stable_and_complete() -> None:
    checks = registry()
    # codes are assigned by number (not always consecutive: TMD032 was handed out before TMD022-TMD031 exist)
    assert list(checks) == sorted(checks)
    assert [c for c in checks if c <= "TMD021"] == [f"TMD{n:03d}" for n in range(1, 22)]
    assert all(len(c) == 6 and c[3:].isdigit() for c in checks)
    names = [c.name for c in checks.values()]
    assert len(set(names)) == len(names)
    for code, check in checks.items():
        assert check.code == code
        assert "detect" in check.sql(), code
        assert check.description().startswith(f"{code}:"), code
        assert check.remediation.strip(), code
        assert isinstance(check.category, Category), code  # every format names it (issue 12)
        has_repair = any(name.startswith("repair") for name in check.sql())
        assert has_repair == (check.safety is not Safety.human), code


def test_finding_id_is_stable_and_depends_only_on_the_key() -> None:
    a = _finding(booking_id="x", table_id="y")
    b = Finding(code="TMD001", level=Level.warning, safety=Safety.confirm, restaurant_id=None, booking_id=None,
                table_id=None, detail="other text", remediation="", key={"table_id": "y", "booking_id": "x"})
    assert a.id == b.id
    assert a.id.startswith("TMD001-") and len(a.id) == len("TMD001-") + 10
    assert _finding(booking_id="x", table_id="z").id != a.id
    assert _finding("TMD002", booking_id="x", table_id="y").id != a.id


def test_scope_collects_ids_from_key_and_metadata() -> None:
    b, t, h = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    f = Finding(code="TMD010", level=Level.error, safety=Safety.safe, restaurant_id=None, booking_id=b,
                table_id=None, detail="", remediation="", key={"hold_id": str(h)}, metadata={"tables": [str(t)]})
    scope = f.scope()
    assert scope.bookings == {b} and scope.holds == {h} and scope.tables == {t}


def test_select_by_safety() -> None:
    safe, confirm, human = _finding(a=1), _finding(safety=Safety.confirm, a=2), _finding(safety=Safety.human, a=3)
    chosen = select([safe, confirm, human], all_safe=True)
    assert chosen.apply == (safe,)
    assert {f.id for f, _ in chosen.skipped} == {confirm.id, human.id}
    assert select([safe, confirm], all_safe=False, include=[confirm.id]).apply == (confirm,)
    with pytest.raises(RepairRefused):
        select([human], all_safe=True, include=[human.id])
    with pytest.raises(FindingNotFound):
        select([safe], all_safe=True, include=["TMD009-0000000000"])


def test_parse_error_table() -> None:
    table, p = uuid.uuid4(), uuid.uuid4()
    assert parse_error_table(f"assign_tables_atomic_v2 assignment duplicate for table {table}") == table
    assert parse_error_table(None) is None
    with pytest.raises(ErrorNotRecognised):
        parse_error_table("something went wrong")
    # a booking id is not a table (issue 17 item 4), and it must be P's
    assert parse_error_table(f"assign_tables_atomic_v2 idempotency mismatch for booking {p}", p) is None
    with pytest.raises(UsageError):
        parse_error_table(f"assign_tables_atomic_v2 idempotency mismatch for booking {p}", uuid.uuid4())
    detail = f"allocations_no_overlap DETAIL: Resource {table} overlaps requested window for booking {p}"
    assert parse_error_table(detail, p) == table


def test_every_known_shape_is_recognised() -> None:
    from tablemend.doctor import messages

    p, t, z = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    samples = {
        "hold-conflict-real": 'unrecognized format() type specifier " "',
        "unique": 'duplicate key value violates unique constraint "booking_assignment_idempotency_booking_hash_key"',
        "exclusion": 'conflicting key value violates exclusion constraint "no_overlapping_table_assignments"',
        "zone-lock": f"Booking {p} locked to zone {z}, cannot assign zone {uuid.uuid4()}",
        "no-assignments": f"assign_tables_atomic_v2 returned no assignments for booking {p}",
        "not-adjacent": f"Table {t} is not adjacent to the selected set",
    }
    for name, text in samples.items():
        parsed = messages.parse(text, p)
        assert parsed is not None and parsed.shape.name == name, text
    assert messages.parse(samples["unique"], p).constraint == "booking_assignment_idempotency_booking_hash_key"  # type: ignore[union-attr]


def test_manual_sql_is_literal() -> None:
    check = registry()["TMD007"]()
    text = check.manual_sql(_finding("TMD007", booking_id="6f1c", idempotency_key="it's"))
    assert text is not None
    assert "%(" not in text and "'it''s'" in text and "'6f1c'::uuid" in text


def test_committed_docs_match_the_registry() -> None:
    committed = (ROOT / "docs" / "doctor.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/doctor.md is stale: run `python -m tablemend.doctor.docs`"
    for code in registry():
        assert f"### {code} " in committed


def test_every_row_repair_has_its_set_based_form() -> None:
    """Each ``repair*`` statement has a ``bulk_repair*`` twin (repairs run set-based, doctor/bulk.py), and the check
    says which checks its repair can expose (otherwise every round re-detects everything)."""
    from tablemend.doctor.bulk import EXPOSES

    actions = {"TMD023"}  # an index rebuild outside the repair transaction, not a row repair
    for code, cls in registry().items():
        queries = cls().queries()
        rows = sorted(name for name in queries if name.startswith("repair"))
        if not rows or code in actions:
            continue
        assert sorted(name.removeprefix("bulk_") for name in queries if name.startswith("bulk_repair")) == rows, code
        assert code in EXPOSES, code


def test_explains_state_lines_are_plain_text() -> None:
    """Issue 12: explain printed TMD015's state with the docstring's literal double backticks."""
    from tablemend.doctor.explainer import why
    from tablemend.doctor.rules import registry

    lines = {code: why(check) for code, check in registry().items()}
    assert "assign_tables_atomic_v2" in lines["TMD015"]
    assert not [code for code, line in lines.items() if "``" in line or not line.strip()], lines


def test_the_page_generator_treats_options_as_options_not_as_the_output_path(tmp_path: Path) -> None:
    # `python -m tablemend.doctor.docs --help` wrote the page into a file named "--help"
    for args, code in ((["--help"], 0), (["--nonsense"], 2)):
        run = subprocess.run([sys.executable, "-m", "tablemend.doctor.docs", *args], cwd=tmp_path,
                             capture_output=True, text=True, check=False)
        assert run.returncode == code, run.stderr
        assert "usage: python -m tablemend.doctor.docs" in run.stdout + run.stderr
        assert list(tmp_path.iterdir()) == [], "an option was taken for the output path"
    run = subprocess.run([sys.executable, "-m", "tablemend.doctor.docs", "out/doctor.md"], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert (tmp_path / "out" / "doctor.md").read_text(encoding="utf-8") == render()
