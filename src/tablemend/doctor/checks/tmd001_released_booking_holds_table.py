"""TMD001: a cancelled, no-show, waitlisted, completed-ahead-of-time (or, for one booking, past) booking holds a table.

Bad: booking B (cancelled) keeps ``booking_table_assignments (B, X, slot S)``; P asks for X at S and the origin raises
``assign_tables_atomic_v2 assignment duplicate for table X`` (the allocator never looks at status), or raw 23P01 when
B's window overlaps P's at another slot. Every terminal status counts the same in scan, explain and repair; in a whole
scan a *past* completed booking's row is its seating history and is left alone (it cannot block a request ahead).

Repaired: B's row on X and B's ``table`` allocation on X are gone (``unassign_tables_atomic(B, [X])``), X is
``available`` when nothing else holds it. B's booking row is untouched.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class ReleasedBookingHoldsTable(Check):
    code = "TMD001"
    name = "released-booking-holds-table"
    title = "Released booking still holds a table"
    category = Category.assignments
    relation = "public.booking_table_assignments"
    level = Level.error
    safety = Safety.safe
    errors = (ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"),
              ErrorSignature("23P01", "%no_overlapping_table_assignments%"),
              ErrorSignature("23505", "%booking_table_assignments_table_id_slot_id_key%"))
    remediation = """
SELECT * FROM public.unassign_tables_atomic(:blocking_booking, ARRAY[:table]::uuid[]);
-- or by hand: DELETE the blocker's booking_table_assignments row and its 'table' allocation on that table
"""
