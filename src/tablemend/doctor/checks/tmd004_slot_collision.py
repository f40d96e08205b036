"""TMD004: a live booking holds the requested table at the same slot with a window that does not overlap.

Bad: B holds ``(X, S)`` over 18:00-19:00; P (same slot S by date and start time) asks for X over 19:30-21:00 with a
custom window. Nothing overlaps, yet the ``(table_id, slot_id)`` key raises ``assignment duplicate for table X``
(state D2: B committed while P waited on the table lock).

Repaired: B's row keeps its table and window but its ``slot_id`` becomes NULL, so the key no longer collides. B's
occupancy does not change.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class SlotCollision(Check):
    code = "TMD004"
    name = "slot-collision"
    title = "Same slot, disjoint windows"
    category = Category.assignments
    relation = "public.booking_table_assignments"
    level = Level.error
    safety = Safety.safe
    needs_booking = True
    errors = (ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"),)
    remediation = """
UPDATE public.booking_table_assignments SET slot_id = NULL
WHERE booking_id = :blocking_booking AND table_id = :table;  -- window and table stay
"""
