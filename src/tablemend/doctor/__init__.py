"""The integrity doctor: find, explain, plan, repair, undo and verify the states that break multi-table assignment.

Public API (stable; the CLI, bench and tests use only this):

* ``scan(conn, *, profile=None, ctx=None, codes=None, on_check=None) -> Iterator[Finding]`` — read-only snapshot.
* ``context(conn, *, restaurant_id=None, booking_id=None, table_ids=(), start_at=None, end_at=None,
  idempotency_key=None, profile=None) -> Context`` — the scan context (a booking P: tables/window default to P's
  own current or last request).
* ``explain(conn, *, booking_id, table_ids=(), start_at=None, end_at=None, idempotency_key=None, error=None,
  restaurant_id=None) -> Explanation`` — the blockers in the order P's call meets them, the probe, ``.verdict``.
* ``plan(conn, ctx, *, include=(), all_safe=True, codes=None, progress=None, emit=None) -> Plan`` (rolled back;
  ``Plan.changes``, ``.count``, ``.estimate``, ``.sql()``; with ``emit(plan, changes)`` the changes stream instead).
* ``repair(conn, ctx, *, include=(), all_safe=True, codes=None, retry=False, batch=None, progress=None,
  collect=True) -> RepairResult`` (``.repair_id``; ``.repair_ids``: one per ``batch`` transaction).
* ``undo(conn, repair_id) -> uuid`` ; ``verify(conn, ctx, *, include=()) -> VerifyResult`` (``.allocator.ok``).
* ``tablemend.doctor.costs`` (unindexed foreign keys, the repair's estimate) and ``tablemend.doctor.indexes``
  (``create(conn)``: TMD032's indexes, concurrently, journalled; ``undo`` drops them).
* ``tablemend.doctor.gate.gate(conn, ...)`` — the pre-migration constraint gate (helper C2's module).
* ``Finding`` (``.id`` stable = code + hash of key columns, ``.safety``, ``.level``, ``.as_row()``), ``Safety``,
  ``Level``, ``registry()`` (code -> Check class).

Use autocommit connections (``db.connect(dsn, autocommit=True)``): every verb manages its own transaction, and reads
with ``row_security = off`` or refuses (``tablemend.doctor.access``); ``context(restaurant_id=R)`` is the explicit
``--restaurant`` scope.
Profiles: ``origin`` (checks TMD001-TMD016, TMD021, TMD028) and ``tablemend`` (TMD017-TMD020), detected from the
catalog; TMD032 (unindexed foreign keys) in both.
"""

from __future__ import annotations

from tablemend.doctor.explainer import Explanation, explain
from tablemend.doctor.repairs import Plan, RepairResult, VerifyResult, plan, repair, undo, verify
from tablemend.doctor.rules import Check, Context, Finding, Level, Safety, registry
from tablemend.doctor.scanner import context, scan

__all__ = [
    "Check", "Context", "Explanation", "Finding", "Level", "Plan", "RepairResult", "Safety", "VerifyResult",
    "context", "explain", "plan", "registry", "repair", "scan", "undo", "verify",
]
