"""TMD008: a merge-group allocation that nothing references.

Bad: ``allocations (B, 'merge_group', id=R)`` with no ``booking_table_assignments.merge_group_id = R`` and no ledger
``merge_group_allocation_id = R`` (the references were set NULL, or a later call made a new group). Each one keeps a
non-shadow window; they never collide (the resource id is unique), so this is hygiene, not a cause of the error.

Repaired: the orphaned allocation row is deleted.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, Level, Safety, register


@register
class OrphanMergeGroup(Check):
    code = "TMD008"
    name = "orphan-merge-group"
    title = "Orphaned merge-group allocation"
    category = Category.bookkeeping
    relation = "public.allocations"
    level = Level.info
    safety = Safety.safe
    remediation = """
DELETE FROM public.allocations WHERE id = :allocation_id AND resource_type = 'merge_group';
"""
