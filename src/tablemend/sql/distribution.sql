-- Named queries of tablemend.distribution: catalog reads that tell whether a schema distributes on Citus by its
-- tenant column (docs/scale.md). Each takes %(schema)s; the tenant column is restaurant_id (the root restaurants: id).

-- name: tenant_columns
-- Tables without a NOT NULL tenant column.
SELECT c.relname AS subject,
       CASE WHEN a.attnum IS NULL THEN 'no column ' ELSE 'nullable column ' END
       || CASE WHEN c.relname = 'restaurants' THEN 'id' ELSE 'restaurant_id' END AS detail
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped
     AND a.attname = CASE WHEN c.relname = 'restaurants' THEN 'id' ELSE 'restaurant_id' END
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND (a.attnum IS NULL OR NOT a.attnotnull)
ORDER BY 1;

-- name: keys_without_tenant
-- Primary keys, unique constraints, unique indexes and exclusion constraints that leave the tenant column out: a shard
-- can only enforce a key that contains the distribution column.
SELECT c.relname || '.' || i.relname AS subject,
       CASE WHEN co.contype = 'x' THEN 'exclusion constraint' ELSE 'unique key' END || ' without the tenant column'
           AS detail
FROM pg_index x
JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint co ON co.conindid = x.indexrelid AND co.conrelid = x.indrelid
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND (x.indisunique OR co.contype = 'x')
  AND NOT EXISTS (
      SELECT 1 FROM pg_attribute a
      WHERE a.attrelid = c.oid AND a.attnum = ANY (x.indkey)
        AND a.attname = CASE WHEN c.relname = 'restaurants' THEN 'id' ELSE 'restaurant_id' END)
ORDER BY 1;

-- name: foreign_keys_without_tenant
-- Foreign keys between tables of the schema that do not pair the tenant columns of both sides (same position).
SELECT src.relname || '.' || co.conname AS subject,
       'columns (' || array_to_string(ARRAY(SELECT a.attname::text FROM unnest(co.conkey) k JOIN pg_attribute a
                                            ON a.attrelid = co.conrelid AND a.attnum = k), ', ')
       || ') do not pair the tenant column of ' || dst.relname AS detail
FROM pg_constraint co
JOIN pg_class src ON src.oid = co.conrelid JOIN pg_namespace n ON n.oid = src.relnamespace
JOIN pg_class dst ON dst.oid = co.confrelid
WHERE co.contype = 'f' AND n.nspname = %(schema)s AND dst.relnamespace = src.relnamespace
  AND array_position(co.conkey, (SELECT a.attnum FROM pg_attribute a
                                 WHERE a.attrelid = co.conrelid AND a.attname = 'restaurant_id'))
      IS DISTINCT FROM
      array_position(co.confkey, (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = co.confrelid
                                  AND a.attname = CASE WHEN dst.relname = 'restaurants' THEN 'id'
                                                       ELSE 'restaurant_id' END))
ORDER BY 1;

-- name: foreign_key_actions
-- Foreign-key actions Citus refuses when the distribution column is part of the key: ON DELETE SET NULL / SET DEFAULT
-- (with or without a column list) and ON UPDATE SET NULL / SET DEFAULT / CASCADE.
SELECT src.relname || '.' || co.conname AS subject,
       concat_ws(' ',
                 CASE co.confdeltype WHEN 'n' THEN 'ON DELETE SET NULL' WHEN 'd' THEN 'ON DELETE SET DEFAULT' END,
                 CASE co.confupdtype WHEN 'n' THEN 'ON UPDATE SET NULL' WHEN 'd' THEN 'ON UPDATE SET DEFAULT'
                                     WHEN 'c' THEN 'ON UPDATE CASCADE' END) AS detail
FROM pg_constraint co
JOIN pg_class src ON src.oid = co.conrelid JOIN pg_namespace n ON n.oid = src.relnamespace
WHERE co.contype = 'f' AND n.nspname = %(schema)s
  AND (co.confdeltype IN ('n', 'd') OR co.confupdtype IN ('n', 'd', 'c'))
ORDER BY 1;

-- name: transition_table_triggers
-- Triggers that read transition tables (REFERENCING OLD/NEW TABLE): on a shard the tuplestore is not visible to the
-- distributed queries the trigger makes, and joining it with other distributed tables cannot be planned.
SELECT c.relname || '.' || t.tgname AS subject,
       'statement-level trigger reading transition table(s) '
       || concat_ws(', ', t.tgoldtable::text, t.tgnewtable::text) AS detail
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND NOT t.tgisinternal
  AND (t.tgoldtable IS NOT NULL OR t.tgnewtable IS NOT NULL)
ORDER BY 1;

-- name: policies_with_subqueries
-- Row-level security policies whose expressions hold a subquery: Citus refuses them on distributed tables.
SELECT c.relname || '.' || p.polname AS subject, 'policy expression with a subquery' AS detail
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s
  AND (COALESCE(pg_get_expr(p.polqual, p.polrelid), '') ~* '\mSELECT\M'
       OR COALESCE(pg_get_expr(p.polwithcheck, p.polrelid), '') ~* '\mSELECT\M')
ORDER BY 1;

-- name: forced_generic_plans
-- Functions pinned to generic plans: Citus cannot route a generic plan's parameterised queries (0A000).
SELECT p.oid::regprocedure::text AS subject, 'SET plan_cache_mode = force_generic_plan' AS detail
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND 'plan_cache_mode=force_generic_plan' = ANY (p.proconfig)
ORDER BY 1;

-- name: functions
-- The schema's own PL/pgSQL and SQL functions with what the lookup check reads: the first argument, whether it is a
-- SECURITY DEFINER entry point, and the body.
SELECT p.proname AS name, p.oid::regprocedure::text AS signature, p.prosecdef AS definer,
       p.prorettype = 'trigger'::regtype AS is_trigger, COALESCE(p.proargnames[1], '') AS first_arg,
       p.prosrc AS body
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = %(schema)s AND l.lanname IN ('plpgsql', 'sql')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e')
ORDER BY p.proname, p.oid;

-- name: tenant_tables
-- Tables of the schema that carry restaurant_id (their statements must name it).
SELECT c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'restaurant_id'
              AND NOT a.attisdropped)
ORDER BY 1;


-- name: citus_installed
SELECT EXISTS (SELECT 1 FROM pg_extension e WHERE e.extname = 'citus') AS x;

-- name: generic_plans_state
-- The allocator's entry points and whether each runs with plan_cache_mode = force_generic_plan.
SELECT p.proname::text AS name, COALESCE('plan_cache_mode=force_generic_plan' = ANY (p.proconfig), false) AS forced
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
  AND p.proname = ANY (ARRAY['assign_tables_atomic_v2', 'unassign_tables_atomic', 'create_table_hold',
                           'extend_table_hold', 'release_table_hold', 'confirm_hold_assignment',
                           'set_booking_status', 'move_booking', 'quote_tables', 'hold_best_tables', 'repack_state',
                           'apply_repack_plan', 'restaurant_assign_tables', 'restaurant_unassign_tables',
                           'restaurant_extend_table_hold', 'restaurant_release_table_hold',
                           'restaurant_confirm_hold_assignment', 'restaurant_set_booking_status',
                           'restaurant_move_booking'])
ORDER BY p.proname;

-- name: generic_plans_on
-- A single server: the entry points (and what they call) plan once per session, not on every call.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
               AND p.proname = ANY (ARRAY['assign_tables_atomic_v2', 'unassign_tables_atomic', 'create_table_hold',
                                'extend_table_hold', 'release_table_hold', 'confirm_hold_assignment',
                                'set_booking_status', 'move_booking', 'quote_tables', 'hold_best_tables',
                                'repack_state', 'apply_repack_plan', 'restaurant_assign_tables',
                                'restaurant_unassign_tables', 'restaurant_extend_table_hold',
                                'restaurant_release_table_hold', 'restaurant_confirm_hold_assignment',
                                'restaurant_set_booking_status', 'restaurant_move_booking'])
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan', f);
    END LOOP;
END
$$;

-- name: generic_plans_off
-- Citus: it cannot route a generic plan's parameterised queries, nor delegate the call.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
               AND p.proname = ANY (ARRAY['assign_tables_atomic_v2', 'unassign_tables_atomic', 'create_table_hold',
                                'extend_table_hold', 'release_table_hold', 'confirm_hold_assignment',
                                'set_booking_status', 'move_booking', 'quote_tables', 'hold_best_tables',
                                'repack_state', 'apply_repack_plan', 'restaurant_assign_tables',
                                'restaurant_unassign_tables', 'restaurant_extend_table_hold',
                                'restaurant_release_table_hold', 'restaurant_confirm_hold_assignment',
                                'restaurant_set_booking_status', 'restaurant_move_booking'])
    LOOP
        EXECUTE format('ALTER FUNCTION %s RESET plan_cache_mode', f);
    END LOOP;
END
$$;
