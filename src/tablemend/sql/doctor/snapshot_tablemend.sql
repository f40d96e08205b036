-- Rows a repair may touch in tablemend's own schema (see snapshot_origin.sql for the naming).

-- name: bookings__bookings
SELECT 'public.bookings' AS relation, to_jsonb(t) AS row FROM public.bookings t
WHERE t.id = ANY (%(bookings)s::uuid[]);

-- name: table_inventory__tables
SELECT 'public.table_inventory' AS relation, to_jsonb(t) AS row FROM public.table_inventory t
WHERE t.id = ANY (%(tables)s::uuid[]);

-- name: booking_table_assignments__bookings
SELECT 'public.booking_table_assignments' AS relation, to_jsonb(t) AS row FROM public.booking_table_assignments t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: booking_table_assignments_archive__bookings
SELECT 'public.booking_table_assignments_archive' AS relation, to_jsonb(t) AS row
FROM public.booking_table_assignments_archive t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: booking_assignment_idempotency__bookings
SELECT 'public.booking_assignment_idempotency' AS relation, to_jsonb(t) AS row
FROM public.booking_assignment_idempotency t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: table_holds__bookings
SELECT 'public.table_holds' AS relation, to_jsonb(t) AS row FROM public.table_holds t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: table_holds__holds
SELECT 'public.table_holds' AS relation, to_jsonb(t) AS row FROM public.table_holds t
WHERE t.id = ANY (%(holds)s::uuid[]);

-- name: table_hold_members__bookings
SELECT 'public.table_hold_members' AS relation, to_jsonb(t) AS row FROM public.table_hold_members t
WHERE t.hold_id IN (SELECT h.id FROM public.table_holds h WHERE h.booking_id = ANY (%(bookings)s::uuid[]));

-- name: table_hold_members__holds
SELECT 'public.table_hold_members' AS relation, to_jsonb(t) AS row FROM public.table_hold_members t
WHERE t.hold_id = ANY (%(holds)s::uuid[]);
