-- Rows a repair may touch, selected by the ids of its scope. One query per relation (origin profile); every query
-- returns the relation name and the row as jsonb. The change recorder runs them before and after a repair and diffs.
-- Params: bookings, tables, holds, allocations (uuid[]).

-- name: bookings
SELECT 'public.bookings' AS relation, to_jsonb(t) AS row FROM public.bookings t
WHERE t.id = ANY (%(bookings)s::uuid[]);

-- name: table_inventory
SELECT 'public.table_inventory' AS relation, to_jsonb(t) AS row FROM public.table_inventory t
WHERE t.id = ANY (%(tables)s::uuid[]);

-- name: booking_table_assignments
SELECT 'public.booking_table_assignments' AS relation, to_jsonb(t) AS row FROM public.booking_table_assignments t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]) OR t.allocation_id = ANY (%(allocations)s::uuid[])
   OR t.merge_group_id = ANY (%(allocations)s::uuid[]);

-- name: allocations
SELECT 'public.allocations' AS relation, to_jsonb(t) AS row FROM public.allocations t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]) OR t.id = ANY (%(allocations)s::uuid[])
   -- hold triggers write shadow rows (possibly of no booking) on the hold's tables
   OR (t.resource_type = 'table' AND t.resource_id = ANY (%(tables)s::uuid[]) AND (t.shadow OR t.booking_id IS NULL));

-- name: booking_assignment_idempotency
SELECT 'public.booking_assignment_idempotency' AS relation, to_jsonb(t) AS row
FROM public.booking_assignment_idempotency t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]) OR t.merge_group_allocation_id = ANY (%(allocations)s::uuid[]);

-- name: booking_confirmation_results
SELECT 'public.booking_confirmation_results' AS relation, to_jsonb(t) AS row
FROM public.booking_confirmation_results t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]) OR t.hold_id = ANY (%(holds)s::uuid[]);

-- name: table_holds
SELECT 'public.table_holds' AS relation, to_jsonb(t) AS row FROM public.table_holds t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]) OR t.id = ANY (%(holds)s::uuid[]);

-- name: table_hold_members
SELECT 'public.table_hold_members' AS relation, to_jsonb(t) AS row FROM public.table_hold_members t
WHERE t.hold_id = ANY (%(holds)s::uuid[])
   OR t.hold_id IN (SELECT h.id FROM public.table_holds h WHERE h.booking_id = ANY (%(bookings)s::uuid[]));

-- name: table_hold_windows
SELECT 'public.table_hold_windows' AS relation, to_jsonb(t) AS row FROM public.table_hold_windows t
WHERE t.hold_id = ANY (%(holds)s::uuid[]) OR t.booking_id = ANY (%(bookings)s::uuid[]);
