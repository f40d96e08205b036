-- Rows a repair may touch, selected by the ids of its scope (origin profile). Each query is named
-- <relation>__<ids> and runs only when that id list is non-empty, so every query can use an index; every query
-- returns the relation name and the row as jsonb. The change recorder runs them before and after a repair and diffs.

-- name: bookings__bookings
SELECT 'public.bookings' AS relation, to_jsonb(t) AS row FROM public.bookings t
WHERE t.id = ANY (%(bookings)s::uuid[]);

-- name: table_inventory__tables
SELECT 'public.table_inventory' AS relation, to_jsonb(t) AS row FROM public.table_inventory t
WHERE t.id = ANY (%(tables)s::uuid[]);

-- name: booking_table_assignments__bookings
SELECT 'public.booking_table_assignments' AS relation, to_jsonb(t) AS row FROM public.booking_table_assignments t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: booking_table_assignments__allocations__allocation_id
-- (deleting an allocation sets these references NULL; a third name part is a column the query needs: databases from
-- before M/20251101170000 have no allocation_id, before M/20251103100000 no merge_group_id)
SELECT 'public.booking_table_assignments' AS relation, to_jsonb(t) AS row FROM public.booking_table_assignments t
WHERE t.allocation_id = ANY (%(allocations)s::uuid[]);

-- name: booking_table_assignments__allocations__merge_group_id
SELECT 'public.booking_table_assignments' AS relation, to_jsonb(t) AS row FROM public.booking_table_assignments t
WHERE t.merge_group_id = ANY (%(allocations)s::uuid[]);

-- name: allocations__bookings
SELECT 'public.allocations' AS relation, to_jsonb(t) AS row FROM public.allocations t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: allocations__allocations
SELECT 'public.allocations' AS relation, to_jsonb(t) AS row FROM public.allocations t
WHERE t.id = ANY (%(allocations)s::uuid[]);

-- name: allocations__tables
-- hold triggers write shadow rows (possibly of no booking) on the hold's tables
SELECT 'public.allocations' AS relation, to_jsonb(t) AS row FROM public.allocations t
WHERE t.resource_type = 'table' AND t.resource_id = ANY (%(tables)s::uuid[]) AND (t.shadow OR t.booking_id IS NULL);

-- name: booking_assignment_idempotency__bookings
SELECT 'public.booking_assignment_idempotency' AS relation, to_jsonb(t) AS row
FROM public.booking_assignment_idempotency t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: booking_assignment_idempotency__allocations
SELECT 'public.booking_assignment_idempotency' AS relation, to_jsonb(t) AS row
FROM public.booking_assignment_idempotency t
WHERE t.merge_group_allocation_id = ANY (%(allocations)s::uuid[]);

-- name: booking_confirmation_results__bookings
SELECT 'public.booking_confirmation_results' AS relation, to_jsonb(t) AS row
FROM public.booking_confirmation_results t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: booking_confirmation_results__holds
SELECT 'public.booking_confirmation_results' AS relation, to_jsonb(t) AS row
FROM public.booking_confirmation_results t
WHERE t.hold_id = ANY (%(holds)s::uuid[]);

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

-- name: table_hold_windows__bookings
SELECT 'public.table_hold_windows' AS relation, to_jsonb(t) AS row FROM public.table_hold_windows t
WHERE t.booking_id = ANY (%(bookings)s::uuid[]);

-- name: table_hold_windows__holds
SELECT 'public.table_hold_windows' AS relation, to_jsonb(t) AS row FROM public.table_hold_windows t
WHERE t.hold_id = ANY (%(holds)s::uuid[]);
