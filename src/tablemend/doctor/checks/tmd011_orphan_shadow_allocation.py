"""TMD011: a shadow allocation with no live hold behind it.

Bad: ``allocations (B, 'table', X, shadow=true)`` while B has no active, unexpired hold with member X (the hold expired
or was deleted without its members' triggers). It is invisible to the overlap constraint but is read as "held" by
dashboards and by the hold flows.

Repaired: the shadow allocation is deleted.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, Level, Safety, register


@register
class OrphanShadowAllocation(Check):
    code = "TMD011"
    degraded = (("public.table_holds.status", "no_hold_status"),)
    name = "orphan-shadow-allocation"
    title = "Shadow allocation without a live hold"
    category = Category.bookkeeping
    relation = "public.allocations"
    level = Level.warning
    safety = Safety.safe
    remediation = """
DELETE FROM public.allocations WHERE id = :allocation_id AND shadow;
"""
