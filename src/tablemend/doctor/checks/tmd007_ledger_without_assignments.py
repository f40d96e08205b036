"""TMD007: an idempotency-ledger row whose assignments are gone.

Bad: ``booking_assignment_idempotency (P, key K, tables {X,Y}, hash H)`` but P has no rows on X, Y with key K. The
same key replays **0 rows** (a silent success; ``confirm_hold_assignment_tx`` then raises "returned no assignments"),
a new key for the same tables raises raw 23505 on ``booking_assignment_idempotency_booking_hash_key``.

Repaired: the ledger row is deleted, so the next call validates and writes for real. No occupancy changes.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class LedgerWithoutAssignments(Check):
    code = "TMD007"
    name = "ledger-without-assignments"
    title = "Ledger row without assignments"
    category = Category.bookkeeping
    relation = "public.booking_assignment_idempotency"
    level = Level.error
    safety = Safety.safe
    errors = (ErrorSignature("23505", "%booking_assignment_idempotency_booking_hash_key%"),
              ErrorSignature(None, "0-row replay (silent success with no assignments)"))
    remediation = """
DELETE FROM public.booking_assignment_idempotency WHERE booking_id = :booking AND idempotency_key = :key;
"""
