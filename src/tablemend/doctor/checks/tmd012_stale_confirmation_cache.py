"""TMD012: the confirmation cache describes assignments that no longer exist.

Bad: ``booking_confirmation_results (P, key K, tables {X,Y})`` while P holds neither X nor Y (they were reset). The
TypeScript confirm path looks the cache up first and answers "already confirmed" without assigning anything.

Repaired: the cached row is deleted; the next confirm does the work. No occupancy changes.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, Level, Safety, register


@register
class StaleConfirmationCache(Check):
    code = "TMD012"
    name = "stale-confirmation-cache"
    title = "Stale confirmation cache"
    category = Category.bookkeeping
    relation = "public.booking_confirmation_results"
    level = Level.warning
    safety = Safety.safe
    remediation = """
DELETE FROM public.booking_confirmation_results WHERE booking_id = :booking AND idempotency_key = :key;
"""
