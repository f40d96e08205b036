"""TMD015: a second, older overload of ``assign_tables_atomic_v2`` is installed.

Bad: ``assign_tables_atomic_v2(uuid, uuid[], text, boolean, uuid)`` next to the 7-argument function. Calls that name 5
or fewer arguments (including the wrappers ``assign_single_table`` / ``assign_merged_tables``) fail with ``42725
function … is not unique``; callers that reach the old body get "duplicate" for any unique violation (state D4).

Not repaired automatically (a schema change): drop the old overload.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class AmbiguousOverload(Check):
    code = "TMD015"
    name = "ambiguous-overload"
    title = "Second overload of assign_tables_atomic_v2"
    category = Category.schema
    level = Level.error
    safety = Safety.human
    #: calls that pass all 7 arguments (the doctor's, confirm_hold_assignment_tx's) are not affected: not a blocker of P
    scan_only = True
    errors = (ErrorSignature("42725", "function assign_tables_atomic_v2% is not unique"),
              ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"))
    remediation = """
DROP FUNCTION public.assign_tables_atomic_v2(uuid, uuid[], text, boolean, uuid);
"""
