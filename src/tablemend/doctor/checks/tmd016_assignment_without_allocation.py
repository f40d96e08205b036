"""TMD016: a live booking's assignment has no allocation behind it.

Bad: live booking B holds ``booking_table_assignments (B, X, S, window)`` but B's real ``table`` allocation on X is
gone (pruned by ``synchronizeAssignments`` after a move, or deleted by hand). Nothing in the allocation layer shows B
on X, so a request for X over B's window passes step 14a and then hits B's row: ``assignment duplicate for table X``
at B's slot, raw 23P01 elsewhere (state D1c).

Repaired (confirm): B's allocation on X is *restored* over the row's window; B's seat stays exactly as it is. A live
guest's seat is a person's call: the doctor never deletes it. When another live booking's allocation overlaps the
row, restoring would collide: ``human`` (a double booking; the detail names both bookings). For one booking P, a live
row that P's call hits is reported as a live conflict (TMD006, or TMD004 for disjoint windows) instead.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class AssignmentWithoutAllocation(Check):
    code = "TMD016"
    name = "assignment-without-allocation"
    title = "Live assignment without an allocation"
    category = Category.bookkeeping
    relation = "public.booking_table_assignments"
    level = Level.error
    safety = Safety.confirm
    errors = (ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"),)
    #: a whole-scan check: one booking's blocking live rows are TMD006 / TMD004 findings
    scan_only = True
    remediation = """
-- restore B's allocation behind its seat (or, if B really moved away, a person unassigns it:
-- SELECT * FROM public.unassign_tables_atomic(:booking, ARRAY[:table]::uuid[]);)
"""
