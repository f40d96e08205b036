-- name: detect
-- Ledger rows whose assignments are gone (unassign, late-arrival processing, manual deletes): the same key replays
-- 0 rows, a new key for the same table set hits the (booking_id, table_set_hash) unique index.
-- One hash anti-join of the ledger's (row, table) pairs against the assignment rows finds the ledger rows with a
-- table that has no row under their key (a booking holds a table at most once, so that is exactly "fewer present
-- rows than distinct tables"); only those few are read again to count what is present. No aggregate over every
-- ledger row, and each table is read once.
WITH short AS (
    SELECT DISTINCT l.booking_id, l.idempotency_key
    FROM public.booking_assignment_idempotency l
    CROSS JOIN LATERAL unnest(l.table_ids) AS t(table_id)
    WHERE (%(booking_id)s::uuid IS NULL OR l.booking_id = %(booking_id)s::uuid)
      AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments bta
                       WHERE bta.booking_id = l.booking_id AND bta.idempotency_key = l.idempotency_key
                         AND bta.table_id = t.table_id)
)
SELECT l.booking_id, NULL::uuid AS table_id, b.restaurant_id,
       format('ledger row (%%s, key %%s) for tables %%s has %%s of %%s assignment rows', l.booking_id, l.idempotency_key,
              l.table_ids, n.present, cardinality(l.table_ids)) AS detail,
       jsonb_build_object('booking_id', l.booking_id, 'idempotency_key', l.idempotency_key) AS key,
       jsonb_build_object('table_ids', l.table_ids, 'table_set_hash', l.table_set_hash,
                          'assignment_window', l.assignment_window, 'present', n.present) AS metadata
FROM short s
JOIN public.booking_assignment_idempotency l ON l.booking_id = s.booking_id AND l.idempotency_key = s.idempotency_key
JOIN public.bookings b ON b.id = l.booking_id
CROSS JOIN LATERAL (SELECT count(*) AS present FROM public.booking_table_assignments bta
                    WHERE bta.booking_id = l.booking_id AND bta.idempotency_key = l.idempotency_key
                      AND bta.table_id = ANY (l.table_ids)) n
WHERE %(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid
ORDER BY l.booking_id, l.idempotency_key;

-- name: repair
DELETE FROM public.booking_assignment_idempotency
WHERE booking_id = %(booking_id)s::uuid AND idempotency_key = %(idempotency_key)s;

-- name: bulk_repair
DELETE FROM public.booking_assignment_idempotency l
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, idempotency_key text)
WHERE l.booking_id = k.booking_id AND l.idempotency_key = k.idempotency_key;
