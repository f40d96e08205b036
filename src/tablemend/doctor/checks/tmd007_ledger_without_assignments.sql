-- name: detect
-- Ledger rows whose assignments are gone (unassign, late-arrival processing, manual deletes): the same key replays
-- 0 rows, a new key for the same table set hits the (booking_id, table_set_hash) unique index.
-- Present rows are counted once over the whole ledger (one join, grouped by its primary key), not per ledger row.
WITH found AS (
    SELECT l.booking_id, l.idempotency_key, count(*) AS n
    FROM public.booking_assignment_idempotency l
    JOIN public.booking_table_assignments bta
      ON bta.booking_id = l.booking_id AND bta.idempotency_key = l.idempotency_key AND bta.table_id = ANY (l.table_ids)
    WHERE %(booking_id)s::uuid IS NULL OR l.booking_id = %(booking_id)s::uuid
    GROUP BY l.booking_id, l.idempotency_key
)
SELECT l.booking_id, NULL::uuid AS table_id, b.restaurant_id,
       format('ledger row (%%s, key %%s) for tables %%s has %%s of %%s assignment rows', l.booking_id, l.idempotency_key,
              l.table_ids, coalesce(found.n, 0), cardinality(l.table_ids)) AS detail,
       jsonb_build_object('booking_id', l.booking_id, 'idempotency_key', l.idempotency_key) AS key,
       jsonb_build_object('table_ids', l.table_ids, 'table_set_hash', l.table_set_hash,
                          'assignment_window', l.assignment_window, 'present', coalesce(found.n, 0)) AS metadata
FROM public.booking_assignment_idempotency l
JOIN public.bookings b ON b.id = l.booking_id
LEFT JOIN found ON found.booking_id = l.booking_id AND found.idempotency_key = l.idempotency_key
-- (the cheap bound first: the distinct count is needed only for the rare row with fewer rows than array elements)
WHERE coalesce(found.n, 0) < cardinality(l.table_ids)
  AND coalesce(found.n, 0) < (SELECT count(DISTINCT t) FROM unnest(l.table_ids) t)
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR l.booking_id = %(booking_id)s::uuid)
ORDER BY l.booking_id, l.idempotency_key;

-- name: repair
DELETE FROM public.booking_assignment_idempotency
WHERE booking_id = %(booking_id)s::uuid AND idempotency_key = %(idempotency_key)s;
