-- name: detect
-- For one booking P: P's assignment rows on tables outside the zone of the tables it asks for (the origin's step 6
-- compares every existing row's zone with the requested one), one finding per other zone.
WITH requested AS (
    SELECT DISTINCT t.zone_id FROM public.table_inventory t WHERE t.id = ANY (%(table_ids)s::uuid[])
),
held AS (
    SELECT bta.booking_id, t.zone_id, array_agg(bta.table_id ORDER BY bta.table_id) AS tables,
           array_agg(bta.id ORDER BY bta.table_id) AS assignment_ids
    FROM public.booking_table_assignments bta
    JOIN public.table_inventory t ON t.id = bta.table_id
    WHERE bta.booking_id = %(booking_id)s::uuid
    GROUP BY bta.booking_id, t.zone_id
)
SELECT h.booking_id, NULL::uuid AS table_id, b.restaurant_id,
       format('booking %%s (%%s) still holds table(s) %%s in zone %%s; asking for zone %%s fails with 23514 '
              '"already has assignments in a different zone"', h.booking_id, b.status,
              array_to_string(h.tables, ', '), coalesce(h.zone_id::text, 'NULL'),
              (SELECT string_agg(r.zone_id::text, ', ') FROM requested r)) AS detail,
       jsonb_build_object('booking_id', h.booking_id, 'zone_id', h.zone_id) AS key,
       jsonb_build_object('tables', h.tables, 'assignment_ids', h.assignment_ids, 'status', b.status) AS metadata
FROM held h
JOIN public.bookings b ON b.id = h.booking_id
WHERE %(booking_id)s::uuid IS NOT NULL
  AND EXISTS (SELECT 1 FROM requested)
  AND NOT EXISTS (SELECT 1 FROM requested r WHERE r.zone_id IS NOT DISTINCT FROM h.zone_id)
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
ORDER BY h.zone_id;

-- name: repair_allocations
-- unassign_tables_atomic(P, <tables in that zone>): P's table allocations on them ...
DELETE FROM public.allocations a
USING public.table_inventory t
WHERE a.booking_id = %(booking_id)s::uuid AND a.resource_type = 'table' AND a.resource_id = t.id
  AND t.zone_id IS NOT DISTINCT FROM %(zone_id)s::uuid
  AND t.id IN (SELECT bta.table_id FROM public.booking_table_assignments bta WHERE bta.booking_id = %(booking_id)s::uuid);

-- name: repair
-- ... and the rows themselves.
DELETE FROM public.booking_table_assignments bta
USING public.table_inventory t
WHERE bta.booking_id = %(booking_id)s::uuid AND t.id = bta.table_id AND t.zone_id IS NOT DISTINCT FROM %(zone_id)s::uuid;

-- name: bulk_repair_allocations
-- The same repair for every planned finding at once, keyed by the findings' (booking, zone) pairs.
DELETE FROM public.allocations a
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, zone_id uuid), public.table_inventory t
WHERE a.booking_id = k.booking_id AND a.resource_type = 'table' AND a.resource_id = t.id
  AND t.zone_id IS NOT DISTINCT FROM k.zone_id
  AND t.id IN (SELECT bta.table_id FROM public.booking_table_assignments bta WHERE bta.booking_id = k.booking_id);

-- name: bulk_repair
DELETE FROM public.booking_table_assignments bta
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, zone_id uuid), public.table_inventory t
WHERE bta.booking_id = k.booking_id AND t.id = bta.table_id AND t.zone_id IS NOT DISTINCT FROM k.zone_id;
