-- name: detect
-- An active, unexpired hold whose windows block assignments: in a scan, holds of bookings that were released
-- (cancelled, no-show, completed, waitlisted, past) — nobody will confirm them; for one booking P, any other
-- booking's (or unowned) hold window on P's tables overlapping P's window — the origin's step 11 refuses P.
SELECT h.booking_id, w.table_id, h.restaurant_id,
       format('active hold %%s of %%s holds table %%s over %%s until %%s', h.id,
              coalesce(format('booking %%s (%%s)', h.booking_id, b.status), 'no booking'), w.table_id,
              w.hold_window, h.expires_at) AS detail,
       CASE WHEN b.status IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') OR b.end_at <= now()
            THEN 'safe' END AS safety,
       jsonb_build_object('hold_id', h.id, 'booking_id', h.booking_id, 'table_id', w.table_id) AS key,
       jsonb_build_object('status', b.status, 'expires_at', h.expires_at, 'window', w.hold_window,
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.table_holds h
JOIN public.table_hold_windows w ON w.hold_id = h.id
LEFT JOIN public.bookings b ON b.id = h.booking_id
WHERE h.status = 'active' AND h.expires_at > now() AND w.expires_at > now()
  AND (%(restaurant_id)s::uuid IS NULL OR h.restaurant_id = %(restaurant_id)s::uuid)
  AND CASE WHEN %(booking_id)s::uuid IS NULL
        THEN b.status IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') OR b.end_at <= now()
        ELSE h.booking_id IS DISTINCT FROM %(booking_id)s::uuid AND w.table_id = ANY (%(table_ids)s::uuid[])
             AND w.hold_window && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')
      END
ORDER BY h.id, w.table_id;

-- name: repair
-- Release the hold as the origin's release does: members (their trigger drops windows and shadow allocations) ...
DELETE FROM public.table_hold_members WHERE hold_id = %(hold_id)s::uuid;

-- name: repair_windows
DELETE FROM public.table_hold_windows WHERE hold_id = %(hold_id)s::uuid;

-- name: repair_status
UPDATE public.table_holds SET status = 'cancelled' WHERE id = %(hold_id)s::uuid AND status = 'active';

-- name: bulk_repair
DELETE FROM public.table_hold_members m USING jsonb_to_recordset(%(keys)s::jsonb) AS k(hold_id uuid) WHERE m.hold_id = k.hold_id;

-- name: bulk_repair_windows
DELETE FROM public.table_hold_windows w USING jsonb_to_recordset(%(keys)s::jsonb) AS k(hold_id uuid) WHERE w.hold_id = k.hold_id;

-- name: bulk_repair_status
UPDATE public.table_holds h SET status = 'cancelled' FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(hold_id uuid)
WHERE h.id = k.hold_id AND h.status = 'active';

-- name: detect__no_hold_status
-- Before table_holds.status every unexpired hold is live.
-- An active, unexpired hold whose windows block assignments: in a scan, holds of bookings that were released
-- (cancelled, no-show, completed, waitlisted, past) — nobody will confirm them; for one booking P, any other
-- booking's (or unowned) hold window on P's tables overlapping P's window — the origin's step 11 refuses P.
SELECT h.booking_id, w.table_id, h.restaurant_id,
       format('active hold %%s of %%s holds table %%s over %%s until %%s', h.id,
              coalesce(format('booking %%s (%%s)', h.booking_id, b.status), 'no booking'), w.table_id,
              w.hold_window, h.expires_at) AS detail,
       CASE WHEN b.status IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') OR b.end_at <= now()
            THEN 'safe' END AS safety,
       jsonb_build_object('hold_id', h.id, 'booking_id', h.booking_id, 'table_id', w.table_id) AS key,
       jsonb_build_object('status', b.status, 'expires_at', h.expires_at, 'window', w.hold_window,
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.table_holds h
JOIN public.table_hold_windows w ON w.hold_id = h.id
LEFT JOIN public.bookings b ON b.id = h.booking_id
WHERE h.expires_at > now() AND w.expires_at > now()
  AND (%(restaurant_id)s::uuid IS NULL OR h.restaurant_id = %(restaurant_id)s::uuid)
  AND CASE WHEN %(booking_id)s::uuid IS NULL
        THEN b.status IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') OR b.end_at <= now()
        ELSE h.booking_id IS DISTINCT FROM %(booking_id)s::uuid AND w.table_id = ANY (%(table_ids)s::uuid[])
             AND w.hold_window && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')
      END
ORDER BY h.id, w.table_id;

-- name: repair_status__no_hold_status
-- skip

-- name: bulk_repair_status__no_hold_status
-- skip
