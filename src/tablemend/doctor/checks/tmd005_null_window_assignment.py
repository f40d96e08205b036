"""TMD005: a live booking's assignment has no window.

Bad: ``booking_table_assignments (B, X, S, start_at NULL, end_at NULL)`` of a live booking, from before windows
existed. The exclusion constraint skips it; P asking for X at S gets ``assignment duplicate for table X``, and a
booking at another slot can silently overlap it.

Repaired (confirm): the row takes its booking's window. That makes B's occupancy explicit, so it needs
``--include``; when B's booking window overlaps P's the finding is ``human`` (a real double booking).
"""

from __future__ import annotations

from tablemend.doctor.rules import Check, ErrorSignature, Level, Safety, register


@register
class NullWindowAssignment(Check):
    code = "TMD005"
    name = "null-window-assignment"
    title = "Live assignment without a window"
    level = Level.error
    safety = Safety.confirm
    errors = (ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"),)
    remediation = """
UPDATE public.booking_table_assignments bta SET start_at = b.start_at, end_at = b.end_at
FROM public.bookings b WHERE b.id = bta.booking_id AND bta.booking_id = :booking AND bta.table_id = :table;
"""
