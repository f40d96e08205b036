-- name: detect
-- Two live bookings really occupy one table over overlapping windows (a row's window, or its booking's when the row
-- has none). For one booking P: a live booking's row with a window on P's tables that overlaps P's requested window,
-- with or without an allocation behind it (a live guest's seat either way: B's missing allocation is restored by
-- TMD016, never B's table deleted); rows without a window are TMD005's.
-- Pairs are found in one ordered pass per table (a row overlaps an earlier one when it starts before the latest end
-- so far), not by a self-join: that stays linear in the number of live rows. The ordered pass sorts the join's rows
-- directly (narrow: no copy of them is written first); the materialized copy is built, on first use, only to name
-- the other booking of a pair (or for one booking P). restaurant_id is looked up for the output rows only.
WITH live_rows AS NOT MATERIALIZED (
    SELECT bta.booking_id, bta.table_id,
           CASE WHEN bta.start_at IS NULL OR bta.end_at IS NULL THEN tstzrange(b.start_at, b.end_at, '[)')
                ELSE tstzrange(bta.start_at, bta.end_at, '[)') END AS occupied
    FROM public.booking_table_assignments bta
    JOIN public.bookings b ON b.id = bta.booking_id
    WHERE b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
      -- in a whole scan, rows without any allocation are TMD016 / TMD005 (leftovers), not a confirmed double booking
      AND (%(booking_id)s::uuid IS NULL OR (bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL))
      AND (bta.start_at IS NULL OR %(booking_id)s::uuid IS NOT NULL
           OR EXISTS (SELECT 1 FROM public.allocations a
                                           WHERE a.booking_id = bta.booking_id AND a.resource_type = 'table'
                                             AND a.resource_id = bta.table_id AND NOT a.shadow))
      AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
      AND (%(booking_id)s::uuid IS NULL OR bta.table_id = ANY (%(table_ids)s::uuid[]))
),
live AS MATERIALIZED (SELECT * FROM live_rows),
ordered AS (
    SELECT l.*, max(upper(l.occupied)) OVER (PARTITION BY l.table_id ORDER BY lower(l.occupied), l.booking_id
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_end
    FROM (SELECT * FROM live_rows OFFSET 0) l
    WHERE %(booking_id)s::uuid IS NULL
)
SELECT x.booking_id, x.table_id,
       (SELECT b.restaurant_id FROM public.bookings b WHERE b.id = x.booking_id) AS restaurant_id,
       format('live bookings %%s and %%s both occupy table %%s (%%s and %%s)', x.booking_id, y.booking_id, x.table_id,
              x.occupied, y.occupied) AS detail,
       jsonb_build_object('booking_id', x.booking_id, 'other_booking_id', y.booking_id, 'table_id', x.table_id) AS key,
       jsonb_build_object('other_booking_id', y.booking_id, 'window', x.occupied, 'other_window', y.occupied) AS metadata
FROM ordered x
CROSS JOIN LATERAL (
    SELECT o.booking_id, o.occupied FROM live o
    WHERE o.table_id = x.table_id AND o.booking_id <> x.booking_id AND o.occupied && x.occupied
    ORDER BY lower(o.occupied), o.booking_id LIMIT 1
) y
WHERE x.latest_end > lower(x.occupied)
UNION ALL
SELECT l.booking_id, l.table_id,
       (SELECT b.restaurant_id FROM public.bookings b WHERE b.id = l.booking_id) AS restaurant_id,
       format('live booking %%s occupies table %%s over %%s, overlapping booking %%s''s requested %%s', l.booking_id,
              l.table_id, l.occupied, %(booking_id)s::uuid,
              tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')) AS detail,
       jsonb_build_object('booking_id', l.booking_id, 'other_booking_id', %(booking_id)s::uuid,
                          'table_id', l.table_id) AS key,
       jsonb_build_object('blocks_booking_id', %(booking_id)s::uuid, 'window', l.occupied) AS metadata
FROM live l
WHERE %(booking_id)s::uuid IS NOT NULL AND l.booking_id <> %(booking_id)s::uuid
  AND l.occupied && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')
  -- a row wholly outside its own booking's window is no seat but one a move left behind: TMD025's (confirm)
  AND EXISTS (SELECT 1 FROM public.bookings b
               WHERE b.id = l.booking_id AND l.occupied && tstzrange(b.start_at, b.end_at, '[)'))
ORDER BY 1, 2;
