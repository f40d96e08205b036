-- Named queries of tablemend.sample: set-based inserts of a planned sample, then the allocator for the assignments.

-- name: schema_present
SELECT to_regclass('public.booking_table_assignments') IS NOT NULL
       AND to_regprocedure('public.assign_tables_atomic_v2(uuid,uuid[],text,boolean,uuid,timestamptz,timestamptz)')
           IS NOT NULL AS x;

-- name: restaurants_present
SELECT count(*)::int AS n FROM restaurants WHERE id = ANY (%(ids)s::uuid[]);

-- name: insert_restaurant
INSERT INTO restaurants (id, name, slug, timezone) VALUES (%(id)s, %(name)s, %(slug)s, %(timezone)s);

-- name: insert_zone
INSERT INTO zones (restaurant_id, id, name, sort_order, area_type)
VALUES (%(restaurant_id)s, %(id)s, %(name)s, %(sort_order)s, %(area_type)s);

-- name: insert_table
INSERT INTO table_inventory (restaurant_id, id, table_number, capacity, zone_id, mobility, section)
VALUES (%(restaurant_id)s, %(id)s, %(number)s, %(capacity)s, %(zone_id)s, %(mobility)s::table_mobility, %(section)s);

-- name: insert_adjacency
INSERT INTO table_adjacencies (restaurant_id, table_a, table_b) VALUES (%(restaurant_id)s, %(table_a)s, %(table_b)s);

-- name: insert_booking
INSERT INTO bookings (restaurant_id, id, start_at, end_at, party_size, status, customer_name, reference)
VALUES (%(restaurant_id)s, %(id)s, %(start_at)s, %(end_at)s, %(party_size)s, %(status)s::booking_status,
        %(customer_name)s, %(reference)s);

-- name: assign
SELECT count(*) AS n
FROM assign_tables_atomic_v2(%(booking_id)s, %(table_ids)s::uuid[], NULL, %(adjacency)s, NULL, NULL, NULL);

-- name: counts
SELECT (SELECT count(*) FROM restaurants WHERE id = ANY (%(ids)s::uuid[]))::int AS restaurants,
       (SELECT count(*) FROM zones WHERE restaurant_id = ANY (%(ids)s::uuid[]))::int AS zones,
       (SELECT count(*) FROM table_inventory WHERE restaurant_id = ANY (%(ids)s::uuid[]))::int AS tables,
       (SELECT count(*) FROM table_adjacencies WHERE restaurant_id = ANY (%(ids)s::uuid[]))::int AS adjacencies,
       (SELECT count(*) FROM bookings WHERE restaurant_id = ANY (%(ids)s::uuid[]))::int AS bookings,
       (SELECT count(*) FROM booking_table_assignments WHERE restaurant_id = ANY (%(ids)s::uuid[]))::int
           AS assignments;
