-- Named queries of tablemend.security: catalog reads that drive ownership and grants (docs/security.md).

-- name: role_exists
SELECT 1 AS x FROM pg_roles WHERE rolname = %(name)s;

-- name: whoami
SELECT r.rolsuper AS superuser FROM pg_roles r WHERE r.rolname = current_user;

-- name: owned_objects
-- Everything of tablemend's schemas not yet owned by the owner role: relations (indexes and owned sequences follow
-- their table), free-standing types (enums, domains, composites; array and row types follow), functions.
-- Extension members (btree_gist's) keep their owner.
WITH objects AS (
    SELECT c.relkind::text AS kind, n.nspname AS schema, c.relname AS name, c.relowner AS owner, 1 AS overloads
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY (%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('e', 'a', 'i'))
    UNION ALL
    SELECT 'type', n.nspname, t.typname, t.typowner, 1
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = ANY (%(schemas)s) AND t.typtype IN ('e', 'd', 'c', 'r', 'm')
      AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                      AND d.deptype IN ('e', 'i'))
    UNION ALL
    SELECT 'function', n.nspname, p.proname, p.proowner,
           count(*) OVER (PARTITION BY p.pronamespace, p.proname)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = ANY (%(schemas)s)
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
)
SELECT o.kind, o.schema, o.name, o.overloads::text AS overloads
FROM objects o
WHERE o.owner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = %(owner)s)
ORDER BY o.kind, o.schema, o.name;

-- name: unpinned_functions
-- Functions of tablemend's schemas whose search_path is not exactly the pinned one (pg_temp last).
SELECT n.nspname AS schema, p.proname AS name,
       (count(*) OVER (PARTITION BY p.pronamespace, p.proname))::text AS overloads
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY (%(schemas)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                  AND d.deptype = 'e')
  AND NOT COALESCE('search_path=' || %(path)s = ANY (p.proconfig), false)
ORDER BY 1, 2;

-- name: foreign_grants
-- Privileges on tablemend's relations and functions held by anyone but the owner role: PUBLIC (grantee NULL),
-- strangers (such as Supabase's anon), and tablemend's own roles, which are granted again exactly; a NULL ACL means
-- the defaults (EXECUTE for PUBLIC on a function).
WITH acls AS (
    SELECT c.relkind::text AS kind, n.nspname AS schema, c.relname AS name, 1 AS overloads,
           COALESCE(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY (%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e')
    UNION ALL
    SELECT 'function', n.nspname, p.proname, count(*) OVER (PARTITION BY p.pronamespace, p.proname),
           COALESCE(p.proacl, acldefault('f', p.proowner))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = ANY (%(schemas)s)
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
)
SELECT DISTINCT a.kind, a.schema, a.name, a.overloads::text AS overloads, r.rolname AS grantee
FROM acls a
CROSS JOIN LATERAL aclexplode(a.acl) x
LEFT JOIN pg_roles r ON r.oid = x.grantee
WHERE x.grantee = 0 OR r.rolname <> %(owner)s
ORDER BY 1, 2, 3, 5;

-- name: public_functions
SELECT p.proname AS name FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace;

-- name: tenant_tables
-- Tables with row-level security in public: the tenant tables (repair writes them, scoped by the policies).
SELECT c.relname AS name FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relrowsecurity
ORDER BY 1;
