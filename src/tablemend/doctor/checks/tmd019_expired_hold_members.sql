-- name: detect
-- Holds past their expiry, still 'active' with members: the allocator ignores them, but their members keep the
-- hold-member exclusion constraint busy until something retires them.
SELECT h.booking_id, NULL::uuid AS table_id, h.restaurant_id,
       format('hold %%s expired %%s but is still active with %%s member(s)', h.id, h.expires_at, m.n) AS detail,
       jsonb_build_object('restaurant_id', h.restaurant_id, 'hold_id', h.id) AS key,
       jsonb_build_object('tables', m.tables) AS metadata
FROM public.table_holds h
CROSS JOIN LATERAL (SELECT count(*) AS n, array_agg(x.table_id) AS tables FROM public.table_hold_members x
                    WHERE x.restaurant_id = h.restaurant_id AND x.hold_id = h.id) m
WHERE h.status = 'active' AND h.expires_at <= now() AND m.n > 0
  AND (%(restaurant_id)s::uuid IS NULL OR h.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR h.booking_id = %(booking_id)s::uuid OR m.tables && %(table_ids)s::uuid[])
ORDER BY h.id;

-- name: repair
DELETE FROM public.table_hold_members
WHERE restaurant_id = %(restaurant_id)s::uuid AND hold_id = %(hold_id)s::uuid;

-- name: repair_status
UPDATE public.table_holds SET status = 'expired', last_touched_at = now()
WHERE restaurant_id = %(restaurant_id)s::uuid AND id = %(hold_id)s::uuid AND status = 'active';

-- name: bulk_repair
DELETE FROM public.table_hold_members m USING jsonb_to_recordset(%(keys)s::jsonb) AS k(restaurant_id uuid, hold_id uuid)
WHERE m.restaurant_id = k.restaurant_id AND m.hold_id = k.hold_id;

-- name: bulk_repair_status
UPDATE public.table_holds h SET status = 'expired', last_touched_at = now()
FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(restaurant_id uuid, hold_id uuid)
WHERE h.restaurant_id = k.restaurant_id AND h.id = k.hold_id AND h.status = 'active';
