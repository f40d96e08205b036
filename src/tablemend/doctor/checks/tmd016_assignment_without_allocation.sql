-- name: detect
-- A live, future row with a window but no real 'table' allocation of its booking on that table: typically a table the
-- booking moved away from (v2 never deletes old rows; synchronizeAssignments pruned the allocation).
SELECT bta.booking_id, bta.table_id, b.restaurant_id,
       format('live booking %%s (%%s) holds table %%s over %%s without an allocation%%s', bta.booking_id, b.status,
              bta.table_id, tstzrange(bta.start_at, bta.end_at, '[)'),
              CASE WHEN other.n > 0 THEN format('; its allocated tables are %%s', other.list) ELSE '' END) AS detail,
       jsonb_build_object('booking_id', bta.booking_id, 'table_id', bta.table_id) AS key,
       jsonb_build_object('assignment_id', bta.id, 'status', b.status, 'allocated_tables', other.list,
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.booking_table_assignments bta
JOIN public.bookings b ON b.id = bta.booking_id
CROSS JOIN LATERAL (SELECT count(*) AS n, array_agg(a.resource_id ORDER BY a.resource_id) AS list
                    FROM public.allocations a
                    WHERE a.booking_id = bta.booking_id AND a.resource_type = 'table' AND NOT a.shadow) other
WHERE bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL AND bta.end_at > now()
  AND b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST')
  AND NOT EXISTS (SELECT 1 FROM public.allocations a
                   WHERE a.booking_id = bta.booking_id AND a.resource_type = 'table'
                     AND a.resource_id = bta.table_id AND NOT a.shadow)
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL
       OR (bta.booking_id <> %(booking_id)s::uuid AND bta.table_id = ANY (%(table_ids)s::uuid[])
           AND (bta.slot_id = %(slot_id)s::uuid
                OR tstzrange(bta.start_at, bta.end_at, '[)') && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)'))))
ORDER BY bta.booking_id, bta.table_id;

-- name: repair
-- unassign_tables_atomic(B, [X]) semantics: the row and any allocation of B on X (whose delete trigger
-- refreshes the table's status).
DELETE FROM public.booking_table_assignments WHERE booking_id = %(booking_id)s::uuid AND table_id = %(table_id)s::uuid;

-- name: repair_allocation
DELETE FROM public.allocations
WHERE booking_id = %(booking_id)s::uuid AND resource_type = 'table' AND resource_id = %(table_id)s::uuid;

-- name: bulk_repair
DELETE FROM public.booking_table_assignments bta
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid)
WHERE bta.booking_id = k.booking_id AND bta.table_id = k.table_id;

-- name: bulk_repair_allocation
DELETE FROM public.allocations a
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, table_id uuid)
WHERE a.booking_id = k.booking_id AND a.resource_type = 'table' AND a.resource_id = k.table_id;
