-- name: detect
-- A unique index on booking_table_assignments (booking_id, idempotency_key): the index M/20251028064000 dropped.
SELECT NULL::uuid AS booking_id, NULL::uuid AS table_id, NULL::uuid AS restaurant_id,
       format('unique index %%s on booking_table_assignments (booking_id, idempotency_key)%%s is still present',
              i.indexrelid::regclass, coalesce(' WHERE ' || pg_get_expr(i.indpred, i.indrelid), '')) AS detail,
       jsonb_build_object('index', i.indexrelid::regclass::text) AS key,
       jsonb_build_object('definition', pg_get_indexdef(i.indexrelid)) AS metadata
FROM pg_index i
WHERE i.indrelid = 'public.booking_table_assignments'::regclass AND i.indisunique
  AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
        WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) = ARRAY['booking_id', 'idempotency_key']
  AND i.indnkeyatts = 2;
