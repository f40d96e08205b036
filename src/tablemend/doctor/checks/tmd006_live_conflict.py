"""TMD006: two live bookings really want one table over overlapping windows.

Bad: live bookings B and P both occupy X over overlapping windows (one row has no window, so no constraint caught
it), or P asks for X over a window that a live B already occupies. The origin raises ``allocations_no_overlap``,
raw 23P01 or ``assignment duplicate`` depending on which layer sees it first.

Not repaired: a person decides which booking moves (choose other tables or another time for one of them).
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class LiveConflict(Check):
    code = "TMD006"
    name = "live-double-booking"
    title = "Live bookings overlap on a table"
    category = Category.assignments
    relation = "public.booking_table_assignments"
    level = Level.error
    safety = Safety.human
    errors = (ErrorSignature("P0001", "allocations_no_overlap"),
              ErrorSignature("23P01", "%no_overlapping_table_assignments%"),
              ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"))
    remediation = """
-- move one of the bookings: unassign it from the table and assign other tables or another time
SELECT * FROM public.unassign_tables_atomic(:booking, ARRAY[:table]::uuid[]);
"""
