-- TMD023: an occupancy table's GiST index (exclusion constraint) no longer returns some of the table's live rows.
-- For each index: count_<key> counts the rows per restaurant that the index must hold (its predicate is the same text
-- either way); tablemend.doctor.reindex runs it once as a sequential scan and once forced through the index (a bitmap
-- scan, checked with EXPLAIN), and compares. rows_<key> lists one restaurant's rows the same two ways (the restaurant
-- filter is written so no other index can serve it); overlap_<key> finds live rows that break the exclusion
-- constraint (read sequentially: the damaged index cannot be trusted to find them).

-- name: detect
-- the occupancy GiST indexes present (by name, in schema public), with whether they are valid
SELECT ic.relname::text AS index, tc.relname::text AS relation, i.indisvalid AS valid
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'gist'
WHERE tc.relnamespace = 'public'::regnamespace AND ic.relname = ANY (%(names)s::text[]);

-- name: repair_leftovers
-- REINDEX INDEX CONCURRENTLY leaves an invalid <index>_ccnew behind when it fails; the action drops it
SELECT ic.relname::text AS index
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE ic.relnamespace = 'public'::regnamespace AND NOT i.indisvalid AND ic.relname LIKE %(pattern)s;

-- --- tablemend: booking_table_assignments_no_overlap ----------------------------------------------------------------

-- name: count_tm_assignments
SELECT a.restaurant_id, count(*)::bigint AS n
FROM public.booking_table_assignments a
WHERE a.assignment_window && tstzrange(NULL, NULL)
  AND (%(restaurant)s::text IS NULL OR a.restaurant_id::text = %(restaurant)s::text)
GROUP BY a.restaurant_id;

-- name: rows_tm_assignments
SELECT a.id::text AS row_id
FROM public.booking_table_assignments a
WHERE a.assignment_window && tstzrange(NULL, NULL) AND a.restaurant_id::text = %(restaurant)s::text;

-- name: overlap_tm_assignments
SELECT a.restaurant_id, a.id::text AS row_a, b.id::text AS row_b, a.booking_id AS booking_a,
       b.booking_id AS booking_b, a.table_id
FROM public.booking_table_assignments a
JOIN public.booking_table_assignments b
  ON b.restaurant_id = a.restaurant_id AND b.table_id = a.table_id AND b.id > a.id
 AND b.assignment_window && a.assignment_window
ORDER BY 1, 2, 3;

-- --- tablemend: table_hold_members_no_overlap -----------------------------------------------------------------------

-- name: count_tm_hold_members
SELECT m.restaurant_id, count(*)::bigint AS n
FROM public.table_hold_members m
WHERE m.hold_window && tstzrange(NULL, NULL)
  AND (%(restaurant)s::text IS NULL OR m.restaurant_id::text = %(restaurant)s::text)
GROUP BY m.restaurant_id;

-- name: rows_tm_hold_members
SELECT m.hold_id::text || '/' || m.table_id::text AS row_id
FROM public.table_hold_members m
WHERE m.hold_window && tstzrange(NULL, NULL) AND m.restaurant_id::text = %(restaurant)s::text;

-- name: overlap_tm_hold_members
SELECT a.restaurant_id, a.hold_id::text || '/' || a.table_id::text AS row_a,
       b.hold_id::text || '/' || b.table_id::text AS row_b, NULL::uuid AS booking_a, NULL::uuid AS booking_b,
       a.table_id
FROM public.table_hold_members a
JOIN public.table_hold_members b
  ON b.restaurant_id = a.restaurant_id AND b.table_id = a.table_id AND b.hold_id > a.hold_id
 AND b.hold_window && a.hold_window
ORDER BY 1, 2, 3;

-- --- origin: no_overlapping_table_assignments (an expression, partial) ---------------------------------------------

-- name: count_origin_assignments
SELECT ti.restaurant_id, count(*)::bigint AS n
FROM public.booking_table_assignments a
JOIN public.table_inventory ti ON ti.id = a.table_id
WHERE tstzrange(a.start_at, a.end_at) && tstzrange(NULL, NULL) AND a.start_at IS NOT NULL AND a.end_at IS NOT NULL
  AND (%(restaurant)s::text IS NULL OR ti.restaurant_id::text = %(restaurant)s::text)
GROUP BY ti.restaurant_id;

-- name: rows_origin_assignments
SELECT a.id::text AS row_id
FROM public.booking_table_assignments a
JOIN public.table_inventory ti ON ti.id = a.table_id
WHERE tstzrange(a.start_at, a.end_at) && tstzrange(NULL, NULL) AND a.start_at IS NOT NULL AND a.end_at IS NOT NULL
  AND ti.restaurant_id::text = %(restaurant)s::text;

-- name: overlap_origin_assignments
SELECT ti.restaurant_id, a.id::text AS row_a, b.id::text AS row_b, a.booking_id AS booking_a,
       b.booking_id AS booking_b, a.table_id
FROM public.booking_table_assignments a
JOIN public.booking_table_assignments b
  ON b.table_id = a.table_id AND b.id > a.id
 AND tstzrange(b.start_at, b.end_at) && tstzrange(a.start_at, a.end_at)
JOIN public.table_inventory ti ON ti.id = a.table_id
WHERE a.start_at IS NOT NULL AND a.end_at IS NOT NULL AND b.start_at IS NOT NULL AND b.end_at IS NOT NULL
ORDER BY 1, 2, 3;

-- --- origin: booking_table_assignments_window_gist (a plain GiST index of the same rows) ---------------------------

-- name: count_origin_assignment_windows
SELECT ti.restaurant_id, count(*)::bigint AS n
FROM public.booking_table_assignments a
JOIN public.table_inventory ti ON ti.id = a.table_id
WHERE a.assignment_window && tstzrange(NULL, NULL)
  AND (%(restaurant)s::text IS NULL OR ti.restaurant_id::text = %(restaurant)s::text)
GROUP BY ti.restaurant_id;

-- name: rows_origin_assignment_windows
SELECT a.id::text AS row_id
FROM public.booking_table_assignments a
JOIN public.table_inventory ti ON ti.id = a.table_id
WHERE a.assignment_window && tstzrange(NULL, NULL) AND ti.restaurant_id::text = %(restaurant)s::text;

-- --- origin: table_hold_windows_no_overlap --------------------------------------------------------------------------

-- name: count_origin_hold_windows
SELECT w.restaurant_id, count(*)::bigint AS n
FROM public.table_hold_windows w
WHERE w.hold_window && tstzrange(NULL, NULL)
  AND (%(restaurant)s::text IS NULL OR w.restaurant_id::text = %(restaurant)s::text)
GROUP BY w.restaurant_id;

-- name: rows_origin_hold_windows
SELECT w.hold_id::text || '/' || w.table_id::text AS row_id
FROM public.table_hold_windows w
WHERE w.hold_window && tstzrange(NULL, NULL) AND w.restaurant_id::text = %(restaurant)s::text;

-- name: overlap_origin_hold_windows
SELECT a.restaurant_id, a.hold_id::text || '/' || a.table_id::text AS row_a,
       b.hold_id::text || '/' || b.table_id::text AS row_b, a.booking_id AS booking_a, b.booking_id AS booking_b,
       a.table_id
FROM public.table_hold_windows a
JOIN public.table_hold_windows b
  ON b.table_id = a.table_id AND (b.hold_id, b.table_id) > (a.hold_id, a.table_id)
 AND b.hold_window && a.hold_window
ORDER BY 1, 2, 3;

-- --- origin: allocations_no_overlap (partial: real rows only) -------------------------------------------------------

-- name: count_origin_allocations
SELECT al.restaurant_id, count(*)::bigint AS n
FROM public.allocations al
WHERE al."window" && tstzrange(NULL, NULL) AND NOT al.shadow
  AND (%(restaurant)s::text IS NULL OR al.restaurant_id::text = %(restaurant)s::text)
GROUP BY al.restaurant_id;

-- name: rows_origin_allocations
SELECT al.id::text AS row_id
FROM public.allocations al
WHERE al."window" && tstzrange(NULL, NULL) AND NOT al.shadow AND al.restaurant_id::text = %(restaurant)s::text;

-- name: overlap_origin_allocations
SELECT a.restaurant_id, a.id::text AS row_a, b.id::text AS row_b, a.booking_id AS booking_a,
       b.booking_id AS booking_b, CASE WHEN a.resource_type = 'table' THEN a.resource_id END AS table_id
FROM public.allocations a
JOIN public.allocations b
  ON b.restaurant_id = a.restaurant_id AND b.resource_type = a.resource_type AND b.resource_id = a.resource_id
 AND b.id > a.id AND b."window" && a."window"
WHERE NOT a.shadow AND NOT b.shadow
ORDER BY 1, 2, 3;
