-- name: detect
-- 'merge_group' allocations nothing points at any more (every multi-table call leaves one behind).
SELECT a.booking_id, NULL::uuid AS table_id, a.restaurant_id,
       format('merge-group allocation %%s of booking %%s (window %%s) is referenced by no assignment or ledger row',
              a.id, a.booking_id, a."window") AS detail,
       jsonb_build_object('allocation_id', a.id, 'booking_id', a.booking_id) AS key,
       jsonb_build_object('window', a."window", 'shadow', a.shadow) AS metadata
FROM public.allocations a
WHERE a.resource_type = 'merge_group'
  AND (%(restaurant_id)s::uuid IS NULL OR a.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR a.booking_id = %(booking_id)s::uuid)
  AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments bta WHERE bta.merge_group_id = a.id)
  AND NOT EXISTS (SELECT 1 FROM public.booking_assignment_idempotency l WHERE l.merge_group_allocation_id = a.id)
ORDER BY a.booking_id, a.id;

-- name: repair
DELETE FROM public.allocations WHERE id = %(allocation_id)s::uuid AND resource_type = 'merge_group';

-- name: bulk_repair
DELETE FROM public.allocations a USING jsonb_to_recordset(%(keys)s::jsonb) AS k(allocation_id uuid)
WHERE a.id = k.allocation_id AND a.resource_type = 'merge_group';
