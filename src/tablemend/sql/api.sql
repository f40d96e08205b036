-- Named queries of the HTTP service (tablemend.api): which restaurant a request's ids belong to, and the operations
-- page's reads. They run as the service's pool user, before the call itself runs in the key's tenant scope.

-- name: booking_restaurant
SELECT b.restaurant_id FROM bookings b WHERE b.id = %(id)s LIMIT 1;

-- name: hold_restaurant
SELECT h.restaurant_id FROM table_holds h WHERE h.id = %(id)s LIMIT 1;

-- name: foreign_tables
-- The requested table ids that are not tables of this restaurant (unknown ones and other restaurants' alike).
SELECT u.id FROM unnest(%(ids)s::uuid[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM table_inventory t WHERE t.restaurant_id = %(restaurant_id)s AND t.id = u.id)
ORDER BY u.id;

-- name: restaurants
SELECT r.id, r.name, r.timezone FROM restaurants r
WHERE %(all)s OR r.id = ANY (%(ids)s::uuid[])
ORDER BY r.name, r.id;

-- name: restaurant
SELECT r.id, r.name, r.timezone FROM restaurants r WHERE r.id = %(restaurant_id)s;

-- name: day_bounds
-- The restaurant's local day as instants; the page's axis.
SELECT (%(day)s::date::timestamp AT TIME ZONE r.timezone) AS day_start,
       ((%(day)s::date + 1)::timestamp AT TIME ZONE r.timezone) AS day_end
FROM restaurants r WHERE r.id = %(restaurant_id)s;

-- name: floor
SELECT z.id AS zone_id, z.name AS zone_name, t.id AS table_id, t.table_number, t.capacity, t.status::text AS status
FROM zones z JOIN table_inventory t ON t.restaurant_id = z.restaurant_id AND t.zone_id = z.id
WHERE z.restaurant_id = %(restaurant_id)s
ORDER BY z.sort_order, z.name, length(t.table_number), t.table_number;

-- name: day_assignments
SELECT a.table_id, a.booking_id, a.start_at, a.end_at, b.status::text AS status, b.customer_name, b.party_size
FROM booking_table_assignments a
JOIN bookings b ON b.restaurant_id = a.restaurant_id AND b.id = a.booking_id
WHERE a.restaurant_id = %(restaurant_id)s AND a.start_at < %(day_end)s AND a.end_at > %(day_start)s
ORDER BY a.table_id, a.start_at;

-- name: day_holds
SELECT m.table_id, h.id AS hold_id, h.booking_id, h.start_at, h.end_at, h.expires_at, h.status::text AS status
FROM table_hold_members m
JOIN table_holds h ON h.restaurant_id = m.restaurant_id AND h.id = m.hold_id
WHERE m.restaurant_id = %(restaurant_id)s AND m.start_at < %(day_end)s AND m.end_at > %(day_start)s
ORDER BY m.table_id, m.start_at;

-- name: booking_detail
SELECT b.id AS booking_id, b.restaurant_id, b.start_at, b.end_at, b.party_size, b.status::text AS status,
       b.customer_name, b.reference,
       COALESCE(ARRAY(SELECT t.table_number FROM booking_table_assignments a
                      JOIN table_inventory t ON t.restaurant_id = a.restaurant_id AND t.id = a.table_id
                      WHERE a.restaurant_id = b.restaurant_id AND a.booking_id = b.id
                      ORDER BY length(t.table_number), t.table_number), '{}') AS tables
FROM bookings b WHERE b.id = %(booking_id)s AND b.restaurant_id = %(restaurant_id)s;

-- name: ping
SELECT 1 AS ok;
