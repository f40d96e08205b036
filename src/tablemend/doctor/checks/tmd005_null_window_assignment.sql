-- name: detect
-- A live booking's row without a window (legacy, before windows existed): the exclusion constraint ignores it, only
-- the (table, slot) key protects the table. For one booking P: such rows on P's tables at P's slot.
SELECT bta.booking_id, bta.table_id, b.restaurant_id,
       format('booking %%s (%%s) holds table %%s at slot %%s with no window; its booking window is %%s',
              bta.booking_id, b.status, bta.table_id, coalesce(bta.slot_id::text, 'NULL'),
              tstzrange(b.start_at, b.end_at, '[)')) AS detail,
       CASE WHEN %(booking_id)s::uuid IS NOT NULL
                 AND tstzrange(b.start_at, b.end_at, '[)')
                     && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')
            THEN 'human' END AS safety,
       jsonb_build_object('booking_id', bta.booking_id, 'table_id', bta.table_id) AS key,
       jsonb_build_object('assignment_id', bta.id, 'status', b.status, 'booking_start', b.start_at,
                          'booking_end', b.end_at, 'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.booking_table_assignments bta
JOIN public.bookings b ON b.id = bta.booking_id
WHERE (bta.start_at IS NULL OR bta.end_at IS NULL)
  AND b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL
       OR (bta.booking_id <> %(booking_id)s::uuid AND bta.table_id = ANY (%(table_ids)s::uuid[])
           AND bta.slot_id = %(slot_id)s::uuid))
ORDER BY bta.booking_id, bta.table_id;

-- name: repair
-- Give the row its booking's window, so the exclusion constraint protects it (fails cleanly on a real overlap).
UPDATE public.booking_table_assignments bta SET start_at = b.start_at, end_at = b.end_at
FROM public.bookings b
WHERE b.id = bta.booking_id AND bta.booking_id = %(booking_id)s::uuid AND bta.table_id = %(table_id)s::uuid
  AND (bta.start_at IS NULL OR bta.end_at IS NULL);

-- name: bulk_repair
UPDATE public.booking_table_assignments bta SET start_at = b.start_at, end_at = b.end_at
FROM public.bookings b, jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid)
WHERE b.id = bta.booking_id AND bta.booking_id = k.booking_id AND bta.table_id = k.table_id
  AND (bta.start_at IS NULL OR bta.end_at IS NULL);
