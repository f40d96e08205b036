"""TMD028: P's ledger already records the same table set under another key.

Bad: ``booking_assignment_idempotency (P, key K1, tables {X}, hash H)`` with P's rows on X still present, and P's
call comes with a new key K2 for the same tables (a re-quote, a window or policy change: the origin's deterministic
key changes with them). Steps 1-14 succeed, then the ledger write raises raw ``23505 duplicate key value violates
unique constraint "booking_assignment_idempotency_booking_hash_key"`` and everything rolls back (issue 10, item 3:
after the stale-own-slot repair the real retry still failed here, and no check named the row).

Repaired (safe: P's own bookkeeping, no seat changes): the K1 ledger row is deleted. A later call with K1 assigns
afresh (same tables, same result) instead of replaying; K2's call writes its own row.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class LedgerHashTaken(Check):
    code = "TMD028"
    name = "ledger-hash-taken"
    title = "Ledger already records the table set under another key"
    category = Category.bookkeeping
    relation = "public.booking_assignment_idempotency"
    level = Level.error
    safety = Safety.safe
    needs_booking = True
    errors = (ErrorSignature("23505", "%booking_assignment_idempotency_booking_hash_key%"),)
    remediation = """
DELETE FROM public.booking_assignment_idempotency WHERE booking_id = :booking AND idempotency_key = :old_key;
"""
