"""Explain one failing assignment: which rows block booking P, which error the allocator raises for them and why,
and which repair clears them.

The findings come from a read-only snapshot; the allocator's actual answer comes from calling the database's own
``assign_tables_atomic_v2`` inside a transaction that is rolled back (``probe``).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tablemend.db import Connection
from tablemend.doctor import repairs
from tablemend.doctor.rules import Check, Context, Finding, registry
from tablemend.doctor.scanner import context as build_context
from tablemend.doctor.scanner import scan
from tablemend.errors import UsageError

_DUPLICATE = re.compile(r"assignment duplicate for table ([0-9a-fA-F-]{36})")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Blocker:
    finding: Finding
    error: str  # the allocator error this row causes
    why: str
    repair: str

    def as_row(self) -> dict[str, Any]:
        return {"id": self.finding.id, "code": self.finding.code, "safety": self.finding.safety.value,
                "booking": self.finding.booking_id, "table": self.finding.table_id, "detail": self.finding.detail,
                "error": self.error, "why": self.why, "repair": self.repair}


@dataclass(frozen=True)
class Explanation:
    context: Context
    blockers: tuple[Blocker, ...]
    allocator: repairs.AllocatorResult | None
    error_table: uuid.UUID | None

    def as_dict(self) -> dict[str, Any]:
        ctx = self.context
        return {
            "booking": ctx.booking_id, "tables": list(ctx.table_ids), "window": [ctx.start_at, ctx.end_at],
            "slot": ctx.slot_id, "error_table": self.error_table,
            "allocator": None if self.allocator is None else {
                "ok": self.allocator.ok, "rows": len(self.allocator.rows), "sqlstate": self.allocator.sqlstate,
                "message": self.allocator.message, "details": self.allocator.details},
            "blockers": [b.as_row() for b in self.blockers],
        }


def parse_error_table(message: str | None) -> uuid.UUID | None:
    """The table named in an allocator message ("assignment duplicate for table <id>", or any single uuid)."""
    if not message:
        return None
    match = _DUPLICATE.search(message)
    if match:
        return uuid.UUID(match.group(1))
    found = _UUID.findall(message)
    if len(found) == 1:
        return uuid.UUID(found[0])
    raise UsageError(f"cannot find a table id in --error {message!r}",
                     hint='expected "assign_tables_atomic_v2 assignment duplicate for table <uuid>"')


def _render(sqlstate: str | None, pattern: str, finding: Finding) -> str:
    """A LIKE pattern as readable text: the table filled in where the message names one, other gaps as '…'."""
    text = pattern
    if finding.table_id is not None and "for table %" in text:
        text = text.replace("for table %", f"for table {finding.table_id}", 1)
    return f"{sqlstate or '-'} {text.strip('%').replace('%', '…')}"


def _why(check: Check, finding: Finding, ctx: Context) -> tuple[str, str]:
    doc = check.description().splitlines()[0].split(": ", 1)[-1]
    signature = check.errors[0] if check.errors else None
    error = "none (hygiene)" if signature is None else _render(signature.sqlstate, signature.message, finding)
    slot = finding.metadata.get("slot_id")
    if check.code == "TMD001" and ctx.slot_id is not None and slot is not None and str(slot) != str(ctx.slot_id):
        error = "23P01 conflicting key value violates exclusion constraint \"no_overlapping_table_assignments\""
    if check.code == "TMD001" and slot is None:
        error = "23P01 conflicting key value violates exclusion constraint \"no_overlapping_table_assignments\""
    return error, doc


def explain(conn: Connection, *, booking_id: uuid.UUID, table_ids: Sequence[uuid.UUID] = (),
            start_at: Any = None, end_at: Any = None, idempotency_key: str | None = None,
            error: str | None = None, profile: str | None = None, probe: bool = True,
            adjacency: bool = False) -> Explanation:
    error_table = parse_error_table(error)
    tables = list(table_ids)
    from tablemend.doctor import profile as profiles

    prof = profiles.detect(conn, profile)
    ctx = build_context(conn, booking_id=booking_id, table_ids=tables, start_at=start_at, end_at=end_at,
                        idempotency_key=idempotency_key, profile=prof.name)
    if error_table is not None and error_table not in ctx.table_ids:
        ctx = dataclasses.replace(ctx, table_ids=tuple(sorted({*ctx.table_ids, error_table})))
    if not ctx.table_ids:
        raise UsageError(f"booking {booking_id} has no current or last table set; pass --tables")
    checks = registry()
    blockers: list[Blocker] = []
    for finding in scan(conn, profile=prof, ctx=ctx):
        check = checks[finding.code]()
        err, why = _why(check, finding, ctx)
        blockers.append(Blocker(finding, err, why, finding.remediation))
    if error_table is not None:
        blockers.sort(key=lambda b: b.finding.table_id != error_table)
    allocator = None
    if probe:
        allocator = _probe(conn, ctx, adjacency=adjacency, explicit_window=start_at is not None)
    return Explanation(ctx, tuple(blockers), allocator, error_table)


def _probe(conn: Connection, ctx: Context, *, adjacency: bool, explicit_window: bool) -> repairs.AllocatorResult:
    from tablemend.db import translated

    with translated(), conn.transaction(force_rollback=True):
        return repairs.call_allocator(conn, repairs.allocator_args(ctx, adjacency=adjacency,
                                                                   explicit_window=explicit_window))
