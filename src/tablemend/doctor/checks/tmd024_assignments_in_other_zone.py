"""TMD024: booking P already holds tables in another zone than the one it asks for.

Bad: P has assignment rows on tables of zone Z2 (typically direct inserts by ``assignTablesDirectly``, which write no
slot, allocation or ledger row, or rows no cleanup removed) and now asks for tables in zone Z1. The origin's step 6
refuses before anything else: ``23514 Booking P already has assignments in a different zone``. No other finding names
those rows: they are P's own, on tables P did not ask for.

Repaired (confirm): P's rows in Z2 are removed with P's table allocations on those tables, as
``unassign_tables_atomic(P, <those tables>)`` does. They are a live booking's seats, so it needs ``--include`` after
someone checked that P really moves to Z1.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class AssignmentsInOtherZone(Check):
    code = "TMD024"
    name = "assignments-in-other-zone"
    title = "Booking holds tables in another zone"
    category = Category.assignments
    relation = "public.booking_table_assignments"
    level = Level.error
    safety = Safety.confirm
    needs_booking = True
    errors = (ErrorSignature("23514", "Booking % already has assignments in a different zone"),)
    remediation = """
SELECT * FROM public.unassign_tables_atomic(:booking, ARRAY[<P's tables in the other zone>]::uuid[]);
"""
