"""TMD020: a booking is locked to a zone while holding no table (tablemend's schema).

Bad: ``bookings.assigned_zone_id = Z1`` with no ``booking_table_assignments`` row (set by a direct write). The
allocator moves the lock on the next assignment, but until then every reader sees the booking seated in Z1.

Repaired: the lock is cleared. No occupancy changes.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, Level, Safety, register


@register
class ZoneLockWithoutTables(Check):
    code = "TMD020"
    name = "zone-lock-without-tables"
    title = "Zone lock without tables"
    category = Category.holds
    relation = "public.bookings"
    level = Level.info
    safety = Safety.safe
    profiles = ("tablemend",)
    remediation = """
UPDATE public.bookings SET assigned_zone_id = NULL WHERE restaurant_id = :restaurant AND id = :booking;
"""
