-- Named queries of the auto-assign methods of tablemend.allocator: thin calls to migrations/0006_auto_assign.sql.

-- name: quote
SELECT q.rank, q.table_ids, q.table_numbers, q.zone_id, q.zone_name, q.zone_order, q.seats, q.spare_seats,
       q.table_count, q.reason
FROM quote_tables(%(restaurant_id)s, %(party_size)s, %(start_at)s, %(end_at)s, %(zone_id)s, %(seating)s, %(limit)s,
                  %(booking_id)s) AS q
ORDER BY q.rank;

-- name: hold_best
-- now() is fixed for the transaction, so the expiry returned is the one stored
SELECT h.hold_id, h.rank, h.table_ids, h.table_numbers, h.zone_id, h.seats, h.spare_seats, h.reason, h.start_at,
       h.end_at, h.expires_at, h.lost_to_others
FROM hold_best_tables(%(restaurant_id)s, %(party_size)s, %(start_at)s, %(end_at)s,
                      COALESCE(%(expires_at)s::timestamptz, now() + %(ttl)s::interval), %(booking_id)s, %(zone_id)s,
                      %(seating)s, %(created_by)s) AS h;

-- name: repack_state
SELECT repack_state(%(restaurant_id)s, %(party_size)s, %(start_at)s, %(end_at)s, %(zone_id)s, %(seating)s,
                    %(booking_id)s) AS state;

-- name: booking_request
-- A re-pack for a booking: its restaurant, party and window (TAN01 from the caller when there is no row).
SELECT b.restaurant_id, b.party_size, b.start_at, b.end_at FROM bookings b WHERE b.id = %(booking_id)s;

-- name: apply_repack
SELECT r.hold_id, r.table_ids, r.moved_bookings, r.fingerprint
FROM apply_repack_plan(%(restaurant_id)s, %(plan)s::jsonb,
                       COALESCE(%(expires_at)s::timestamptz, now() + %(ttl)s::interval), %(assigned_by)s) AS r;
