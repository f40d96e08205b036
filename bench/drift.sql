-- Named queries of bench/drift.py: the origin's leaky operations, and who should be assignable afterwards.

-- name: delete_rows
-- scripts/reset-bookings.ts, the status route, unassignTablesDirect: assignment rows only
DELETE FROM public.booking_table_assignments WHERE booking_id = %(booking_id)s

-- name: set_status
UPDATE public.bookings SET status = %(status)s::public.booking_status WHERE id = %(booking_id)s

-- name: held_tables
SELECT array_agg(table_id ORDER BY table_id) AS tables FROM public.booking_table_assignments
WHERE booking_id = %(booking_id)s

-- name: direct_insert
-- assignTablesDirectly: a row with the booking's window, no slot, no allocation, no ledger row
INSERT INTO public.booking_table_assignments (booking_id, table_id, slot_id, start_at, end_at, notes)
SELECT b.id, %(table_id)s, NULL, b.start_at, b.end_at, 'direct assignment'
FROM public.bookings b WHERE b.id = %(booking_id)s

-- name: booking_window
SELECT start_at, end_at, status::text AS status FROM public.bookings WHERE id = %(booking_id)s

-- name: eligible
-- Live bookings seated nowhere whose original tables no other live booking's row occupies over their window:
-- they should be assignable again to the same tables.
SELECT b.id AS booking_id
FROM public.bookings b
WHERE b.id = ANY (%(ids)s::uuid[])
  AND b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
  AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments x WHERE x.booking_id = b.id)
  AND NOT EXISTS (
      SELECT 1 FROM public.booking_table_assignments o JOIN public.bookings ob ON ob.id = o.booking_id
      WHERE o.table_id = ANY (%(tables_of)s::uuid[]) AND o.booking_id <> b.id
        AND ob.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND ob.end_at > now()
        AND tstzrange(coalesce(o.start_at, ob.start_at), coalesce(o.end_at, ob.end_at), '[)')
            && tstzrange(b.start_at, b.end_at, '[)'))

-- name: unseated
SELECT b.id AS booking_id FROM public.bookings b
WHERE b.restaurant_id = %(restaurant_id)s
  AND b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
  AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments x WHERE x.booking_id = b.id)
ORDER BY b.customer_name  -- creation order is one transaction's now(); names are the generator's own
