-- name: detect
-- Holds past their expiry that still have members, hold windows or an 'active' status. Their hold windows and shadow
-- allocations keep mirroring a claim nobody has any more. For one booking P: expired holds on P's tables or of P.
SELECT h.booking_id, NULL::uuid AS table_id, h.restaurant_id,
       format('hold %%s (%%s, expired %%s) still has %%s member(s) and %%s hold window(s)', h.id, h.status, h.expires_at,
              m.n, w.n) AS detail,
       jsonb_build_object('hold_id', h.id, 'booking_id', h.booking_id) AS key,
       jsonb_build_object('tables', m.tables, 'window', tstzrange(h.start_at, h.end_at, '[)')) AS metadata
FROM public.table_holds h
CROSS JOIN LATERAL (SELECT count(*) AS n, array_agg(x.table_id) AS tables
                    FROM public.table_hold_members x WHERE x.hold_id = h.id) m
CROSS JOIN LATERAL (SELECT count(*) AS n FROM public.table_hold_windows x WHERE x.hold_id = h.id) w
WHERE h.expires_at <= now() AND (h.status = 'active' OR m.n > 0 OR w.n > 0)
  AND (%(restaurant_id)s::uuid IS NULL OR h.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR h.booking_id = %(booking_id)s::uuid
       OR m.tables && %(table_ids)s::uuid[])
ORDER BY h.id;

-- name: repair
-- Member deletes fire the origin's sync trigger (removes the hold window and the shadow allocation) ...
DELETE FROM public.table_hold_members WHERE hold_id = %(hold_id)s::uuid;

-- name: repair_windows
DELETE FROM public.table_hold_windows WHERE hold_id = %(hold_id)s::uuid;

-- name: repair_status
UPDATE public.table_holds SET status = 'expired' WHERE id = %(hold_id)s::uuid AND status = 'active';
