-- name: detect
-- For one booking P: another live booking's row on P's tables whose window overlaps P's request but lies wholly
-- outside its own booking's window (left behind by a move); the exclusion constraint fires on it (raw 23P01).
SELECT bta.booking_id, bta.table_id, b.restaurant_id,
       format('live booking %%s (%%s) is at %%s, but its row on table %%s (slot %%s) still covers %%s: P''s '
              'assignment fails with 23P01 on no_overlapping_table_assignments', bta.booking_id, b.status,
              tstzrange(b.start_at, b.end_at, '[)'), bta.table_id, coalesce(bta.slot_id::text, 'NULL'),
              tstzrange(bta.start_at, bta.end_at, '[)')) AS detail,
       jsonb_build_object('booking_id', bta.booking_id, 'table_id', bta.table_id) AS key,
       jsonb_build_object('assignment_id', bta.id, 'status', b.status, 'slot_id', bta.slot_id,
                          'row_window', tstzrange(bta.start_at, bta.end_at, '[)'),
                          'booking_window', tstzrange(b.start_at, b.end_at, '[)'),
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.booking_table_assignments bta
JOIN public.bookings b ON b.id = bta.booking_id
WHERE %(booking_id)s::uuid IS NOT NULL
  AND bta.booking_id <> %(booking_id)s::uuid AND bta.table_id = ANY (%(table_ids)s::uuid[])
  AND bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL
  AND b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
  AND NOT tstzrange(bta.start_at, bta.end_at, '[)') && tstzrange(b.start_at, b.end_at, '[)')
  AND tstzrange(bta.start_at, bta.end_at, '[)') && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
ORDER BY bta.booking_id, bta.table_id;

-- name: repair
UPDATE public.booking_table_assignments bta SET start_at = b.start_at, end_at = b.end_at
FROM public.bookings b
WHERE b.id = bta.booking_id AND bta.booking_id = %(booking_id)s::uuid AND bta.table_id = %(table_id)s::uuid;

-- name: bulk_repair
-- The same repair for every planned finding at once, keyed by the findings' (booking, table) pairs.
UPDATE public.booking_table_assignments bta SET start_at = b.start_at, end_at = b.end_at
FROM public.bookings b, jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid)
WHERE b.id = bta.booking_id AND bta.booking_id = k.booking_id AND bta.table_id = k.table_id;
