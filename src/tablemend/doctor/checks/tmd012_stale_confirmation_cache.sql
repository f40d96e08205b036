-- name: detect
-- Cached confirmation results for tables the booking no longer holds (or for a released booking): a confirm retry
-- with that key returns the cached, stale answer instead of assigning.
SELECT c.booking_id, NULL::uuid AS table_id, b.restaurant_id,
       format('confirmation cache (%%s, key %%s) lists tables %%s but the booking holds %%s', c.booking_id,
              c.idempotency_key, c.table_ids, coalesce(held.list::text, 'none')) AS detail,
       jsonb_build_object('booking_id', c.booking_id, 'idempotency_key', c.idempotency_key) AS key,
       jsonb_build_object('hold_id', c.hold_id, 'table_ids', c.table_ids, 'status', b.status) AS metadata
FROM public.booking_confirmation_results c
JOIN public.bookings b ON b.id = c.booking_id
CROSS JOIN LATERAL (SELECT array_agg(bta.table_id ORDER BY bta.table_id) AS list
                    FROM public.booking_table_assignments bta WHERE bta.booking_id = c.booking_id) held
WHERE (b.status IN ('cancelled', 'no_show', 'PRIORITY_WAITLIST')
       OR NOT (c.table_ids <@ coalesce(held.list, '{}')) OR cardinality(c.table_ids) = 0)
  AND (%(restaurant_id)s::uuid IS NULL OR b.restaurant_id = %(restaurant_id)s::uuid)
  AND (%(booking_id)s::uuid IS NULL OR c.booking_id = %(booking_id)s::uuid)
ORDER BY c.booking_id, c.idempotency_key;

-- name: repair
DELETE FROM public.booking_confirmation_results
WHERE booking_id = %(booking_id)s::uuid AND idempotency_key = %(idempotency_key)s;

-- name: bulk_repair
DELETE FROM public.booking_confirmation_results c
USING jsonb_to_recordset(%(keys)s::jsonb) AS k(booking_id uuid, idempotency_key text)
WHERE c.booking_id = k.booking_id AND c.idempotency_key = k.idempotency_key;
