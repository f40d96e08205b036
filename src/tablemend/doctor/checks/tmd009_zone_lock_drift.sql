-- name: detect
-- bookings.assigned_zone_id names a zone the booking holds no table in (its tables were cleared by a path that never
-- resets the lock). The next assignment in another zone raises "locked to zone Z1, cannot assign zone Z2" (23514).
-- One anti-join over all assignment rows finds the drifted bookings; only those few get their zones listed. The
-- anti-join is "no held table in the locked zone and none with a NULL zone" (where NOT (z = ANY (zones)) is true).
SELECT b.id AS booking_id, NULL::uuid AS table_id, b.restaurant_id,
       format('booking %%s is locked to zone %%s but holds %%s', b.id, b.assigned_zone_id,
              CASE WHEN zones.n = 0 THEN 'no tables' ELSE format('tables only in zone(s) %%s', zones.list) END) AS detail,
       -- a released booking's stale lock only matters if it is reinstated
       CASE WHEN b.status IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') OR b.end_at <= now()
            THEN 'info' END AS level,
       jsonb_build_object('booking_id', b.id, 'assigned_zone_id', b.assigned_zone_id) AS key,
       jsonb_build_object('zones_held', zones.list, 'status', b.status) AS metadata
FROM public.bookings b
CROSS JOIN LATERAL (
    SELECT count(DISTINCT t.zone_id) AS n, array_agg(DISTINCT t.zone_id) AS list
    FROM public.booking_table_assignments bta JOIN public.table_inventory t ON t.id = bta.table_id
    WHERE bta.booking_id = b.id
) zones
WHERE b.assigned_zone_id IS NOT NULL
  AND NOT EXISTS (SELECT 1
                  FROM public.booking_table_assignments bta JOIN public.table_inventory t ON t.id = bta.table_id
                  WHERE bta.booking_id = b.id AND (t.zone_id = b.assigned_zone_id OR t.zone_id IS NULL))
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR b.id = %(booking_id)s::uuid)
ORDER BY b.id;

-- name: repair
-- The lock follows the tables the booking holds: their one zone, or nothing.
UPDATE public.bookings b
SET assigned_zone_id = (SELECT CASE WHEN count(DISTINCT t.zone_id) = 1 THEN min(t.zone_id::text)::uuid END
                        FROM public.booking_table_assignments bta JOIN public.table_inventory t ON t.id = bta.table_id
                        WHERE bta.booking_id = b.id)
WHERE b.id = %(booking_id)s::uuid AND b.assigned_zone_id = %(assigned_zone_id)s::uuid;

-- name: bulk_repair
UPDATE public.bookings b
SET assigned_zone_id = (SELECT CASE WHEN count(DISTINCT t.zone_id) = 1 THEN min(t.zone_id::text)::uuid END
                        FROM public.booking_table_assignments bta JOIN public.table_inventory t ON t.id = bta.table_id
                        WHERE bta.booking_id = b.id)
FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, assigned_zone_id uuid)
WHERE b.id = k.booking_id AND b.assigned_zone_id = k.assigned_zone_id;
