-- name: detect
-- A live, future row with a window but no real 'table' allocation of its booking on that table (a prune, a manual
-- delete, or a move that synchronizeAssignments half-finished). A whole scan only: for one booking P, a live row that
-- P's call hits is a live conflict (TMD006 / TMD004), not a leftover.
SELECT bta.booking_id, bta.table_id, b.restaurant_id,
       format('live booking %%s (%%s) holds table %%s over %%s without an allocation%%s%%s', bta.booking_id, b.status,
              bta.table_id, tstzrange(bta.start_at, bta.end_at, '[)'),
              CASE WHEN other.n > 0 THEN format('; its allocated tables are %%s', other.list) ELSE '' END,
              CASE WHEN clash.booking_id IS NOT NULL
                   THEN format('; live booking %%s''s allocation overlaps it', clash.booking_id) ELSE '' END) AS detail,
       -- restoring it would collide with another live booking's allocation: a double booking, for a person
       CASE WHEN clash.booking_id IS NOT NULL THEN 'human' END AS safety,
       jsonb_build_object('booking_id', bta.booking_id, 'table_id', bta.table_id) AS key,
       jsonb_build_object('assignment_id', bta.id, 'status', b.status, 'slot_id', bta.slot_id,
                          'allocated_tables', other.list, 'other_booking_id', clash.booking_id) AS metadata
FROM public.booking_table_assignments bta
JOIN public.bookings b ON b.id = bta.booking_id
CROSS JOIN LATERAL (SELECT count(*) AS n, array_agg(a.resource_id ORDER BY a.resource_id) AS list
                    FROM public.allocations a
                    WHERE a.booking_id = bta.booking_id AND a.resource_type = 'table' AND NOT a.shadow) other
LEFT JOIN LATERAL (SELECT a.booking_id FROM public.allocations a JOIN public.bookings o ON o.id = a.booking_id
                   WHERE a.restaurant_id = b.restaurant_id AND a.resource_type = 'table'
                     AND a.resource_id = bta.table_id AND NOT a.shadow AND a.booking_id <> bta.booking_id
                     AND a."window" && tstzrange(bta.start_at, bta.end_at, '[)')
                     AND o.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST')
                     AND o.end_at > now()
                   ORDER BY a.booking_id LIMIT 1) clash ON true
WHERE %(booking_id)s::uuid IS NULL
  AND bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL AND bta.end_at > now()
  AND b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST')
  AND NOT EXISTS (SELECT 1 FROM public.allocations a
                   WHERE a.booking_id = bta.booking_id AND a.resource_type = 'table'
                     AND a.resource_id = bta.table_id AND NOT a.shadow)
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
ORDER BY bta.booking_id, bta.table_id;

-- name: repair
-- Restore the allocation behind the seat (the row stays as it is): B's real 'table' allocation over the row's
-- window; a shadow row of B's own hold on the table becomes the real one, as the origin's step 14a does.
INSERT INTO public.allocations AS a (booking_id, restaurant_id, resource_type, resource_id, "window", shadow)
SELECT bta.booking_id, b.restaurant_id, 'table', bta.table_id, tstzrange(bta.start_at, bta.end_at, '[)'), false
FROM public.booking_table_assignments bta
JOIN public.bookings b ON b.id = bta.booking_id
WHERE bta.booking_id = %(booking_id)s::uuid AND bta.table_id = %(table_id)s::uuid
  AND bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL
ON CONFLICT ON CONSTRAINT allocations_booking_resource_key
DO UPDATE SET "window" = EXCLUDED."window", shadow = false WHERE a.shadow;

-- name: bulk_repair
INSERT INTO public.allocations AS a (booking_id, restaurant_id, resource_type, resource_id, "window", shadow)
SELECT bta.booking_id, b.restaurant_id, 'table', bta.table_id, tstzrange(bta.start_at, bta.end_at, '[)'), false
FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid)
JOIN public.booking_table_assignments bta ON bta.booking_id = k.booking_id AND bta.table_id = k.table_id
JOIN public.bookings b ON b.id = bta.booking_id
WHERE bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL
ON CONFLICT ON CONSTRAINT allocations_booking_resource_key
DO UPDATE SET "window" = EXCLUDED."window", shadow = false WHERE a.shadow;
