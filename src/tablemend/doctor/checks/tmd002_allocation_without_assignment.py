"""TMD002: a real allocation outlived its assignment.

Bad: booking B's bta row on X was deleted by a script or a status route that cleans bta rows only, but B's non-shadow
``allocations (B, 'table', X, window)`` stays; P asks for X over an overlapping window and the origin raises
``allocations_no_overlap`` (P0001, DETAIL "Resource X overlaps requested window for booking P").

Repaired: the allocation row is deleted. ``safe`` when B is cancelled, no-show, completed, waitlisted or past;
``confirm`` when B is live and the allocation lies ahead (B may still count on the table: someone decides).
"""

from __future__ import annotations

from tablemend.doctor.rules import Check, ErrorSignature, Level, Safety, register


@register
class AllocationWithoutAssignment(Check):
    code = "TMD002"
    name = "allocation-without-assignment"
    title = "Allocation without an assignment"
    level = Level.error
    safety = Safety.safe
    errors = (ErrorSignature("P0001", "allocations_no_overlap"),)
    remediation = """
DELETE FROM public.allocations WHERE id = :allocation_id;  -- a 'table' allocation with no bta row of its booking
"""
