"""``doctor plan --sql`` is injection-proof: whatever the rows hold, the emitted script, run with psql, changes exactly
the rows the plan reported and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tablemend import db, sandbox
from tablemend.doctor import context, plan
from tablemend.doctor.script import bind, comment, literal

_HOSTILE = ["\n", "\r", "'", "''", '"', "$$", "$x$", "--", "/*", "*/", ";", "\\", "\\\\", "\\!", "\\i /etc/passwd",
            ":foo", ":'foo'", "E'", "\t", "\u2028", "é", "日本", "😀", "%(booking_id)s", "%%", "%s",
            "\nDROP TABLE public.bookings CASCADE;\n-- ", "'; DROP TABLE public.bookings CASCADE; --",
            "*/ DROP TABLE public.bookings; /*"]
_ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)  # what text can hold
hostile_text = st.lists(st.sampled_from(_HOSTILE) | _ANY_TEXT, min_size=1, max_size=6).map("".join)


def _snapshot(conn: db.Connection) -> dict[str, set[str]]:
    """Every row of every table in public, as sorted JSON (the relations themselves included: a DROP shows)."""
    out: dict[str, set[str]] = {}
    names = [r["relname"] for r in conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'").fetchall()]
    for name in names:
        query = sql.SQL("SELECT to_jsonb(t) AS r FROM {} t").format(sql.Identifier("public", name))
        out[f"public.{name}"] = {json.dumps(r["r"], sort_keys=True) for r in conn.execute(query).fetchall()}
    return out


def _pk(row: dict[str, Any], pk: dict[str, Any]) -> bool:
    return all(row.get(k) == v for k, v in pk.items())


@pytest.fixture
def ledger_case(origin_dsn: str) -> tuple[str, sandbox.StateCase, dict[str, Any]]:
    with db.connect(origin_dsn, autocommit=True) as conn:
        case = sandbox.seed_state(conn, "ledger-replay-empty")
        row = conn.execute("SELECT to_jsonb(l) AS r FROM public.booking_assignment_idempotency l"
                           " WHERE booking_id = %s", (case.booking_id,)).fetchone()
    assert row is not None
    return origin_dsn, case, dict(row["r"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(hostile_text, min_size=1, max_size=3, unique=True))
def test_the_plan_script_does_only_what_the_plan_says(ledger_case: tuple[str, sandbox.StateCase, dict[str, Any]],
                                                      keys: list[str]) -> None:
    """Found 3: a key containing a newline and a statement made the reviewed script run that statement."""
    psql = shutil.which("psql")
    assert psql is not None, "psql must be on PATH (CI installs postgresql-client-15)"
    dsn, case, template = ledger_case
    with db.connect(dsn, autocommit=True) as conn:
        for key in keys:  # ledger rows without assignments (TMD007), keyed with hostile text
            conn.execute("INSERT INTO public.booking_assignment_idempotency SELECT * FROM"
                         " jsonb_populate_record(NULL::public.booking_assignment_idempotency, %s::jsonb)",
                         (json.dumps({**template, "idempotency_key": key, "table_set_hash": None}),))
        planned = plan(conn, context(conn, restaurant_id=case.restaurant_id), codes=["TMD007"])
        script = planned.sql()
        before = _snapshot(conn)
    assert script.isascii()
    deleted = [c for c, _ in planned.changes if c.op == "delete"]
    assert {c.pk["idempotency_key"] for c in deleted} >= set(keys)
    assert all(c.op == "delete" for c, _ in planned.changes)
    done = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", "-"], input=script,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    with db.connect(dsn, autocommit=True) as conn:
        after = _snapshot(conn)
    expected = {name: {r for r in rows if not any(
        c.relation == name and _pk(json.loads(r), dict(c.pk)) for c in deleted)} for name, rows in before.items()}
    assert after == expected


def test_literals_and_comments_are_single_line_ascii() -> None:
    value = "a'b\\c\nDROP TABLE x;\r\n-- */ $$ é 😀"
    assert literal(value) == "E'a''b\\\\c\\nDROP TABLE x;\\r\\n-- */ $$ \\u00e9 \\U0001f600'"
    assert comment(value) == "-- a'b\\\\c\\nDROP TABLE x;\\r\\n-- */ $$ \\u00e9 \\U0001f600"
    assert literal(["a", None, 'q"\\']) == "E'{\"a\",NULL,\"q\\\\\"\\\\\\\\\"}'"
    assert (literal(None), literal(True), literal(3)) == ("NULL", "true", "3")
    with pytest.raises(ValueError, match="NUL"):
        literal("a\0b")


def test_bind_substitutes_once() -> None:
    text = bind("SELECT %(a)s, %(b)s, 100%%", {"a": "%(b)s", "b": "x"})
    assert text == "SELECT E'%(b)s', E'x', 100%"


def test_literals_read_back_as_the_value(tm_conn: db.Connection) -> None:
    for value in ["plain", "it's", "back\\slash", "new\nline", "é 😀 \u2028", "$$ -- */ ;", ""]:
        query = "SELECT " + literal(value) + "::text AS v"
        assert tm_conn.execute(query.encode()).fetchone() == {"v": value}
