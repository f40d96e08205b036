"""TMD010: an expired hold still claims tables.

Bad: ``table_holds (expires_at in the past, status 'active')`` with members, ``table_hold_windows`` rows and shadow
allocations. The allocator ignores expired hold windows, but the rows block new holds on those tables (the hold-window
exclusion constraint) and confuse every reader.

Repaired: members and hold windows deleted (the origin's trigger removes the shadow allocations), status ``expired``.
"""

from __future__ import annotations

from tablemend.doctor.rules import Check, ErrorSignature, Level, Safety, register


@register
class ExpiredHold(Check):
    code = "TMD010"
    name = "expired-hold"
    title = "Expired hold still claims tables"
    level = Level.warning
    safety = Safety.safe
    errors = (ErrorSignature("23P01", "%table_hold_windows_no_overlap%"),)
    remediation = """
DELETE FROM public.table_hold_members WHERE hold_id = :hold;
DELETE FROM public.table_hold_windows WHERE hold_id = :hold;
UPDATE public.table_holds SET status = 'expired' WHERE id = :hold AND status = 'active';
"""
