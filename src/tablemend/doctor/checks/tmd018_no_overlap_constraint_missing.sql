-- name: detect
-- The exclusion constraint that makes double bookings impossible is gone or not validated.
SELECT NULL::uuid AS booking_id, NULL::uuid AS table_id, NULL::uuid AS restaurant_id,
       CASE WHEN c.oid IS NULL THEN 'constraint booking_table_assignments_no_overlap is missing'
            ELSE 'constraint booking_table_assignments_no_overlap is not validated' END AS detail,
       jsonb_build_object('constraint', 'booking_table_assignments_no_overlap') AS key,
       jsonb_build_object('present', c.oid IS NOT NULL) AS metadata
FROM (SELECT 1) one
LEFT JOIN pg_constraint c
       ON c.conrelid = 'public.booking_table_assignments'::regclass
      AND c.conname = 'booking_table_assignments_no_overlap' AND c.contype = 'x'
WHERE c.oid IS NULL OR NOT c.convalidated;
