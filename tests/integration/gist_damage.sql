-- The reproduction's pattern (spec/gist-rescan-kill.sql) on tablemend's own booking_table_assignments, and a
-- server-independent way to leave an index without live entries. Rows are written with session_replication_role =
-- replica (no foreign keys, no triggers): only the index and the table matter here, and the exclusion constraint
-- still applies (it is not a trigger).

-- name: replica
SELECT set_config('session_replication_role', 'replica', true);

-- name: assignment
INSERT INTO booking_table_assignments (restaurant_id, booking_id, table_id, zone_id, start_at, end_at)
VALUES (%(restaurant)s, gen_random_uuid(), %(table)s, gen_random_uuid(), %(start_at)s, %(end_at)s)
RETURNING id;

-- name: fill_function
-- enough rows of another restaurant, on day 2, to split the index's single-page root mid-statement; table ids in
-- insertion order (random ones would make the page split, and so what the stale offset hits, vary between runs)
CREATE FUNCTION tm_test_fill(p_restaurant uuid, n integer) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    INSERT INTO booking_table_assignments (restaurant_id, booking_id, table_id, zone_id, start_at, end_at)
    SELECT p_restaurant, gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid,
           gen_random_uuid(),
           timestamptz '2030-06-02 00:00+00' + g * interval '1 minute',
           timestamptz '2030-06-02 01:00+00' + g * interval '1 minute'
    FROM generate_series(1, n) AS g;
    RETURN n;
END
$$;

-- name: plain_index_scans
SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
       set_config('enable_indexscan', 'on', true);

-- name: rescan
-- pass 1: day 1 holds the dead row then the live one, LIMIT stops; pass 2 fills day 2 (root split) and walks its
-- leaves finding nothing (notes is NULL everywhere)
SELECT o.i, x.id
FROM (SELECT i, CASE WHEN i = 2 THEN tm_test_fill(%(other)s, 2000) END AS filled
      FROM generate_series(1, 2) AS i OFFSET 0) AS o
CROSS JOIN LATERAL (
    SELECT a.id FROM booking_table_assignments a
    WHERE a.assignment_window && CASE o.i WHEN 1 THEN tstzrange('2030-06-01 00:00+00', '2030-06-01 23:00+00')
                                          ELSE tstzrange('2030-06-02 08:00+00', '2030-06-03 12:00+00') END
      AND (o.i = 1 OR a.notes = 'none')
    LIMIT 1) AS x;

-- name: rescan_plan
EXPLAIN (COSTS OFF)
SELECT o.i, x.id
FROM (SELECT i, CASE WHEN i = 2 THEN tm_test_fill(%(other)s, 2000) END AS filled
      FROM generate_series(1, 2) AS i OFFSET 0) AS o
CROSS JOIN LATERAL (
    SELECT a.id FROM booking_table_assignments a
    WHERE a.assignment_window && CASE o.i WHEN 1 THEN tstzrange('2030-06-01 00:00+00', '2030-06-01 23:00+00')
                                          ELSE tstzrange('2030-06-02 08:00+00', '2030-06-03 12:00+00') END
      AND (o.i = 1 OR a.notes = 'none')
    LIMIT 1) AS x;

-- name: copy_row
-- a second booking of the same table over the same window: the double booking the exclusion constraint must refuse
INSERT INTO booking_table_assignments (restaurant_id, booking_id, table_id, zone_id, start_at, end_at)
SELECT a.restaurant_id, gen_random_uuid(), a.table_id, a.zone_id, a.start_at, a.end_at
FROM booking_table_assignments a WHERE a.id = %(id)s
RETURNING id;

-- name: index_not_ready
-- the index stops receiving new entries (as if their entries had been lost): a catalog edit, tests only
UPDATE pg_index SET indisready = %(ready)s WHERE indexrelid = to_regclass(%(index)s);
