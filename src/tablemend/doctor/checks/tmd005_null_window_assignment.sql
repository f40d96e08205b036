-- name: detect
-- A live booking's row without a window (legacy, before windows existed): the exclusion constraint ignores it, only
-- the (table, slot) key protects the table. For one booking P: such rows on P's tables at P's slot (P's call raises
-- "duplicate") or whose booking's window overlaps P's (P's call succeeds and silently double-books the table): both
-- are a live conflict between B and P, for a person.
SELECT bta.booking_id, bta.table_id, b.restaurant_id,
       format('booking %%s (%%s) holds table %%s at slot %%s with no window; its booking window is %%s%%s',
              bta.booking_id, b.status, bta.table_id, coalesce(bta.slot_id::text, 'NULL'),
              tstzrange(b.start_at, b.end_at, '[)'),
              CASE WHEN %(booking_id)s::uuid IS NOT NULL
                   THEN format('; a live conflict with booking %%s, which asks for the table over %%s',
                               %(booking_id)s::uuid,
                               tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')) ELSE '' END)
           AS detail,
       jsonb_build_object('booking_id', bta.booking_id, 'table_id', bta.table_id) AS key,
       jsonb_build_object('assignment_id', bta.id, 'status', b.status, 'slot_id', bta.slot_id,
                          'booking_start', b.start_at, 'booking_end', b.end_at,
                          'other_booking_id', %(booking_id)s::uuid, 'blocks_booking_id', %(booking_id)s::uuid)
           AS metadata
FROM public.booking_table_assignments bta
JOIN public.bookings b ON b.id = bta.booking_id
WHERE (bta.start_at IS NULL OR bta.end_at IS NULL)
  AND b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL
       OR (bta.booking_id <> %(booking_id)s::uuid AND bta.table_id = ANY (%(table_ids)s::uuid[])
           AND (bta.slot_id = %(slot_id)s::uuid
                OR tstzrange(b.start_at, b.end_at, '[)')
                   && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)'))))
ORDER BY bta.booking_id, bta.table_id;
