-- name: detect
-- A booking locked to a zone while it holds no table (tablemend's schema clears the lock when the last row goes;
-- a direct write can still set it).
SELECT b.id AS booking_id, NULL::uuid AS table_id, b.restaurant_id,
       format('booking %%s is locked to zone %%s but holds no table', b.id, b.assigned_zone_id) AS detail,
       jsonb_build_object('restaurant_id', b.restaurant_id, 'booking_id', b.id,
                          'assigned_zone_id', b.assigned_zone_id) AS key,
       jsonb_build_object('status', b.status) AS metadata
FROM public.bookings b
WHERE b.assigned_zone_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments a
                   WHERE a.restaurant_id = b.restaurant_id AND a.booking_id = b.id)
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR b.id = %(booking_id)s::uuid)
ORDER BY b.id;

-- name: repair
UPDATE public.bookings b SET assigned_zone_id = NULL
WHERE b.restaurant_id = %(restaurant_id)s::uuid AND b.id = %(booking_id)s::uuid
  AND b.assigned_zone_id = %(assigned_zone_id)s::uuid
  AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments a
                   WHERE a.restaurant_id = b.restaurant_id AND a.booking_id = b.id);

-- name: bulk_repair
UPDATE public.bookings b SET assigned_zone_id = NULL
FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(restaurant_id uuid, booking_id uuid, assigned_zone_id uuid)
WHERE b.restaurant_id = k.restaurant_id AND b.id = k.booking_id AND b.assigned_zone_id = k.assigned_zone_id
  AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments a
                   WHERE a.restaurant_id = b.restaurant_id AND a.booking_id = b.id);
