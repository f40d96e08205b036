-- How the doctor reads: completely (row_security off, pg_dump's rule) or, under an explicit --restaurant R, as R.
-- Every setting is transaction-local (set_config(..., true)): nothing depends on session state.

-- name: complete_reads
-- A query that row-level security would filter now fails (42501) instead of returning a subset.
SELECT set_config('row_security', 'off', true);

-- name: restaurant_reads
-- Explicit scope: the origin's tenant policies admit the rows of the restaurant in app.restaurant_id.
SELECT set_config('row_security', 'on', true), set_config('app.restaurant_id', %(restaurant_id)s::text, true);

-- name: filtered_relations
-- Tables the doctor reads whose row-level security applies to the current role (not owner, no BYPASSRLS, or FORCE).
SELECT n.nspname || '.' || c.relname AS relation
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND n.nspname IN ('public', 'tablemend', 'tablemend_doctor')
  AND row_security_active(c.oid)
ORDER BY 1;

-- name: restaurant_visible
SELECT EXISTS (SELECT 1 FROM public.restaurants r WHERE r.id = %(restaurant_id)s::uuid) AS ok;

-- name: restaurant_hidden_references
-- Rows of R the doctor sees that point at rows it does not see: the policies hide part of R.
SELECT 'public.booking_table_assignments' AS relation, count(*) AS n
FROM public.booking_table_assignments bta
WHERE NOT EXISTS (SELECT 1 FROM public.bookings b WHERE b.id = bta.booking_id)
   OR NOT EXISTS (SELECT 1 FROM public.table_inventory t WHERE t.id = bta.table_id)
UNION ALL
SELECT 'public.allocations', count(*)
FROM public.allocations a
WHERE a.restaurant_id = %(restaurant_id)s::uuid AND a.booking_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM public.bookings b WHERE b.id = a.booking_id)
UNION ALL
SELECT 'public.bookings', count(*)
FROM public.bookings b
WHERE b.restaurant_id = %(restaurant_id)s::uuid AND b.assigned_zone_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM public.zones z WHERE z.id = b.assigned_zone_id)
UNION ALL
SELECT 'public.table_hold_windows', count(*)
FROM public.table_hold_windows w
WHERE w.restaurant_id = %(restaurant_id)s::uuid
  AND NOT EXISTS (SELECT 1 FROM public.table_holds h WHERE h.id = w.hold_id);

-- name: has_origin_tables
SELECT to_regclass('public.table_hold_windows') IS NOT NULL AND to_regclass('public.booking_slots') IS NOT NULL AS ok;
