"""TMD005: a live booking's assignment has no window.

Bad: ``booking_table_assignments (B, X, S, start_at NULL, end_at NULL)`` of a live booking, from before windows
existed. The exclusion constraint skips it; P asking for X at S gets ``assignment duplicate for table X``, and a
booking at another slot can silently overlap it.

Not repaired (human): the row is a live guest's seat, and giving it a window changes that seat; for one booking P it
is a live conflict between B and P (at P's slot P's call fails with "duplicate"; with an overlapping booking window
at another slot P's call *succeeds* and double-books X, so explain shows the probe's success next to this finding).
A person gives the row its booking's window (the remediation below), or moves one of the bookings.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class NullWindowAssignment(Check):
    code = "TMD005"
    name = "null-window-assignment"
    title = "Live assignment without a window"
    category = Category.assignments
    relation = "public.booking_table_assignments"
    level = Level.error
    safety = Safety.human
    errors = (ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"),)
    remediation = """
-- after deciding that B keeps X over its booking window (fails cleanly on a real overlap):
UPDATE public.booking_table_assignments bta SET start_at = b.start_at, end_at = b.end_at
FROM public.bookings b WHERE b.id = bta.booking_id AND bta.booking_id = :booking AND bta.table_id = :table;
"""
