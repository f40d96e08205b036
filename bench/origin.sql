-- Named queries of bench/origin.py: the origin sandbox's schema with the same floors as tablemend's sample.

-- name: insert_restaurant
INSERT INTO public.restaurants (id, name, slug, timezone) VALUES (%(id)s, %(name)s, %(slug)s, %(timezone)s);

-- name: insert_zone
INSERT INTO public.zones (restaurant_id, id, name, sort_order, area_type)
VALUES (%(restaurant_id)s, %(id)s, %(name)s, %(sort_order)s, %(area_type)s::public.zone_area_type);

-- name: insert_capacity
INSERT INTO public.allowed_capacities (restaurant_id, capacity) VALUES (%(restaurant_id)s, %(capacity)s)
ON CONFLICT DO NOTHING;

-- name: insert_table
INSERT INTO public.table_inventory (restaurant_id, id, table_number, capacity, zone_id, mobility, section)
VALUES (%(restaurant_id)s, %(id)s, %(number)s, %(capacity)s, %(zone_id)s, %(mobility)s::public.table_mobility,
        %(section)s);

-- name: insert_adjacency
INSERT INTO public.table_adjacencies (table_a, table_b) VALUES (%(table_a)s, %(table_b)s);

-- name: groups
-- The same shape as bench/allocator.sql's groups query, on the origin's tables.
SELECT t.restaurant_id, t.zone_id, t.id, t.capacity, t.mobility::text AS mobility,
       (regexp_replace(t.table_number, '\D', '', 'g'))::int AS n
FROM public.table_inventory t
WHERE t.restaurant_id = ANY (%(ids)s::uuid[]) AND t.active
ORDER BY t.restaurant_id, t.zone_id, n;

-- name: insert_booking
-- A booking as the origin's API writes it: date and local times (the trigger derives start_at / end_at).
INSERT INTO public.bookings (restaurant_id, id, booking_date, start_time, end_time, party_size, status, reference)
VALUES (%(restaurant_id)s, %(id)s, %(booking_date)s, %(start_time)s, %(end_time)s, %(party_size)s, 'pending',
        %(reference)s);

-- name: insert_slot
-- The slot the origin's booking flow creates with the booking (the allocator reads it in §2 step 12).
INSERT INTO public.booking_slots (restaurant_id, slot_date, slot_time, available_capacity)
VALUES (%(restaurant_id)s, %(booking_date)s, %(start_time)s, 999)
ON CONFLICT ON CONSTRAINT booking_slots_restaurant_slot_key DO NOTHING;

-- name: unassign
SELECT table_id FROM public.unassign_tables_atomic(%(booking_id)s::uuid, NULL::uuid[]);

-- name: deadlocks
SELECT deadlocks::bigint AS n FROM pg_stat_database WHERE datname = current_database();
