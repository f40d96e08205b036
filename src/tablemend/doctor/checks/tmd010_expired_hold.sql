-- name: detect
-- Holds that no longer hold (expired, or already confirmed / cancelled) but still have members or hold windows, or
-- are past expiry and still 'active'. Their hold windows and shadow allocations keep mirroring a claim nobody has:
-- an unexpired window of a confirmed or cancelled hold even blocks other bookings' assignments. For one booking P:
-- P's own such holds, and holds of others with an unexpired window on P's tables overlapping P's window (the
-- origin's step 11 reads the windows only: not the hold's status, not its own expiry).
SELECT h.booking_id, NULL::uuid AS table_id, h.restaurant_id,
       format('hold %%s (%%s, expires %%s) still has %%s member(s) and %%s hold window(s)', h.id, h.status,
              h.expires_at, m.n, w.n) AS detail,
       -- an unexpired window still blocks other bookings' assignments
       CASE WHEN h.expires_at > now() AND w.n > 0 THEN 'error' END AS level,
       jsonb_build_object('hold_id', h.id, 'booking_id', h.booking_id) AS key,
       jsonb_build_object('tables', (SELECT array_agg(DISTINCT t) FROM unnest(m.tables || w.tables) t),
                          'status', h.status, 'window', tstzrange(h.start_at, h.end_at, '[)')) AS metadata
FROM public.table_holds h
CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(array_agg(x.table_id), '{}') AS tables
                    FROM public.table_hold_members x WHERE x.hold_id = h.id) m
CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(array_agg(x.table_id), '{}') AS tables
                    FROM public.table_hold_windows x WHERE x.hold_id = h.id) w
WHERE (h.expires_at <= now() OR h.status <> 'active')
  AND (m.n > 0 OR w.n > 0 OR h.status = 'active')
  AND (%(restaurant_id)s::uuid IS NULL OR h.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR h.booking_id = %(booking_id)s::uuid
       OR EXISTS (SELECT 1 FROM public.table_hold_windows x
                   WHERE x.hold_id = h.id AND x.table_id = ANY (%(table_ids)s::uuid[]) AND x.expires_at > now()
                     AND x.hold_window && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')))
ORDER BY h.id;

-- name: repair
-- Member deletes fire the origin's sync trigger (removes the hold window and the shadow allocation) ...
DELETE FROM public.table_hold_members WHERE hold_id = %(hold_id)s::uuid;

-- name: repair_windows
DELETE FROM public.table_hold_windows WHERE hold_id = %(hold_id)s::uuid;

-- name: repair_status
-- ... and an active hold past its expiry is marked expired (a confirmed or cancelled one keeps its status).
UPDATE public.table_holds SET status = 'expired' WHERE id = %(hold_id)s::uuid AND status = 'active'
  AND expires_at <= now();

-- name: bulk_repair
DELETE FROM public.table_hold_members m USING jsonb_to_recordset(%(keys)s::jsonb) AS k(hold_id uuid) WHERE m.hold_id = k.hold_id;

-- name: bulk_repair_windows
DELETE FROM public.table_hold_windows w USING jsonb_to_recordset(%(keys)s::jsonb) AS k(hold_id uuid) WHERE w.hold_id = k.hold_id;

-- name: bulk_repair_status
UPDATE public.table_holds h SET status = 'expired' FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(hold_id uuid)
WHERE h.id = k.hold_id AND h.status = 'active' AND h.expires_at <= now();

-- name: detect__no_hold_status
-- Before table_holds.status (M/20251117190000) a hold is in force until it expires: the same check on expiry alone.
-- Holds that no longer hold (expired, or already confirmed / cancelled) but still have members or hold windows, or
-- are past expiry and still 'active'. Their hold windows and shadow allocations keep mirroring a claim nobody has:
-- an unexpired window of a confirmed or cancelled hold even blocks other bookings' assignments. For one booking P:
-- P's own such holds, and holds of others with an unexpired window on P's tables overlapping P's window.
SELECT h.booking_id, NULL::uuid AS table_id, h.restaurant_id,
       format('hold %%s (%%s, expires %%s) still has %%s member(s) and %%s hold window(s)', h.id, 'no status',
              h.expires_at, m.n, w.n) AS detail,
       -- an unexpired window still blocks other bookings' assignments
       CASE WHEN h.expires_at > now() AND w.n > 0 THEN 'error' END AS level,
       jsonb_build_object('hold_id', h.id, 'booking_id', h.booking_id) AS key,
       jsonb_build_object('tables', (SELECT array_agg(DISTINCT t) FROM unnest(m.tables || w.tables) t),
                          'status', NULL, 'window', tstzrange(h.start_at, h.end_at, '[)')) AS metadata
FROM public.table_holds h
CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(array_agg(x.table_id), '{}') AS tables
                    FROM public.table_hold_members x WHERE x.hold_id = h.id) m
CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(array_agg(x.table_id), '{}') AS tables
                    FROM public.table_hold_windows x WHERE x.hold_id = h.id) w
WHERE h.expires_at <= now()
  AND (m.n > 0 OR w.n > 0)
  AND (%(restaurant_id)s::uuid IS NULL OR h.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR h.booking_id = %(booking_id)s::uuid
       OR EXISTS (SELECT 1 FROM public.table_hold_windows x
                   WHERE x.hold_id = h.id AND x.table_id = ANY (%(table_ids)s::uuid[]) AND x.expires_at > now()
                     AND x.hold_window && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')))
ORDER BY h.id;

-- name: repair_status__no_hold_status
-- skip

-- name: bulk_repair_status__no_hold_status
-- skip
