-- Named queries of tablemend.allocator (the Python API): thin calls to the allocator's SQL functions in
-- migrations/0002_allocator.sql. Each is one statement, so on an autocommit connection it is one transaction
-- (deferred constraint triggers fire at its end).

-- name: assign
SELECT r.table_id, r.start_at, r.end_at, r.merge_group_id
FROM assign_tables_atomic_v2(%(booking_id)s, %(table_ids)s::uuid[], %(key)s, %(adjacency)s, %(assigned_by)s,
                             %(start_at)s, %(end_at)s) AS r
ORDER BY r.table_id;

-- name: unassign
SELECT r.table_id FROM unassign_tables_atomic(%(booking_id)s, %(table_ids)s::uuid[]) AS r ORDER BY r.table_id;

-- name: create_hold
-- now() is fixed for the transaction, so the expiry returned is the one stored
SELECT create_table_hold(%(restaurant_id)s, %(table_ids)s::uuid[], %(start_at)s, %(end_at)s,
                         COALESCE(%(expires_at)s::timestamptz, now() + %(ttl)s::interval), %(booking_id)s,
                         %(created_by)s, %(metadata)s::jsonb) AS hold_id,
       COALESCE(%(expires_at)s::timestamptz, now() + %(ttl)s::interval) AS expires_at;

-- name: extend_hold
SELECT extend_table_hold(%(hold_id)s, COALESCE(%(expires_at)s::timestamptz, now() + %(ttl)s::interval))
       AS expires_at;

-- name: release_hold
SELECT release_table_hold(%(hold_id)s) AS released;

-- name: confirm_hold
SELECT r.table_id, r.start_at, r.end_at, r.merge_group_id
FROM confirm_hold_assignment(%(hold_id)s, %(booking_id)s, %(key)s, %(adjacency)s, %(assigned_by)s) AS r
ORDER BY r.table_id;

-- name: set_booking_status
SELECT set_booking_status(%(booking_id)s, %(status)s::booking_status)::text AS previous;

-- name: move_booking
-- The function takes the allocator's lock order (booking, then its tables by id); the bookings trigger moves the
-- booking's assignments to the new window (or refuses with TAC01 naming the blocker) and releases its holds.
SELECT r.booking_id, r.restaurant_id, r.start_at, r.end_at, r.status::text AS status
FROM move_booking(%(booking_id)s, %(start_at)s, %(end_at)s) AS r;

-- name: booking
SELECT b.id AS booking_id, b.restaurant_id, b.start_at, b.end_at, b.party_size, b.status::text AS status,
       b.assigned_zone_id,
       COALESCE(ARRAY(SELECT a.table_id FROM booking_table_assignments a
                      WHERE a.restaurant_id = b.restaurant_id AND a.booking_id = b.id ORDER BY a.table_id),
                '{}') AS table_ids
FROM bookings b
WHERE b.id = %(booking_id)s;

-- name: record_conflict
-- The origin's conflict telemetry row (source capacity.rpc, type capacity.rpc.conflict), written after the refused
-- call rolled back; the restaurant comes from the request, the booking or the hold (it is a tenant table).
INSERT INTO observability_events (restaurant_id, source, event_type, severity, context, booking_id)
SELECT r.restaurant_id, 'capacity.rpc', 'capacity.rpc.conflict', 'warning', %(context)s::jsonb, %(booking_id)s
FROM (SELECT COALESCE(%(restaurant_id)s::uuid,
                      (SELECT b.restaurant_id FROM bookings b WHERE b.id = %(booking_id)s LIMIT 1),
                      (SELECT h.restaurant_id FROM table_holds h WHERE h.id = %(hold_id)s LIMIT 1)) AS restaurant_id) r
WHERE r.restaurant_id IS NOT NULL;

-- name: set_scope
-- The tenant scope of this transaction (row-level security and the definer functions key on it); is_local = true,
-- so it ends with the transaction and nothing leaks to the next user of a pooled connection.
SELECT set_config('tablemend.restaurant_id', %(restaurant_id)s::text, true) AS scope;

-- name: role_usable
-- A role the current user may SET ROLE to (it exists and the user is a member of it).
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
               WHERE r.rolname = %(role)s AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')) AS usable;
