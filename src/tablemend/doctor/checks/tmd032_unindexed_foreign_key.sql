-- name: detect
-- Foreign keys into the tables the doctor's repairs delete from (allocations, assignments, holds and their members
-- and windows, the ledger, the confirmation cache) whose referencing columns lead no index: PostgreSQL then finds
-- the referencing rows of every deleted row (ON DELETE SET NULL / CASCADE / the NO ACTION check) with a sequential
-- scan of the whole referencing table. Reported when that table holds at least %(min_rows)s rows (estimated).
WITH fk AS (
    SELECT c.oid, c.conname, c.conrelid, c.confrelid, c.confdeltype,
           array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns,
           c.conkey
    FROM pg_constraint c
    WHERE c.contype = 'f'
      AND c.confrelid IN (SELECT to_regclass(r) FROM unnest(ARRAY[
              'public.allocations', 'public.booking_table_assignments', 'public.table_hold_members',
              'public.table_hold_windows', 'public.table_holds', 'public.booking_assignment_idempotency',
              'public.booking_confirmation_results']) AS r)
), unindexed AS (
    SELECT fk.*, rn.nspname AS schema_name, rc.relname AS table_name,
           fn.nspname || '.' || fc.relname AS referenced, greatest(rc.reltuples, 0)::bigint AS rows,
           pg_relation_size(rc.oid) AS bytes
    FROM fk
    JOIN pg_class rc ON rc.oid = fk.conrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    JOIN pg_class fc ON fc.oid = fk.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = fk.conrelid AND i.indisvalid AND i.indpred IS NULL
          AND (i.indkey::int2[])[0:cardinality(fk.conkey) - 1] @> fk.conkey
          AND (i.indkey::int2[])[0:cardinality(fk.conkey) - 1] <@ fk.conkey)
)
SELECT NULL::uuid AS booking_id, NULL::uuid AS table_id, NULL::uuid AS restaurant_id,
       format('foreign key %%s on %%I.%%I (%%s) has no index: each %%s row a repair deletes scans all ~%%s rows '
              'of %%I.%%I (ON DELETE %%s)', conname, schema_name, table_name, array_to_string(columns, ', '),
              referenced, rows, schema_name, table_name,
              CASE confdeltype WHEN 'n' THEN 'SET NULL' WHEN 'c' THEN 'CASCADE' WHEN 'd' THEN 'SET DEFAULT'
                               ELSE 'check' END) AS detail,
       jsonb_build_object('constraint', conname, 'relation', schema_name || '.' || table_name) AS key,
       jsonb_build_object('relation', schema_name || '.' || table_name, 'columns', columns,
                          'referenced', referenced, 'rows', rows, 'bytes', bytes,
                          'index_sql', format('CREATE INDEX CONCURRENTLY %%I ON %%I.%%I (%%s);',
                                              left(table_name || '_' || array_to_string(columns, '_') || '_idx', 63),
                                              schema_name, table_name,
                                              (SELECT string_agg(quote_ident(c), ', ') FROM unnest(columns) c)),
                          'index_name', left(table_name || '_' || array_to_string(columns, '_') || '_idx', 63),
                          'schema', schema_name) AS metadata
FROM unindexed
WHERE %(booking_id)s::uuid IS NULL AND rows >= %(min_rows)s
ORDER BY schema_name, table_name, conname;
