-- name: detect
-- table_inventory.status disagrees with what refresh_table_status() derives from the allocations covering now.
WITH expected AS (
    SELECT t.id, t.restaurant_id, t.status,
           CASE
               WHEN EXISTS (SELECT 1 FROM public.allocations a
                            WHERE a.resource_type = 'table' AND a.resource_id = t.id AND a.is_maintenance
                              AND a."window" @> now()) THEN 'out_of_service'
               WHEN EXISTS (SELECT 1 FROM public.allocations a JOIN public.bookings b ON b.id = a.booking_id
                            WHERE a.resource_type = 'table' AND a.resource_id = t.id AND b.status = 'checked_in'
                              AND a."window" @> now()) THEN 'occupied'
               WHEN EXISTS (SELECT 1 FROM public.allocations a
                            WHERE a.resource_type = 'table' AND a.resource_id = t.id AND NOT a.shadow
                              AND a."window" @> now()) THEN 'reserved'
               ELSE 'available'
           END::public.table_status AS derived
    FROM public.table_inventory t
    WHERE (%(restaurant_id)s::uuid IS NULL OR t.restaurant_id = %(restaurant_id)s::uuid)
      AND (%(booking_id)s::uuid IS NULL OR t.id = ANY (%(table_ids)s::uuid[]))
)
SELECT NULL::uuid AS booking_id, id AS table_id, restaurant_id,
       format('table %%s has status %%s; its allocations say %%s', id, status, derived) AS detail,
       jsonb_build_object('table_id', id, 'status', status) AS key,
       jsonb_build_object('derived', derived) AS metadata
FROM expected
WHERE status IS DISTINCT FROM derived
ORDER BY id;

-- name: repair
SELECT public.refresh_table_status(%(table_id)s::uuid);

-- name: bulk_repair
-- (one call per distinct table, in id order: the same locks in the same order as the allocator)
SELECT public.refresh_table_status(k.table_id)
FROM (SELECT DISTINCT k.table_id FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(table_id uuid) ORDER BY k.table_id) k;
