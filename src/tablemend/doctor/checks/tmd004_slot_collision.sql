-- name: detect
-- One booking P only: a live booking B holds (X, S) where S is P's slot, B's window does not overlap P's window and
-- the slot is B's own (so TMD003 does not apply). Two bookings can share a slot with disjoint custom windows; the
-- (table_id, slot_id) key cannot express that.
SELECT bta.booking_id, bta.table_id, b.restaurant_id,
       format('live booking %%s holds table %%s at slot %%s with window %%s, which does not overlap the requested %%s',
              bta.booking_id, bta.table_id, bta.slot_id, tstzrange(bta.start_at, bta.end_at, '[)'),
              tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')) AS detail,
       jsonb_build_object('booking_id', bta.booking_id, 'table_id', bta.table_id, 'slot_id', bta.slot_id) AS key,
       jsonb_build_object('assignment_id', bta.id, 'status', b.status,
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.booking_table_assignments bta
JOIN public.bookings b ON b.id = bta.booking_id
JOIN public.restaurants r ON r.id = b.restaurant_id
JOIN public.booking_slots s ON s.id = bta.slot_id
WHERE %(booking_id)s::uuid IS NOT NULL
  AND bta.booking_id <> %(booking_id)s::uuid AND bta.table_id = ANY (%(table_ids)s::uuid[])
  AND bta.slot_id = %(slot_id)s::uuid
  AND b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
  AND bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL
  -- the slot is the row's own (a stale one is TMD003)
  AND (s.slot_date, s.slot_time) = (timezone(coalesce(nullif(r.timezone, ''), 'UTC'), bta.start_at)::date,
                                    timezone(coalesce(nullif(r.timezone, ''), 'UTC'), bta.start_at)::time)
  AND NOT tstzrange(bta.start_at, bta.end_at, '[)') && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')
ORDER BY bta.booking_id, bta.table_id;

-- name: repair
-- Slot ids are bookkeeping; the window is the occupancy. A NULL slot never collides.
UPDATE public.booking_table_assignments SET slot_id = NULL
WHERE booking_id = %(booking_id)s::uuid AND table_id = %(table_id)s::uuid AND slot_id = %(slot_id)s::uuid;

-- name: bulk_repair
UPDATE public.booking_table_assignments bta SET slot_id = NULL
FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid, slot_id uuid)
WHERE bta.booking_id = k.booking_id AND bta.table_id = k.table_id AND bta.slot_id = k.slot_id;
