-- name: detect
-- One booking P called with key K: P's ledger row under another key already records the same table set (same
-- table_set_hash) and its assignments are all present (a row whose assignments are gone is TMD007's). The call does
-- all its work, then its ledger write (step 15) hits the partial unique index (booking_id, table_set_hash).
SELECT l.booking_id, NULL::uuid AS table_id, b.restaurant_id,
       format('ledger row (%%s, key %%s) already records tables %%s; a call with key %%s for the same tables fails '
              'writing its own (booking_id, table_set_hash)', l.booking_id, l.idempotency_key, l.table_ids,
              %(idempotency_key)s::text) AS detail,
       jsonb_build_object('booking_id', l.booking_id, 'idempotency_key', l.idempotency_key) AS key,
       jsonb_build_object('table_ids', l.table_ids, 'table_set_hash', l.table_set_hash,
                          'new_key', %(idempotency_key)s::text) AS metadata
FROM public.booking_assignment_idempotency l
JOIN public.bookings b ON b.id = l.booking_id
WHERE %(booking_id)s::uuid IS NOT NULL AND %(idempotency_key)s::text IS NOT NULL
  AND l.booking_id = %(booking_id)s::uuid AND l.idempotency_key <> %(idempotency_key)s::text
  AND l.table_set_hash = md5(array_to_string(
          ARRAY(SELECT DISTINCT t FROM unnest(%(table_ids)s::uuid[]) t ORDER BY t), ','))
  AND NOT EXISTS (SELECT 1 FROM unnest(l.table_ids) t
                   WHERE NOT EXISTS (SELECT 1 FROM public.booking_table_assignments bta
                                      WHERE bta.booking_id = l.booking_id AND bta.idempotency_key = l.idempotency_key
                                        AND bta.table_id = t))
ORDER BY l.idempotency_key;

-- name: repair
DELETE FROM public.booking_assignment_idempotency
WHERE booking_id = %(booking_id)s::uuid AND idempotency_key = %(idempotency_key)s;

-- name: bulk_repair
DELETE FROM public.booking_assignment_idempotency l
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, idempotency_key text)
WHERE l.booking_id = k.booking_id AND l.idempotency_key = k.idempotency_key;
