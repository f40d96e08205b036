"""Doctor checks driven by their case files (``src/tablemend/doctor/cases/TMDnnn.json``, sqlfluff-style).

Each case: setup SQL on top of a shared fixture, the exact findings expected, then repair (or, for ``human``
findings, none), the state the repair leaves, and an undo that brings the same findings back.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from importlib import resources
from typing import Any

import pytest

from tablemend import db, integrity
from tablemend.db import translated
from tablemend.doctor import context, registry, repair, scan, undo
from tablemend.doctor.rules import Safety
from tablemend.errors import RepairRefused, TablemendError

_CASES = resources.files("tablemend.doctor") / "cases"


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((_CASES / name).read_text(encoding="utf-8")))


BASES = {"origin": _load("_base.json"), "tablemend": _load("_base_tablemend.json")}
IDS: dict[str, str] = BASES["origin"]["ids"]
#: the fixture that builds each profile's database (tests/conftest.py)
FIXTURES = {"origin": "origin_dsn", "tablemend": "tm_dsn"}
CASE_FILES = sorted(p.name for p in _CASES.iterdir() if p.name.startswith("TMD") and p.name.endswith(".json"))


def _fill(text: str) -> str:
    for name in sorted(IDS, key=len, reverse=True):
        text = text.replace("{" + name + "}", IDS[name])
    return text


def _name(value: object) -> str | None:
    if value is None:
        return None
    reverse = {v: k for k, v in IDS.items()}
    return reverse.get(str(value), str(value))


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in row.items()}


def _sorted(rows: Any) -> list[tuple[str, str | None, str | None, str]]:
    return sorted(rows, key=lambda r: tuple("" if v is None else v for v in r))


#: findings about the server rather than the data (TMD022 is there on every scan of an affected server)
SERVER_CODES = frozenset({"TMD022"})


def _findings(conn: db.Connection, ctx: Any, code: str) -> list[tuple[str, str | None, str | None, str]]:
    # every check, TMD023 too (a whole scan runs it only when asked)
    found = scan(conn, ctx=ctx, verify_indexes=True)
    return _sorted((f.code, _name(f.booking_id), _name(f.table_id), f.safety.value) for f in found
                   if f.code == code or f.code not in SERVER_CODES)


def test_every_check_has_a_case() -> None:
    assert [name.removesuffix(".json") for name in CASE_FILES] == list(registry())


@pytest.mark.parametrize("name", CASE_FILES)
def test_case(request: pytest.FixtureRequest, name: str) -> None:
    case = _load(name)
    profile = case.get("profile", "origin")
    assert profile in registry()[case["code"]].profiles
    dsn = request.getfixturevalue(FIXTURES[profile])
    with db.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            for statement in [*BASES[profile]["setup"], *case["setup"]]:
                conn.execute(_fill(statement).encode())
        for check in case.get("before", []):  # the allocator's error in the bad state, before any repair
            with pytest.raises(TablemendError) as raised, translated(), conn.transaction(force_rollback=True):
                conn.execute(_fill(check["sql"]).encode())
            assert (raised.value.sqlstate, raised.value.message) == (check["sqlstate"], _fill(check["message"]))
        spec = case.get("context")
        if spec:
            ctx = context(conn, booking_id=uuid.UUID(IDS[spec["booking"]]),
                          table_ids=[uuid.UUID(IDS[t]) for t in spec.get("tables", [])],
                          start_at=dt.datetime.fromisoformat(spec["start"]) if "start" in spec else None,
                          end_at=dt.datetime.fromisoformat(spec["end"]) if "end" in spec else None,
                          idempotency_key=spec.get("key"))
        else:
            ctx = context(conn)
        expected = _sorted((e["code"], e["booking"], e["table"], e["safety"]) for e in case["expected"])
        if case.get("only_if_server") and integrity.server_check(conn).verdict.value != case["only_if_server"]:
            expected = []
        found = list(scan(conn, ctx=ctx, verify_indexes=True))
        assert _findings(conn, ctx, case["code"]) == expected
        if case.get("action"):  # an index rebuild comes first, outside the transaction (test_doctor_reindex.py)
            with pytest.raises(RepairRefused):  # no row repair reads through a damaged index
                repair(conn, ctx)
            return
        include = [f.id for f in found if f.safety is Safety.confirm] if case.get("include") else []
        repairable = any(f.safety is Safety.safe for f in found) or include
        result = repair(conn, ctx, include=include)
        assert (result.repair_id is not None) == bool(repairable)
        for check in case["after"]:
            with conn.transaction(force_rollback=True):  # an after-check may call the allocator; keep nothing
                rows = [_plain(r) for r in conn.execute(_fill(check["sql"]).encode()).fetchall()]
            assert rows == check["rows"], check["sql"]
        if result.repair_id is None:
            return
        left = {f.code for f in scan(conn, ctx=ctx, verify_indexes=True) if f.safety is not Safety.human}
        assert case["code"] not in left
        undo(conn, result.repair_id)
        assert _findings(conn, ctx, case["code"]) == expected
