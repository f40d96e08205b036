"""The doctor on the origin's schema at its historical points (``sandbox.ORIGIN_VARIANTS``), every state of §3.

One template per variant (built once, with the legacy overload and index so D3 / D4 can be seeded everywhere), cloned
per case. For each: the call fails → scan, explain and plan run without error (plan changes nothing) → for the
repairable states verify and repair make the real retry succeed → undo restores byte-identical tables and the retry
fails again exactly as before. D3 / D4 are schema defects and D1c a live conflict: reported `human`, nothing repaired.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest

from tablemend import db, sandbox
from tablemend.doctor import explain, plan, repair, scan, undo, verify
from tablemend.doctor.rules import Context, Safety
from tests.acceptance.cli import error_of, result_of, run
from tests.conftest import TemplateFactory
from tests.integration.test_doctor_states import LIVE_CONFLICTS, checksums, ctx_for, outcome

VARIANTS = [v for v in sandbox.ORIGIN_VARIANTS if v != "newest"]  # newest: test_doctor_states


def _build(variant: str, dsn: str) -> None:
    with db.connect(dsn, autocommit=True) as conn:
        sandbox.build_origin(conn, legacy_overload=True, legacy_idempotency_index=True, variant=variant)


@pytest.fixture(params=VARIANTS)
def variant_dsn(request: pytest.FixtureRequest, templates: TemplateFactory) -> Iterator[str]:
    with templates.database(f"origin_{request.param.replace('-', '_')}", partial(_build, request.param)) as dsn:
        yield dsn


@pytest.mark.parametrize("code", sandbox.ORIGIN_STATES)
def test_every_state_on_every_variant(variant_dsn: str, code: str) -> None:
    with db.connect(variant_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, code)
        failing = outcome(conn, case)
        if code != "orphan-merge-groups":  # hygiene only: that call succeeds
            assert failing[0] is not None or failing[2] != len(case.table_ids), f"{code} fails on this variant"
        ctx = ctx_for(conn, case)
        findings = list(scan(conn, ctx=ctx))
        assert findings, "scan reports the state"
        explain(conn, booking_id=case.booking_id, table_ids=case.table_ids, start_at=case.start_at,
                end_at=case.end_at, idempotency_key=case.idempotency_key)
        confirm = [f.id for f in findings if f.safety is Safety.confirm]
        before = checksums(conn)
        plan(conn, ctx, include=confirm)
        assert checksums(conn) == before, "plan changes nothing"
        if code in ("D3", "D4"):
            wanted = "TMD014" if code == "D3" else "TMD015"
            # the overload affects only calls naming 5 or fewer arguments: a whole scan reports it, P's scope does not
            found = findings if code == "D3" else list(scan(conn))
            assert any(f.code == wanted and f.safety is Safety.human for f in found)
            return
        if code in LIVE_CONFLICTS:  # B is live and seated on X over P's window: a person's call, nothing repaired
            assert [f for f in findings if f.safety is Safety.human and f.booking_id in case.blocking_booking_ids]
            assert repair(conn, ctx, include=confirm).repair_id is None
            assert checksums(conn) == before
            return
        checked = verify(conn, ctx, include=confirm, explicit_window=case.start_at is not None)
        assert checked.allocator.ok, checked.allocator
        assert checksums(conn) == before, "verify changes nothing"
        result = repair(conn, ctx, include=confirm)
        assert result.repair_id is not None
        state, message, rows = outcome(conn, case)
        assert (state, rows) == (None, len(case.table_ids)), message
        undo(conn, result.repair_id)
        assert checksums(conn) == before, "undo restores byte-identical tables"
        assert outcome(conn, case) == failing


def test_scan_json_is_valid_on_every_variant(templates: TemplateFactory) -> None:
    """The CLI's --format json output parses on every variant: findings, and a JSON error object on failure."""
    for variant in VARIANTS:
        kind = f"origin_{variant.replace('-', '_')}"
        with templates.database(kind, partial(_build, variant)) as dsn:
            with db.connect(dsn, autocommit=True) as conn:
                case = sandbox.seed_state(conn, "D1")
            done = run("doctor", "scan", "--dsn", dsn, "-f", "json")
            assert done.returncode == 1, done.stderr
            assert any(f["booking"] == str(case.blocking_booking_ids[0]) for f in result_of(done.stdout))
            done = run("doctor", "explain", "--dsn", dsn, "--booking", str(case.booking_id),
                       "--tables", ",".join(map(str, case.table_ids)), "-f", "json")
            assert done.returncode == 0, done.stderr
            assert result_of(done.stdout)["blockers"]
            missing = "00000000-0000-0000-0000-000000000000"
            done = run("doctor", "scan", "--dsn", dsn, "--booking", missing, "-f", "json")
            assert done.returncode == 4  # not found, as the allocator's unknown booking (TMD60)
            assert error_of(done.stdout)["message"] == f"booking {missing} not found"
            assert "error [" in done.stderr


def test_features_decide_applicability(templates: TemplateFactory) -> None:
    """The profile records columns and constraints; a check without a required feature is 'not applicable, needs X',
    a check with an equivalent query runs it (the scan notes both on stderr)."""
    import dataclasses

    from tablemend.doctor import profile as profiles
    from tablemend.doctor import scanner

    with templates.database("origin_early_november", partial(_build, "early-november")) as dsn:
        with db.connect(dsn, autocommit=True) as conn:
            prof = profiles.detect(conn)
        assert not prof.catalog.has("public.booking_table_assignments.assignment_window")
        assert prof.catalog.has("public.booking_table_assignments.start_at")
        assert prof.catalog.has("public.allocations:allocations_resource_window_excl")
        assert "public.allocations:allocations_resource_window_excl" in prof.catalog.deferred
        by_code = {c.code: c for c in scanner.checks(prof)}
        assert by_code["TMD010"].variants() == ("no_hold_status",)
        assert "status" not in by_code["TMD010"].queries()["detect"].split("WHERE", 1)[1]
        assert "repair_status" not in by_code["TMD010"].queries()
        without = dataclasses.replace(prof, catalog=dataclasses.replace(
            prof.catalog, functions={k: v for k, v in prof.catalog.functions.items()
                                     if k != "public.refresh_table_status"}))
        assert "TMD013" not in {c.code for c in scanner.checks(without)}
        assert [(c.code, needs) for c, needs in scanner.not_applicable(without)] == [
            ("TMD013", ("public.refresh_table_status",))]
        done = run("doctor", "scan", "--dsn", dsn, "-f", "json")
        # the legacy pieces (an affected server adds its own TMD022, which is about the server, not this schema)
        assert {f["code"] for f in result_of(done.stdout)} - {"TMD022"} == {"TMD014", "TMD015"}
        assert "TMD010 uses its equivalent query without public.table_holds.status" in done.stderr


def test_doctor_without_allocation_id(origin_dsn: str) -> None:
    """A database from before M/20251101170000 has no booking_table_assignments.allocation_id: scan, plan, repair and
    undo work there (the sandbox's function writes that column, so the states are seeded before it is dropped)."""
    with db.connect(origin_dsn, autocommit=True) as conn:
        cases = [sandbox.seed_state(conn, code) for code in ("D1", "D1b", "leftover-allocation")]
        conn.execute("ALTER TABLE public.booking_table_assignments DROP COLUMN allocation_id")
        for case in cases:
            ctx = ctx_for(conn, case)
            findings = list(scan(conn, ctx=ctx))
            assert findings, case.code
            confirm = [f.id for f in findings if f.safety is Safety.confirm]
            before = checksums(conn)
            assert plan(conn, ctx, include=confirm).changes
            assert checksums(conn) == before
            result = repair(conn, ctx, include=confirm)
            assert result.repair_id is not None and checksums(conn) != before
            assert not [f for f in scan(conn, ctx=ctx) if f.safety is not Safety.human]
            undo(conn, result.repair_id)
            assert checksums(conn) == before, case.code


def test_set_based_hold_repairs_without_hold_status(templates: TemplateFactory) -> None:
    """Before table_holds.status the set-based repairs of TMD010 / TMD021 drop the status update (their
    ``bulk_repair_status__no_hold_status`` variant): an expired hold's member goes, and undo brings it back."""
    from tests.integration.test_doctor_cases import BASES, _fill

    with templates.database("origin_no_hold_status", partial(_build, "no-hold-status")) as dsn, \
            db.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            for statement in BASES["origin"]["setup"]:
                conn.execute(_fill(statement).encode())
            conn.execute(_fill("INSERT INTO public.table_holds (id, restaurant_id, zone_id, start_at, end_at, "
                               "expires_at) VALUES ('{H}', '{R}', '{Z1}', '2020-01-01 19:00+00', "
                               "'2020-01-01 21:00+00', '2020-01-01 21:00+00')").encode())
            conn.execute(_fill("INSERT INTO public.table_hold_members (hold_id, table_id) "
                               "VALUES ('{H}', '{T1}')").encode())
        assert "TMD010" in {f.code for f in scan(conn)}
        before = checksums(conn)
        result = repair(conn, Context(), all_safe=True)
        assert result.repair_id is not None
        assert "TMD010" in {f.code for f in result.plan.selection.apply}
        members = conn.execute("SELECT count(*) AS n FROM public.table_hold_members").fetchone()
        assert members is not None and members["n"] == 0
        assert "TMD010" not in {f.code for f in scan(conn)}
        undo(conn, result.repair_id)
        assert checksums(conn) == before
