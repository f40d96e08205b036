-- Rows a repair may touch in tablemend's own schema (see snapshot_origin.sql). Params: bookings, tables, holds,
-- allocations (uuid[]).

-- name: bookings
SELECT 'public.bookings' AS relation, to_jsonb(t) AS row FROM public.bookings t
WHERE t.id = ANY (%(bookings)s::uuid[]);

-- name: table_inventory
SELECT 'public.table_inventory' AS relation, to_jsonb(t) AS row FROM public.table_inventory t
WHERE t.id = ANY (%(tables)s::uuid[]);

-- name: booking_table_assignments
SELECT 'public.booking_table_assignments' AS relation, to_jsonb(t) AS row FROM public.booking_table_assignments t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: booking_table_assignments_archive
SELECT 'public.booking_table_assignments_archive' AS relation, to_jsonb(t) AS row
FROM public.booking_table_assignments_archive t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: booking_assignment_idempotency
SELECT 'public.booking_assignment_idempotency' AS relation, to_jsonb(t) AS row
FROM public.booking_assignment_idempotency t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: table_holds
SELECT 'public.table_holds' AS relation, to_jsonb(t) AS row FROM public.table_holds t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]) OR t.id = ANY (%(holds)s::uuid[]);

-- name: table_hold_members
SELECT 'public.table_hold_members' AS relation, to_jsonb(t) AS row FROM public.table_hold_members t
WHERE t.hold_id = ANY (%(holds)s::uuid[])
   OR t.hold_id IN (SELECT h.id FROM public.table_holds h WHERE h.booking_id = ANY (%(bookings)s::uuid[]));
