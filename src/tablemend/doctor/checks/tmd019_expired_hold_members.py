"""TMD019: an expired hold is still active with members (tablemend's schema).

Bad: ``table_holds (status 'active', expires_at in the past)`` with ``table_hold_members`` rows. Nothing is blocked
(expired holds never block an assignment, and a new hold retires them first), but readers see a claim nobody has.

Repaired: members deleted, status ``expired`` — what the hold functions do when they retire a hold.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, Level, Safety, register


@register
class ExpiredHoldMembers(Check):
    code = "TMD019"
    name = "expired-hold-members"
    title = "Expired hold still active"
    category = Category.holds
    relation = "public.table_holds"
    level = Level.info
    safety = Safety.safe
    profiles = ("tablemend",)
    remediation = """
DELETE FROM public.table_hold_members WHERE restaurant_id = :restaurant AND hold_id = :hold;
UPDATE public.table_holds SET status = 'expired' WHERE restaurant_id = :restaurant AND id = :hold;
"""
