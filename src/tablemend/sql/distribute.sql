-- Named queries of tablemend.distribute: distributing tablemend's schema on Citus by restaurant (docs/scale.md).

-- name: citus_version
SELECT e.extversion AS version FROM pg_extension e WHERE e.extname = 'citus';

-- name: citus_available
SELECT 1 AS x FROM pg_available_extensions a WHERE a.name = 'citus';

-- name: tables
SELECT c.relname AS name FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY 1;

-- name: foreign_keys
SELECT src.relname AS child, dst.relname AS parent
FROM pg_constraint co
JOIN pg_class src ON src.oid = co.conrelid JOIN pg_class dst ON dst.oid = co.confrelid
WHERE co.contype = 'f' AND src.relnamespace = 'public'::regnamespace AND dst.relnamespace = 'public'::regnamespace;

-- name: table_distribution
-- Read through to_regclass so the query also parses where Citus's catalog is absent (callers check Citus first).
SELECT 1 AS x FROM pg_dist_partition p WHERE p.logicalrelid = to_regclass('public.' || quote_ident(%(table)s));

-- name: distribute_root
SELECT create_distributed_table(('public.' || quote_ident(%(table)s))::regclass, %(column)s);

-- name: distribute_tenant_table
SELECT create_distributed_table(('public.' || quote_ident(%(table)s))::regclass, %(column)s,
                                colocate_with => 'public.restaurants');

-- name: functions
-- The schema's own functions, with their first argument and whether Citus already distributes them (and delegates
-- them, co-located and forced, for the restaurant-keyed ones).
SELECT p.oid::regprocedure::text AS signature, COALESCE(p.proargnames[1], '') AS first_arg,
       o.objid IS NOT NULL AS distributed,
       o.colocationid IS NOT NULL AND COALESCE(o.force_delegation, false) AS colocated
FROM pg_proc p
LEFT JOIN pg_catalog.pg_dist_object o ON o.classid = 'pg_proc'::regclass AND o.objid = p.oid
WHERE p.pronamespace = 'public'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e')
ORDER BY p.proname, p.oid;

-- name: distribute_keyed_function
-- force_delegation: a call inside a transaction block (the scoped service path: SET LOCAL tablemend.restaurant_id,
-- then the call) is delegated too, and the rest of that transaction stays on the restaurant's node.
SELECT create_distributed_function(%(function)s, distribution_arg_name => %(argument)s,
                                   colocate_with => %(root)s, force_delegation => true);

-- name: propagate_function
SELECT create_distributed_function(%(function)s);

-- name: view_distributed
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_object o
               WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid) AS distributed
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relname = %(view)s AND c.relkind = 'v';
