-- The server self-test for the GiST rescan bug (docs/allocator.md §7), and the workaround's switch.
-- The probe runs in one transaction that tablemend always rolls back: temporary objects only, no extension needed
-- (a range-only exclusion constraint), no pageinspect (a sequential count is compared with a bitmap count).
-- On an affected server a plain GiST index scan that stops early (LIMIT) and is rescanned in the same statement
-- (the inner side of a nested loop) applies the killed-item offsets remembered from its first pass to another page:
-- a live row's entry is marked dead and every index search (the exclusion check too) misses that row.

-- name: probe_table
CREATE TEMPORARY TABLE tm_gist_probe (
    w    int4range NOT NULL,
    note text,
    CONSTRAINT tm_gist_probe_excl EXCLUDE USING gist (w WITH &&)
) ON COMMIT DROP;

-- name: probe_dead_row
-- runs in a savepoint that is rolled back: its entry is the first on the root page, its heap row dead to everyone
INSERT INTO tm_gist_probe (w) VALUES ('[0,10)');

-- name: probe_live_row
INSERT INTO tm_gist_probe (w) VALUES ('[20,30)');

-- name: probe_fill_function
-- called between the two passes of the scan: enough rows to split the (single-page) root
CREATE FUNCTION pg_temp.tm_gist_probe_fill(n integer) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO tm_gist_probe (w) SELECT int4range(g, g + 1) FROM generate_series(1000, 999 + n) AS g;
    RETURN n;
END
$$;

-- name: probe_plain_index_scans
-- this transaction only: the rescanned scan must be a plain index scan (whatever the role or database says)
SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
       set_config('enable_indexscan', 'on', true);

-- name: probe_rescan
-- pass 1 (i = 1) returns the dead entry, then the live one, and LIMIT stops: the dead entry's offset stays pending.
-- Pass 2 (i = 2) first splits the root (fill), then walks leaves finding nothing (note is NULL everywhere); leaving
-- its first leaf an affected server applies the stale offset there.
SELECT o.i, x.w
FROM (SELECT i, CASE WHEN i = 2 THEN pg_temp.tm_gist_probe_fill(2000) END AS filled
      FROM generate_series(1, 2) AS i OFFSET 0) AS o
CROSS JOIN LATERAL (
    SELECT p.w FROM tm_gist_probe p
    WHERE p.w && CASE o.i WHEN 1 THEN int4range(0, 100) ELSE int4range(1500, 5000) END
      AND (o.i = 1 OR p.note = 'none')
    LIMIT 1) AS x;

-- name: probe_rescan_plan
EXPLAIN (FORMAT JSON, COSTS OFF)
SELECT o.i, x.w
FROM (SELECT i, CASE WHEN i = 2 THEN pg_temp.tm_gist_probe_fill(2000) END AS filled
      FROM generate_series(1, 2) AS i OFFSET 0) AS o
CROSS JOIN LATERAL (
    SELECT p.w FROM tm_gist_probe p
    WHERE p.w && CASE o.i WHEN 1 THEN int4range(0, 100) ELSE int4range(1500, 5000) END
      AND (o.i = 1 OR p.note = 'none')
    LIMIT 1) AS x;

-- name: heap_only
SELECT set_config('enable_seqscan', 'on', true), set_config('enable_indexscan', 'off', true),
       set_config('enable_bitmapscan', 'off', true), set_config('enable_indexonlyscan', 'off', true);

-- name: bitmap_only
-- a bitmap scan reads every entry the index still calls live, and never marks an entry dead itself
SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true),
       set_config('enable_bitmapscan', 'on', true), set_config('enable_indexonlyscan', 'off', true);

-- name: probe_count
SELECT count(*)::integer AS n FROM tm_gist_probe p WHERE p.w && int4range(NULL, NULL);

-- name: probe_count_plan
EXPLAIN (FORMAT JSON, COSTS OFF) SELECT count(*)::integer AS n FROM tm_gist_probe p WHERE p.w && int4range(NULL, NULL);

-- name: server_version
SELECT version() AS version, current_setting('server_version') AS server_version,
       current_setting('transaction_read_only') = 'on' AS read_only;

-- name: cache_present
SELECT to_regclass('tablemend.server_checks') IS NOT NULL AS present;

-- name: cache_get
SELECT verdict, heap_rows, index_rows, checked_at FROM tablemend.server_checks
WHERE server_version = %(version)s AND probe = %(probe)s;

-- name: cache_put
INSERT INTO tablemend.server_checks (server_version, probe, verdict, heap_rows, index_rows)
VALUES (%(version)s, %(probe)s, %(verdict)s, %(heap_rows)s, %(index_rows)s)
ON CONFLICT (server_version, probe) DO UPDATE
    SET verdict = EXCLUDED.verdict, heap_rows = EXCLUDED.heap_rows, index_rows = EXCLUDED.index_rows,
        checked_at = now();

-- name: workaround_state
-- The public allocator functions and whether each carries SET enable_indexscan = off.
SELECT p.proname::text AS name,
       COALESCE('enable_indexscan=off' = ANY (p.proconfig), false) AS indexscan_off
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
  AND p.proname = ANY (ARRAY['assign_tables_atomic_v2', 'unassign_tables_atomic', 'create_table_hold',
                             'extend_table_hold', 'release_table_hold', 'confirm_hold_assignment',
                             'set_booking_status', 'move_booking', 'restaurant_assign_tables',
                             'restaurant_unassign_tables', 'restaurant_extend_table_hold',
                             'restaurant_release_table_hold', 'restaurant_confirm_hold_assignment',
                             'restaurant_set_booking_status', 'restaurant_move_booking'])
ORDER BY p.proname;

-- name: workaround_on
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
               AND p.proname = ANY (ARRAY['assign_tables_atomic_v2', 'unassign_tables_atomic', 'create_table_hold',
                                          'extend_table_hold', 'release_table_hold', 'confirm_hold_assignment',
                                          'set_booking_status', 'move_booking', 'restaurant_assign_tables',
                                          'restaurant_unassign_tables', 'restaurant_extend_table_hold',
                                          'restaurant_release_table_hold', 'restaurant_confirm_hold_assignment',
                                          'restaurant_set_booking_status', 'restaurant_move_booking'])
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET enable_indexscan = off', f);
    END LOOP;
END
$$;

-- name: workaround_off
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace
               AND p.proname = ANY (ARRAY['assign_tables_atomic_v2', 'unassign_tables_atomic', 'create_table_hold',
                                          'extend_table_hold', 'release_table_hold', 'confirm_hold_assignment',
                                          'set_booking_status', 'move_booking', 'restaurant_assign_tables',
                                          'restaurant_unassign_tables', 'restaurant_extend_table_hold',
                                          'restaurant_release_table_hold', 'restaurant_confirm_hold_assignment',
                                          'restaurant_set_booking_status', 'restaurant_move_booking'])
    LOOP
        EXECUTE format('ALTER FUNCTION %s RESET enable_indexscan', f);
    END LOOP;
END
$$;

-- name: workaround_lock
SELECT pg_advisory_xact_lock(7261533004);

-- name: planner_get
SELECT current_setting('enable_seqscan') AS enable_seqscan, current_setting('enable_indexscan') AS enable_indexscan,
       current_setting('enable_bitmapscan') AS enable_bitmapscan,
       current_setting('enable_indexonlyscan') AS enable_indexonlyscan;

-- name: planner_restore
SELECT set_config('enable_seqscan', %(enable_seqscan)s, true),
       set_config('enable_indexscan', %(enable_indexscan)s, true),
       set_config('enable_bitmapscan', %(enable_bitmapscan)s, true),
       set_config('enable_indexonlyscan', %(enable_indexonlyscan)s, true);
