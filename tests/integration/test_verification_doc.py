"""docs/verification.md: the committed page equals what the code renders, and its by-hand steps work: on every
seeded state of §3, running the rendered find / lock / repair statements (psql variables filled in) makes the
database's own allocator succeed for P."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from psycopg.sql import Literal

from tablemend import db, sandbox
from tablemend.doctor import verification
from tablemend.doctor.rules import registry
from tablemend.doctor.scanner import context
from tablemend.errors import TablemendError

ROOT = Path(__file__).resolve().parents[2]
_VAR = re.compile(r":'(\w+)'")


def _run(conn: db.Connection, text: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
    """A rendered psql statement with its variables filled in (unset = empty, as psql's NULLIF form expects)."""
    filled = _VAR.sub(lambda m: Literal(str(variables.get(m.group(1)) or "")).as_string(conn), text)
    with db.translated():
        cur = conn.execute(filled.encode())
        return [dict(r) for r in cur.fetchall()] if cur.description else []


def test_page_is_current() -> None:
    assert (ROOT / "docs" / "verification.md").read_text(encoding="utf-8") == verification.render()


def test_states_table_names_what_the_doctor_finds(origin_dsn: str) -> None:
    """Every listed check is one the doctor really reports for that state (so the table cannot drift)."""
    from tablemend.doctor import scan
    from tablemend.doctor.rules import Safety

    with db.connect(origin_dsn, autocommit=True) as conn:
        for state in verification.STATES:
            case = sandbox.seed_state(conn, state.code)
            ctx = context(conn, booking_id=case.booking_id, table_ids=case.table_ids, start_at=case.start_at,
                          end_at=case.end_at, idempotency_key=case.idempotency_key)
            found = {f.code for f in scan(conn, ctx=ctx) if f.safety is not Safety.human}
            assert found == set(state.checks), state.code
            assert state.confirm == any(registry()[c].safety is Safety.confirm for c in state.checks)
        for code, _, _, check in verification.LIVE:
            case = sandbox.seed_state(conn, code)
            ctx = context(conn, booking_id=case.booking_id, table_ids=case.table_ids, start_at=case.start_at,
                          end_at=case.end_at, idempotency_key=case.idempotency_key)
            found = list(scan(conn, ctx=ctx))
            assert check in {f.code for f in found if f.safety is Safety.human}, code
            assert not [f for f in found if f.safety is not Safety.human], code


def test_by_hand_steps_make_the_retry_succeed(origin_dsn: str) -> None:
    checks = {code: cls() for code, cls in registry().items()}
    with db.connect(origin_dsn, autocommit=True) as conn:
        for state in verification.STATES:
            case = sandbox.seed_state(conn, state.code)
            p: dict[str, Any] = {"booking_id": case.booking_id, "idempotency_key": case.idempotency_key,
                                 "table_ids": "{" + ",".join(map(str, case.table_ids)) + "}"}
            (row,) = _run(conn, verification.context_sql(), p)
            p.update({k: row[k] for k in ("restaurant_id", "start_at", "end_at", "slot_id")})
            if case.start_at is not None:
                p.update(start_at=case.start_at, end_at=case.end_at)
            call = {"p_booking_id": case.booking_id, "p_table_ids": p["table_ids"],
                    "p_idempotency_key": case.idempotency_key, "p_require_adjacency": "false",
                    "p_start_at": case.start_at, "p_end_at": case.end_at}

            def retry(call: dict[str, Any] = call) -> int | None:
                try:
                    with conn.transaction(force_rollback=True):
                        rows = _run(conn, verification.verify_sql(), call)
                        _run(conn, "SET CONSTRAINTS ALL IMMEDIATE;", {})
                except TablemendError:
                    return None
                return len(rows)

            if state.code != "orphan-merge-groups":
                assert retry() != len(case.table_ids), f"{state.code} fails before"
            lock_bookings, lock_tables = verification.lock_sql()
            with conn.transaction():
                for code in state.checks:
                    for found in _run(conn, verification.detect_sql(checks[code]), p):
                        key = dict(found["key"])
                        ids = {k: str(v) for k, v in key.items()}
                        bookings = {str(case.booking_id), *(v for k, v in ids.items() if k.endswith("booking_id"))}
                        tables = {*map(str, case.table_ids), *(v for k, v in ids.items() if k.endswith("table_id"))}
                        _run(conn, lock_bookings, {"ids": "{" + ",".join(sorted(bookings)) + "}"})
                        _run(conn, lock_tables, {"ids": "{" + ",".join(sorted(tables)) + "}"})
                        for statement in verification.repair_sql(checks[code]):
                            _run(conn, statement, {**p, **key})
            assert retry() == len(case.table_ids), f"{state.code}: the retry succeeds after the by-hand steps"
            for code in state.checks:
                assert _run(conn, verification.detect_sql(checks[code]), p) == [], (state.code, code)
