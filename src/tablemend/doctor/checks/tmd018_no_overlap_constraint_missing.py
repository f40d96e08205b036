"""TMD018: the no-overlap exclusion constraint on assignments is missing.

Bad: ``booking_table_assignments_no_overlap`` (same restaurant, same table, overlapping window, other booking) was
dropped, so two live bookings can hold one table at once and nothing in the database refuses it.

Not repaired automatically (a schema change): check for overlaps with ``tablemend doctor gate``, then re-create the
constraint (``tablemend migrate`` on a fresh schema creates it).
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, Level, Safety, register


@register
class NoOverlapConstraintMissing(Check):
    code = "TMD018"
    name = "no-overlap-constraint-missing"
    title = "No-overlap constraint missing"
    category = Category.schema
    level = Level.error
    safety = Safety.human
    profiles = ("tablemend",)
    remediation = """
ALTER TABLE public.booking_table_assignments ADD CONSTRAINT booking_table_assignments_no_overlap
    EXCLUDE USING gist (restaurant_id WITH =, table_id WITH =, assignment_window WITH &&);
"""
