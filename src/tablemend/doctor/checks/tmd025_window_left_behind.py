"""TMD025: a live booking's row still covers a window its booking left (a move did not carry it along).

Bad: live booking B was moved (its start/end changed) but one of its assignment rows, typically a slotless row from a
direct insert, still covers the old window, while B's allocations moved with it. The exclusion constraint
``no_overlapping_table_assignments`` sees that stale window: P asking for the table over it gets a raw ``23P01``. The
allocation layer (and a live-conflict check that trusts the row) takes B for a real occupant, though B is elsewhere.

Repaired (confirm): the row gets its booking's window back (what ``sync_confirmed_assignment_windows`` does on a
move). It changes a live booking's row, so it needs ``--include`` after someone checked B's current time.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class WindowLeftBehind(Check):
    code = "TMD025"
    name = "window-left-behind"
    title = "Live row keeps a window its booking left"
    category = Category.assignments
    relation = "public.booking_table_assignments"
    level = Level.error
    safety = Safety.confirm
    needs_booking = True
    errors = (ErrorSignature("23P01", "%no_overlapping_table_assignments%"),)
    remediation = """
UPDATE public.booking_table_assignments bta SET start_at = b.start_at, end_at = b.end_at
FROM public.bookings b WHERE b.id = bta.booking_id AND bta.booking_id = :booking AND bta.table_id = :table;
"""
