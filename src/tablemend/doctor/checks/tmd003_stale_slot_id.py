"""TMD003: an assignment's slot id no longer matches its own window.

Bad: booking B was moved to another time; ``sync_confirmed_assignment_windows`` updated the row's start/end but kept
``slot_id = S`` (the old slot). P asks for X at S and the origin raises ``assignment duplicate for table X`` although
B's window does not overlap P's.

Repaired: B's row points at the slot of its own window (when that slot exists and is free on X), else ``NULL``.
Start, end and table are unchanged, so no occupancy changes.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class StaleSlotId(Check):
    code = "TMD003"
    name = "stale-slot-id"
    title = "Assignment slot id does not match its window"
    category = Category.assignments
    relation = "public.booking_table_assignments"
    level = Level.error
    safety = Safety.safe
    errors = (ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"),)
    remediation = """
UPDATE public.booking_table_assignments SET slot_id = <slot of the row's own start, or NULL>
WHERE booking_id = :blocking_booking AND table_id = :table;
"""
