-- name: detect
-- More than one assign_tables_atomic_v2 in public: calls naming 5 or fewer arguments fail with 42725, and the old
-- 5-argument body reports every unique violation as "duplicate".
SELECT NULL::uuid AS booking_id, NULL::uuid AS table_id, NULL::uuid AS restaurant_id,
       format('assign_tables_atomic_v2(%%s) is installed next to the 7-argument version',
              pg_get_function_identity_arguments(p.oid)) AS detail,
       jsonb_build_object('function', p.oid::regprocedure::text) AS key,
       jsonb_build_object('arguments', pg_get_function_identity_arguments(p.oid)) AS metadata
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proname = 'assign_tables_atomic_v2' AND p.pronargs <> 7
  AND (SELECT count(*) FROM pg_proc q WHERE q.pronamespace = p.pronamespace AND q.proname = p.proname) > 1;
