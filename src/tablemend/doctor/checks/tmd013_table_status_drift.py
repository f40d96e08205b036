"""TMD013: a table's status disagrees with its allocations.

Bad: ``table_inventory.status = 'reserved'`` while no real allocation covers now (its rows were deleted by a path that
skips ``refresh_table_status``), or ``available`` while one does. The allocator does not read status, but hosts and the
selector do.

Repaired: ``refresh_table_status(X)``, the origin's own derivation. No occupancy changes.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, Level, Safety, register


@register
class TableStatusDrift(Check):
    code = "TMD013"
    name = "table-status-drift"
    title = "Table status drift"
    category = Category.bookkeeping
    relation = "public.table_inventory"
    level = Level.warning
    safety = Safety.safe
    requires = ("public.refresh_table_status",)
    remediation = """
SELECT public.refresh_table_status(:table);
"""
