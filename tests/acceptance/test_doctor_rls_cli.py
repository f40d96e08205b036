"""Complete or refuse: the doctor under the origin's row-level security (issue 17, item 1).

The origin sandbox with its tenant policies (``app.restaurant_id``) and a login role that may SELECT every table but
neither owns them nor has BYPASSRLS. Every doctor verb refuses with exit 2 and one typed error (TMD70) naming a table,
and prints no report; ``--restaurant R`` covers exactly R's findings and says so. The owner still sees everything.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tablemend import db, sandbox
from tests.acceptance.cli import error_of, result_of, run


@pytest.fixture
def rls_origin(origin_dsn: str) -> Iterator[tuple[str, str, list[sandbox.StateCase]]]:
    """(owner dsn, reader dsn, seeded cases): RLS on, two restaurants with findings, a SELECT-only login role."""
    role = f"tm_rls_reader_{uuid.uuid4().hex[:12]}"
    password = secrets.token_hex(16)
    with db.connect(origin_dsn, autocommit=True) as conn:
        sandbox.enable_rls(conn)
        cases = [sandbox.seed_state(conn, "D1"), sandbox.seed_state(conn, "leftover-allocation")]
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOBYPASSRLS PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)))
        try:
            for schema in ("public", "auth"):
                conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {s} TO {r}; GRANT SELECT ON ALL TABLES IN SCHEMA {s} "
                                     "TO {r}").format(s=sql.Identifier(schema), r=sql.Identifier(role)))
            yield origin_dsn, make_conninfo(origin_dsn, user=role, password=password), cases
        finally:
            with psycopg.connect(origin_dsn, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP OWNED BY {r}; DROP ROLE {r}").format(r=sql.Identifier(role)))


def _refused(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    # never a report: nothing on stdout, or (JSON mode) only the error object
    assert out.stdout == "" or error_of(out.stdout)["code"] == "TMD70", out.stdout
    assert "TMD70" in out.stderr and "booking" in out.stderr, out.stderr
    assert "BYPASSRLS" in out.stderr and "--restaurant" in out.stderr
    assert "Traceback" not in out.stderr


def test_rls_filtered_role_is_refused_by_every_verb(rls_origin: tuple[str, str, list[sandbox.StateCase]]) -> None:
    owner, reader, cases = rls_origin
    p = str(cases[0].booking_id)
    _refused(run("doctor", "scan", "--dsn", reader, "--format", "json"))
    _refused(run("doctor", "scan", "--dsn", reader, "--booking", p))
    _refused(run("doctor", "plan", "--dsn", reader, "--format", "json"))
    _refused(run("doctor", "repair", "--dsn", reader, "--all-safe", "--yes"))
    _refused(run("doctor", "repair", "--dsn", reader, "--booking", p, "--yes"))
    _refused(run("doctor", "verify", "--dsn", reader, "--booking", p))
    _refused(run("doctor", "explain", "--dsn", reader, "--booking", p))
    _refused(run("doctor", "gate", "--dsn", reader))
    _refused(run("doctor", "undo", str(uuid.uuid4()), "--dsn", reader))

    # the owner is not filtered: the whole database, both restaurants
    full = run("doctor", "scan", "--dsn", owner, "--format", "json")
    assert full.returncode == 1, full.stderr
    restaurants = {f["restaurant"] for f in _data_findings(result_of(full.stdout))}
    assert restaurants == {str(c.restaurant_id) for c in cases}


def _data_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The data's findings: TMD022 is the server's own (the GiST rescan bug of an affected server), in no restaurant."""
    return [f for f in findings if f["code"] != "TMD022"]


def test_explicit_restaurant_scope_covers_exactly_r(rls_origin: tuple[str, str, list[sandbox.StateCase]]) -> None:
    owner, reader, cases = rls_origin
    for case in cases:
        r = str(case.restaurant_id)
        scoped = run("doctor", "scan", "--dsn", reader, "--restaurant", r, "--format", "json")
        assert scoped.returncode == 1, scoped.stderr
        assert f"covers restaurant {r} only" in scoped.stderr
        mine = result_of(scoped.stdout)
        assert _data_findings(mine) and {f["restaurant"] for f in _data_findings(mine)} == {r}
        assert all(f["scope"] == f"restaurant {r}" for f in mine)
        as_owner = result_of(run("doctor", "scan", "--dsn", owner, "--restaurant", r, "--format", "json").stdout)
        assert sorted(f["id"] for f in mine) == sorted(f["id"] for f in as_owner)
    r = str(cases[0].restaurant_id)
    script = run("doctor", "plan", "--dsn", owner, "--restaurant", r, "--sql")
    assert script.returncode == 0 and script.stdout.startswith(f"-- covers restaurant {r} only\n"), script.stderr
    planned = result_of(run("doctor", "plan", "--dsn", owner, "--restaurant", r, "--format", "json").stdout)
    assert planned["scope"] == f"restaurant {r}" and planned["apply"]
    assert {f["restaurant"] for f in planned["apply"]} == {r}
    # a restaurant the policies do not show (here: one that does not exist) is refused, not reported clean
    ghost = run("doctor", "scan", "--dsn", reader, "--restaurant", str(uuid.uuid4()), "--format", "json")
    assert ghost.returncode == 2 and "TMD71" in ghost.stderr, ghost.stderr
    assert ghost.stdout == "" or error_of(ghost.stdout)["code"] == "TMD71", ghost.stdout


def test_sandbox_builds_the_origin_with_its_tenant_policies(empty_dsn: str) -> None:
    built = run("sandbox", "origin", "--dsn", empty_dsn, "--states", "D1", "--rls", "--format", "json")
    assert built.returncode == 0, built.stderr
    with db.connect(empty_dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
                            " AND c.relrowsecurity ORDER BY 1").fetchall()
    protected = {r["relname"] for r in rows}
    assert {"bookings", "booking_table_assignments", "allocations", "booking_assignment_idempotency",
            "table_holds", "table_hold_windows", "table_hold_members"} <= protected
