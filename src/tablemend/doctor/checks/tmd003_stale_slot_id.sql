-- name: detect
-- A row whose slot_id no longer matches its own window (the booking moved; sync updated start/end, never slot_id).
-- For one booking P: such rows of others on P's tables sitting on P's slot.
WITH rows AS (
    SELECT bta.id, bta.booking_id, bta.table_id, bta.slot_id, bta.start_at, b.restaurant_id, b.status,
           s.slot_date, s.slot_time,
           timezone(coalesce(nullif(r.timezone, ''), 'UTC'), bta.start_at) AS local_start
    FROM public.booking_table_assignments bta
    JOIN public.bookings b ON b.id = bta.booking_id
    JOIN public.restaurants r ON r.id = b.restaurant_id
    JOIN public.booking_slots s ON s.id = bta.slot_id
    WHERE bta.start_at IS NOT NULL
      AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
      AND (%(booking_id)s::uuid IS NULL
           OR (bta.booking_id <> %(booking_id)s::uuid AND bta.table_id = ANY (%(table_ids)s::uuid[])
               AND bta.slot_id = %(slot_id)s::uuid))
)
SELECT booking_id, table_id, restaurant_id,
       format('booking %%s holds table %%s with slot %%s (%%s %%s) but its window starts at %%s', booking_id, table_id,
              slot_id, slot_date, slot_time, local_start) AS detail,
       jsonb_build_object('booking_id', booking_id, 'table_id', table_id, 'stale_slot_id', slot_id) AS key,
       jsonb_build_object('assignment_id', id, 'status', status, 'local_start', local_start,
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM rows
WHERE (slot_date, slot_time) IS DISTINCT FROM (local_start::date, local_start::time)
ORDER BY booking_id, table_id;

-- name: repair
-- Point the row at the slot of its own window when that slot exists and is free on this table; otherwise NULL
-- (a NULL slot never collides). Start/end stay as they are: no occupancy change.
UPDATE public.booking_table_assignments bta
SET slot_id = (
    SELECT s.id FROM public.booking_slots s
    JOIN public.bookings b ON b.id = bta.booking_id
    JOIN public.restaurants r ON r.id = b.restaurant_id
    WHERE s.restaurant_id = b.restaurant_id
      AND s.slot_date = timezone(coalesce(nullif(r.timezone, ''), 'UTC'), bta.start_at)::date
      AND s.slot_time = timezone(coalesce(nullif(r.timezone, ''), 'UTC'), bta.start_at)::time
      AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments o
                       WHERE o.table_id = bta.table_id AND o.slot_id = s.id AND o.id <> bta.id))
WHERE bta.booking_id = %(booking_id)s::uuid AND bta.table_id = %(table_id)s::uuid
  AND bta.slot_id = %(stale_slot_id)s::uuid;

-- name: bulk_repair
UPDATE public.booking_table_assignments bta
SET slot_id = (
    SELECT s.id FROM public.booking_slots s
    JOIN public.bookings b ON b.id = bta.booking_id
    JOIN public.restaurants r ON r.id = b.restaurant_id
    WHERE s.restaurant_id = b.restaurant_id
      AND s.slot_date = timezone(coalesce(nullif(r.timezone, ''), 'UTC'), bta.start_at)::date
      AND s.slot_time = timezone(coalesce(nullif(r.timezone, ''), 'UTC'), bta.start_at)::time
      AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments o
                       WHERE o.table_id = bta.table_id AND o.slot_id = s.id AND o.id <> bta.id))
FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid, stale_slot_id uuid)
WHERE bta.booking_id = k.booking_id AND bta.table_id = k.table_id AND bta.slot_id = k.stale_slot_id;
