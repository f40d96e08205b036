-- name: detect
-- Scan: rows of bookings in a terminal status (cancelled, no-show, waitlisted, and completed ones dated ahead: they
-- should have released).
-- For one booking P: any released (terminal or past) booking's row on P's tables that P's call hits: at P's slot
-- (the (table, slot) key) or with a window overlapping P's (the exclusion constraint, which skips rows without one;
-- tstzrange(NULL, NULL) is '(,)' and would "overlap" everything).
SELECT bta.booking_id, bta.table_id, b.restaurant_id,
       format('booking %%s (%%s%%s) still holds table %%s at slot %%s, window %%s',
              bta.booking_id, b.status, CASE WHEN b.end_at <= now() THEN ', past' ELSE '' END,
              bta.table_id, coalesce(bta.slot_id::text, 'NULL'), coalesce(tstzrange(bta.start_at, bta.end_at, '[)')::text, 'NULL'))
           AS detail,
       jsonb_build_object('booking_id', bta.booking_id, 'table_id', bta.table_id) AS key,
       jsonb_build_object('assignment_id', bta.id, 'status', b.status, 'slot_id', bta.slot_id,
                          'start_at', bta.start_at, 'end_at', bta.end_at,
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.booking_table_assignments bta
JOIN public.bookings b ON b.id = bta.booking_id
WHERE (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
  AND CASE WHEN %(booking_id)s::uuid IS NULL
        -- a past completed booking's row is the record of a seating, not drift; one dated ahead blocks like the rest
        THEN b.status IN ('cancelled', 'no_show', 'PRIORITY_WAITLIST') OR (b.status = 'completed' AND b.end_at > now())
        ELSE bta.booking_id <> %(booking_id)s::uuid AND bta.table_id = ANY (%(table_ids)s::uuid[])
             AND (b.status IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') OR b.end_at <= now())
             AND (bta.slot_id = %(slot_id)s::uuid
                  OR (bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL
                      AND tstzrange(bta.start_at, bta.end_at, '[)')
                          && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')))
      END
ORDER BY bta.booking_id, bta.table_id;

-- name: repair
-- unassign_tables_atomic(B, [X]) semantics: the row, then B's table allocation on X (shadow or not); the
-- allocation delete fires the origin's own refresh_table_status(X).
DELETE FROM public.booking_table_assignments WHERE booking_id = %(booking_id)s::uuid AND table_id = %(table_id)s::uuid;

-- name: repair_allocation
DELETE FROM public.allocations
WHERE booking_id = %(booking_id)s::uuid AND resource_type = 'table' AND resource_id = %(table_id)s::uuid;

-- name: bulk_repair
-- The same repair for every planned finding at once, keyed by the findings' (booking, table) pairs.
DELETE FROM public.booking_table_assignments bta
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid)
WHERE bta.booking_id = k.booking_id AND bta.table_id = k.table_id;

-- name: bulk_repair_allocation
DELETE FROM public.allocations a
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid)
WHERE a.booking_id = k.booking_id AND a.resource_type = 'table' AND a.resource_id = k.table_id;
