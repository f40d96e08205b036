-- name: detect
-- Shadow allocations mirror a hold member of the booking's own unexpired hold; without one they are leftovers.
-- The allocation exclusion skips shadow rows, so another booking's never blocks P: for one booking P, P's own only.
SELECT a.booking_id, a.resource_id AS table_id, a.restaurant_id,
       format('shadow allocation %%s of booking %%s on table %%s (window %%s) has no live hold behind it', a.id,
              a.booking_id, a.resource_id, a."window") AS detail,
       jsonb_build_object('allocation_id', a.id, 'booking_id', a.booking_id, 'table_id', a.resource_id) AS key,
       jsonb_build_object('window', a."window") AS metadata
FROM public.allocations a
WHERE a.resource_type = 'table' AND a.shadow
  AND (%(restaurant_id)s::uuid IS NULL OR a.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR a.booking_id = %(booking_id)s::uuid)
  AND NOT EXISTS (
      SELECT 1 FROM public.table_holds h JOIN public.table_hold_members m ON m.hold_id = h.id
      WHERE h.booking_id IS NOT DISTINCT FROM a.booking_id AND m.table_id = a.resource_id
        AND h.expires_at > now() AND h.status = 'active')
ORDER BY a.booking_id, a.resource_id;

-- name: repair
DELETE FROM public.allocations WHERE id = %(allocation_id)s::uuid AND shadow;

-- name: bulk_repair
DELETE FROM public.allocations a USING jsonb_to_recordset(%(keys)s::jsonb) AS k(allocation_id uuid) WHERE a.id = k.allocation_id AND a.shadow;

-- name: detect__no_hold_status
-- Before table_holds.status every unexpired hold is live.
-- Shadow allocations mirror a hold member of the booking's own unexpired hold; without one they are leftovers.
-- The allocation exclusion skips shadow rows, so another booking's never blocks P: for one booking P, P's own only.
SELECT a.booking_id, a.resource_id AS table_id, a.restaurant_id,
       format('shadow allocation %%s of booking %%s on table %%s (window %%s) has no live hold behind it', a.id,
              a.booking_id, a.resource_id, a."window") AS detail,
       jsonb_build_object('allocation_id', a.id, 'booking_id', a.booking_id, 'table_id', a.resource_id) AS key,
       jsonb_build_object('window', a."window") AS metadata
FROM public.allocations a
WHERE a.resource_type = 'table' AND a.shadow
  AND (%(restaurant_id)s::uuid IS NULL OR a.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR a.booking_id = %(booking_id)s::uuid)
  AND NOT EXISTS (
      SELECT 1 FROM public.table_holds h JOIN public.table_hold_members m ON m.hold_id = h.id
      WHERE h.booking_id IS NOT DISTINCT FROM a.booking_id AND m.table_id = a.resource_id
        AND h.expires_at > now())
ORDER BY a.booking_id, a.resource_id;
