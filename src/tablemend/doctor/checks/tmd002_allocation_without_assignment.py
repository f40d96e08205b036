"""TMD002: a real allocation outlived its assignment.

Bad: booking B's bta row on X was deleted by a script or a status route that cleans bta rows only, but B's non-shadow
``allocations (B, 'table', X, window)`` stays; P asks for X over an overlapping window and the origin raises
``allocations_no_overlap`` (P0001, DETAIL "Resource X overlaps requested window for booking P").

Repaired: the allocation row is deleted. ``safe`` when B is cancelled, no-show, completed, waitlisted or past, and
when B (live) holds no table at all and has no active hold on X; ``confirm`` when a live B still holds other tables
(it may be half-way through a move: someone decides).

Why an allocation of a booking with no assignment rows and no hold is safe to remove, from the origin's invariants
(spec §1-§2): the only writer of a real ``table`` allocation is ``assign_tables_atomic_v2`` step 14a, which writes the
booking's ``booking_table_assignments`` row on the same table in the same transaction (14b; any error rolls both
back), and ``unassign_tables_atomic`` deletes both together. Shadow rows (holds) are never real; a confirmed hold goes
through the same function. The origin's paths that leave a real allocation alone behind all delete *every* row of
the booking and only rows (the status route's cancel, ``scripts/reset-bookings.ts`` putting bookings back to
``pending``, ``unassignTablesDirect``, the fallback in ``clearBookingTableAssignments``). So a booking with no row at
all is seated nowhere by the origin's own definition (its UI, ``booking_assignment_validation`` and v2's zone check
all read the rows), and its allocation does one thing: make every other booking's request for X over that window
fail with ``allocations_no_overlap``. Removing it changes no seat (it backs no assignment row), and a later
assignment of B writes it again. A live booking that still holds *other* tables is different: ``synchronizeAssignments``
may be half-way through moving it, so that one stays a person's call.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class AllocationWithoutAssignment(Check):
    code = "TMD002"
    name = "allocation-without-assignment"
    title = "Allocation without an assignment"
    category = Category.bookkeeping
    relation = "public.allocations"
    level = Level.error
    safety = Safety.safe
    degraded = (("public.table_holds.status", "no_hold_status"),)
    errors = (ErrorSignature("P0001", "allocations_no_overlap"),)
    remediation = """
DELETE FROM public.allocations WHERE id = :allocation_id;  -- a 'table' allocation with no bta row of its booking
"""
