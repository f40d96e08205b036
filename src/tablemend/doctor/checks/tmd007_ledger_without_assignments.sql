-- name: detect
-- Ledger rows whose assignments are gone (unassign, late-arrival processing, manual deletes): the same key replays
-- 0 rows, a new key for the same table set hits the (booking_id, table_set_hash) unique index.
-- One pass: the ledger left-joined with its rows, grouped by the ledger's primary key, keeps only rows with fewer
-- present rows than array elements (a cheap bound); those few are then read again for the exact distinct count.
WITH short AS (
    SELECT l.booking_id, l.idempotency_key, count(bta.booking_id) AS n
    FROM public.booking_assignment_idempotency l
    LEFT JOIN public.booking_table_assignments bta
      ON bta.booking_id = l.booking_id AND bta.idempotency_key = l.idempotency_key AND bta.table_id = ANY (l.table_ids)
    WHERE %(booking_id)s::uuid IS NULL OR l.booking_id = %(booking_id)s::uuid
    GROUP BY l.booking_id, l.idempotency_key
    HAVING count(bta.booking_id) < min(cardinality(l.table_ids))
)
SELECT l.booking_id, NULL::uuid AS table_id, b.restaurant_id,
       format('ledger row (%%s, key %%s) for tables %%s has %%s of %%s assignment rows', l.booking_id, l.idempotency_key,
              l.table_ids, s.n, cardinality(l.table_ids)) AS detail,
       jsonb_build_object('booking_id', l.booking_id, 'idempotency_key', l.idempotency_key) AS key,
       jsonb_build_object('table_ids', l.table_ids, 'table_set_hash', l.table_set_hash,
                          'assignment_window', l.assignment_window, 'present', s.n) AS metadata
FROM short s
JOIN public.booking_assignment_idempotency l ON l.booking_id = s.booking_id AND l.idempotency_key = s.idempotency_key
JOIN public.bookings b ON b.id = l.booking_id
WHERE s.n < (SELECT count(DISTINCT t) FROM unnest(l.table_ids) t)
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
ORDER BY l.booking_id, l.idempotency_key;

-- name: repair
DELETE FROM public.booking_assignment_idempotency
WHERE booking_id = %(booking_id)s::uuid AND idempotency_key = %(idempotency_key)s;

-- name: bulk_repair
DELETE FROM public.booking_assignment_idempotency l
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, idempotency_key text)
WHERE l.booking_id = k.booking_id AND l.idempotency_key = k.idempotency_key;
