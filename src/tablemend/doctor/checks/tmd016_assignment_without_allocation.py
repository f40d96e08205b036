"""TMD016: a live booking's assignment has no allocation behind it.

Bad: live booking B was moved from {X, W} to {W, V}; v2 never deletes B's old row on X and ``synchronizeAssignments``
pruned B's allocation on X. The row still holds ``(X, S)``, so P asking for X at S gets ``assignment duplicate for
table X`` (state D1c), and nothing in the allocation layer shows B on X.

Repaired (confirm): ``unassign_tables_atomic(B, [X])``. That removes a table from a live booking, so it needs
``--include`` with the finding id after someone checked that B really moved.
"""

from __future__ import annotations

from tablemend.doctor.rules import Check, ErrorSignature, Level, Safety, register


@register
class AssignmentWithoutAllocation(Check):
    code = "TMD016"
    name = "assignment-without-allocation"
    title = "Live assignment without an allocation"
    level = Level.error
    safety = Safety.confirm
    errors = (ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"),)
    remediation = """
SELECT * FROM public.unassign_tables_atomic(:booking, ARRAY[:table]::uuid[]);  -- after checking B really moved
"""
