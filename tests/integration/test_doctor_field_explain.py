"""Issue 10 item 8 through explain: for P's rows in another zone (TMD024) and another live booking's row whose window
its move left behind (TMD025), the first blocker explain lists is that finding, with the error the real call raises;
the prediction agrees with the probe and the verdict's repair command names it (no live conflict for a person)."""

from __future__ import annotations

import uuid

import pytest

from tablemend import db
from tablemend.doctor import explain
from tests.integration.test_doctor_cases import BASES, IDS, _fill, _load


@pytest.mark.parametrize("code", ["TMD024", "TMD025"])
def test_first_blocker_is_the_field_finding(origin_dsn: str, code: str) -> None:
    case = _load(f"{code}.json")
    with db.connect(origin_dsn, autocommit=True) as conn:
        with conn.transaction():
            for statement in [*BASES["origin"]["setup"], *case["setup"]]:
                conn.execute(_fill(statement).encode())
        (before,) = case["before"]
        why = explain(conn, booking_id=uuid.UUID(IDS[case["context"]["booking"]]),
                      table_ids=[uuid.UUID(IDS[t]) for t in case["context"]["tables"]])
    assert why.verdict is not None and why.verdict.agree, (why.verdict, [b.as_row() for b in why.blockers])
    first = next(b for b in why.blockers if b.blocks)
    assert first.finding.code == code, [b.as_row() for b in why.blockers]
    assert first.prediction is not None and first.prediction.matches(before["sqlstate"], _fill(before["message"]))
    assert not why.verdict.person, why.verdict
    assert why.verdict.command is not None and first.finding.id in why.verdict.command
