-- Named queries of bench/allocator.py.

-- name: create_baseline
-- The baseline's plain table: the same columns an assignment row carries, a primary key, nothing else.
CREATE TABLE IF NOT EXISTS bench_baseline (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id uuid NOT NULL,
    table_id   uuid NOT NULL,
    start_at   timestamptz NOT NULL,
    end_at     timestamptz NOT NULL
);

-- name: baseline_insert
-- One operation of the baseline: as many rows as the assign writes, one statement, one transaction.
INSERT INTO bench_baseline (booking_id, table_id, start_at, end_at)
SELECT %(booking_id)s, x, %(start_at)s, %(end_at)s FROM unnest(%(table_ids)s::uuid[]) AS x;

-- name: insert_booking
INSERT INTO bookings (restaurant_id, id, start_at, end_at, party_size, status)
VALUES (%(restaurant_id)s, %(id)s, %(start_at)s, %(end_at)s, %(party_size)s, 'confirmed');

-- name: groups
-- Connected runs of movable tables inside one zone, in table-number order (the sample's adjacency is a row per zone).
SELECT t.restaurant_id, t.zone_id, t.id, t.capacity, t.mobility::text AS mobility,
       (regexp_replace(t.table_number, '\D', '', 'g'))::int AS n
FROM table_inventory t
WHERE t.restaurant_id = ANY (%(ids)s::uuid[]) AND t.active
ORDER BY t.restaurant_id, t.zone_id, n;

-- name: deadlocks
SELECT deadlocks::bigint AS n FROM pg_stat_database WHERE datname = current_database();

-- name: server_version
SELECT current_setting('server_version') AS v;

-- name: reset_contended
SELECT count(*) AS n FROM bookings b, LATERAL unassign_tables_atomic(b.id) WHERE b.restaurant_id = %(id)s;
