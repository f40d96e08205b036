"""TMD009: a booking's zone lock names a zone it holds no table in.

Bad: ``bookings.assigned_zone_id = Z1`` while the booking has no assignment in Z1 (its rows were cleared by a path that
leaves the lock). Assigning it tables in Z2 raises ``locked to zone Z1, cannot assign zone Z2`` (23514).

Repaired: the lock is set to the one zone of the tables it holds, or NULL when it holds none. No occupancy changes.
(Level ``info`` for a released booking: its lock only matters if it is reinstated.)
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, ErrorSignature, Level, Safety, register


@register
class ZoneLockDrift(Check):
    code = "TMD009"
    name = "zone-lock-drift"
    title = "Zone lock without tables in that zone"
    category = Category.holds
    relation = "public.bookings"
    level = Level.error
    safety = Safety.safe
    errors = (ErrorSignature("23514", "%locked to zone %, cannot assign zone %"),)
    remediation = """
UPDATE public.bookings SET assigned_zone_id = NULL WHERE id = :booking;  -- or the zone of the tables it holds
"""
