"""TMD010: a hold that no longer holds still claims tables.

Bad: ``table_holds`` past ``expires_at`` (or already ``confirmed`` / ``cancelled``) with members, ``table_hold_windows``
rows and shadow allocations. An unexpired window of a confirmed or cancelled hold blocks every other booking's
assignment: the origin means to raise ``Hold conflict prevents assignment`` (P0001), but its RAISE's DETAIL
``format('Hold % overlaps …')`` fails first, so callers get ``22023 unrecognized format() type specifier " "``;
expired ones still block new holds on those tables (the hold-window exclusion constraint) and confuse every reader.

Repaired: members and hold windows deleted (the origin's trigger removes the shadow allocations); an active hold past
its expiry becomes ``expired``.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class ExpiredHold(Check):
    code = "TMD010"
    degraded = (("public.table_holds.status", "no_hold_status"),)
    name = "expired-hold"
    title = "Finished hold still claims tables"
    category = Category.holds
    relation = "public.table_holds"
    level = Level.warning
    safety = Safety.safe
    #: the real function's hold conflict surfaces as 22023 (its RAISE's format() fails); P0001 is the documented one
    errors = (ErrorSignature("22023", 'unrecognized format() type specifier " "'),
              ErrorSignature("P0001", "Hold conflict prevents assignment for booking %"),
              ErrorSignature("23P01", "%table_hold_windows_no_overlap%"))
    remediation = """
DELETE FROM public.table_hold_members WHERE hold_id = :hold;
DELETE FROM public.table_hold_windows WHERE hold_id = :hold;
UPDATE public.table_holds SET status = 'expired' WHERE id = :hold AND status = 'active';
"""
