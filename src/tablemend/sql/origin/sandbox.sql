-- Named queries of tablemend.sandbox: catalog probes, seed writes and the calls into the origin's allocator.

-- name: installed_tables
SELECT c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND c.relname IN ('restaurants', 'zones', 'table_inventory', 'bookings', 'booking_slots',
                    'booking_table_assignments', 'allocations', 'booking_assignment_idempotency')
ORDER BY c.relname

-- name: legacy_pieces
SELECT
    to_regclass('tablemend.schema_migrations') IS NOT NULL AS tablemend_schema,
    EXISTS (SELECT 1 FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.proname = 'assign_tables_atomic_v2'
              AND p.pronargs = 5) AS legacy_overload,
    EXISTS (SELECT 1 FROM pg_index i
            JOIN pg_attribute a1 ON a1.attrelid = i.indrelid AND a1.attnum = i.indkey[0]
            JOIN pg_attribute a2 ON a2.attrelid = i.indrelid AND a2.attnum = i.indkey[1]
            WHERE i.indrelid = to_regclass('public.booking_table_assignments')
              AND i.indisunique AND i.indnatts = 2 AND i.indpred IS NOT NULL
              AND a1.attname = 'booking_id' AND a2.attname = 'idempotency_key') AS legacy_idempotency_index

-- name: insert_restaurant
INSERT INTO public.restaurants (name, slug, timezone)
VALUES (%(name)s, %(slug)s, %(timezone)s)
RETURNING id

-- name: insert_zone
INSERT INTO public.zones (restaurant_id, name, sort_order, area_type)
VALUES (%(restaurant_id)s, %(name)s, %(sort_order)s, %(area_type)s)
RETURNING id

-- name: insert_allowed_capacity
INSERT INTO public.allowed_capacities (restaurant_id, capacity, label)
VALUES (%(restaurant_id)s, %(capacity)s, %(label)s)

-- name: insert_table
INSERT INTO public.table_inventory (restaurant_id, zone_id, table_number, capacity, min_party_size, max_party_size,
                                    mobility, section)
VALUES (%(restaurant_id)s, %(zone_id)s, %(table_number)s, %(capacity)s, 1, %(capacity)s,
        %(mobility)s::public.table_mobility, %(section)s)
RETURNING id

-- name: insert_adjacency
INSERT INTO public.table_adjacencies (table_a, table_b) VALUES (%(table_a)s, %(table_b)s)

-- name: insert_booking
INSERT INTO public.bookings (restaurant_id, customer_name, booking_date, start_time, end_time, party_size, status,
                             reference)
VALUES (%(restaurant_id)s, %(customer_name)s, %(booking_date)s, %(start_time)s, %(end_time)s, %(party_size)s,
        %(status)s::public.booking_status, %(reference)s)
RETURNING id, start_at, end_at

-- name: slot_for
SELECT public.get_or_create_booking_slot(%(restaurant_id)s, %(slot_date)s, %(slot_time)s, 999) AS id

-- name: assign
SELECT table_id, start_at, end_at, merge_group_id
FROM public.assign_tables_atomic_v2(%(p_booking_id)s::uuid, %(p_table_ids)s::uuid[], %(p_idempotency_key)s::text,
                                    %(p_require_adjacency)s::boolean, %(p_assigned_by)s::uuid,
                                    %(p_start_at)s::timestamptz, %(p_end_at)s::timestamptz)

-- name: unassign
SELECT table_id FROM public.unassign_tables_atomic(%(booking_id)s::uuid, %(table_ids)s::uuid[])

-- name: set_status
UPDATE public.bookings SET status = %(status)s::public.booking_status WHERE id = %(booking_id)s

-- name: move_booking
UPDATE public.bookings SET start_time = %(start_time)s, end_time = %(end_time)s WHERE id = %(booking_id)s
RETURNING start_at, end_at

-- name: sync_windows
SELECT public.sync_confirmed_assignment_windows(%(booking_id)s, %(table_ids)s::uuid[], %(start_at)s, %(end_at)s) AS n

-- name: delete_table_allocation
DELETE FROM public.allocations
WHERE booking_id = %(booking_id)s AND resource_type = 'table' AND resource_id = %(table_id)s

-- name: delete_booking_assignments
DELETE FROM public.booking_table_assignments WHERE booking_id = %(booking_id)s

-- name: insert_raw_assignment
INSERT INTO public.booking_table_assignments (booking_id, table_id, slot_id, start_at, end_at, notes)
VALUES (%(booking_id)s, %(table_id)s, %(slot_id)s, %(start_at)s, %(end_at)s, %(notes)s)

-- name: call_v2
SELECT table_id, start_at, end_at, merge_group_id
FROM public.assign_tables_atomic_v2(
    p_booking_id => %(p_booking_id)s::uuid,
    p_table_ids => %(p_table_ids)s::uuid[],
    p_idempotency_key => %(p_idempotency_key)s::text,
    p_require_adjacency => %(p_require_adjacency)s::boolean,
    p_assigned_by => %(p_assigned_by)s::uuid,
    p_start_at => %(p_start_at)s::timestamptz,
    p_end_at => %(p_end_at)s::timestamptz)

-- name: call_v2_five_args
SELECT table_id, start_at, end_at, merge_group_id
FROM public.assign_tables_atomic_v2(
    p_booking_id => %(p_booking_id)s::uuid,
    p_table_ids => %(p_table_ids)s::uuid[],
    p_idempotency_key => %(p_idempotency_key)s::text,
    p_require_adjacency => %(p_require_adjacency)s::boolean,
    p_assigned_by => %(p_assigned_by)s::uuid)

-- name: check_deferred
-- What COMMIT would do: run the constraint checks a DEFERRABLE INITIALLY DEFERRED constraint postponed (the
-- deferred-exclusion variant), inside the caller's transaction, so a rolled-back call sees the commit's error.
SET CONSTRAINTS ALL IMMEDIATE;
