"""TMD021: an active hold blocks the assignment.

Bad: ``table_holds (status 'active', expires_at ahead)`` with a hold window on X: the origin refuses every other
booking that wants X over that window. It means to raise ``Hold conflict prevents assignment for booking P`` (P0001),
but that RAISE's DETAIL ``format('Hold % overlaps requested window', …)`` is rejected by format(), so the caller gets
``22023 unrecognized format() type specifier " "`` (spec §2 step 11). A hold of a cancelled, no-show, completed,
waitlisted or past booking will never be confirmed: ``safe``. A live booking's (or an unowned session's) hold is
someone's work in progress: ``confirm``.

Repaired: the hold is released — members and windows deleted (the trigger removes the shadow allocations), status
``cancelled``.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class HoldBlocksBooking(Check):
    code = "TMD021"
    degraded = (("public.table_holds.status", "no_hold_status"),)
    name = "hold-blocks-booking"
    title = "Active hold blocks the assignment"
    category = Category.holds
    relation = "public.table_holds"
    level = Level.error
    safety = Safety.confirm
    #: the real function's hold conflict surfaces as 22023 (its RAISE's format() fails); P0001 is the documented one
    errors = (ErrorSignature("22023", 'unrecognized format() type specifier " "'),
              ErrorSignature("P0001", "Hold conflict prevents assignment for booking %"))
    remediation = """
DELETE FROM public.table_hold_members WHERE hold_id = :hold;
DELETE FROM public.table_hold_windows WHERE hold_id = :hold;
UPDATE public.table_holds SET status = 'cancelled' WHERE id = :hold AND status = 'active';
"""
