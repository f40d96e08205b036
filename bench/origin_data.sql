-- Deterministic origin-schema data for the doctor's scan benchmark: set-based INSERT … SELECT over generate_series.
-- Booking i lives in restaurant i % R on table t, seating s (17:00 / 19:00 / 21:00, two hours each) of day d, so
-- healthy bookings never overlap. Ids are md5-derived uuids, so the same n gives byte-identical data. A small,
-- exactly known share of bookings carries drift (column "kind"); bench/origin_data.py states the findings it expects.
-- Run with session_replication_role = replica (no triggers, no FK checks): the rows are written consistent.

-- name: plan
CREATE TEMP TABLE bench_plan AS
SELECT i, r, t, s, d, kind,
       CASE WHEN kind IN ('terminal_blocker', 'stale_cache') THEN 'cancelled'
            WHEN kind <> 'healthy' THEN 'confirmed'
            WHEN h < 88 THEN 'confirmed' WHEN h < 92 THEN 'pending' WHEN h < 97 THEN 'cancelled'
            ELSE 'no_show' END::public.booking_status AS status,
       (date '2029-01-01' + d + time '17:00' + s * interval '2 hours') AT TIME ZONE 'UTC' AS start_at,
       (date '2029-01-01' + d + time '19:00' + s * interval '2 hours') AT TIME ZONE 'UTC' AS end_at,
       md5('b' || i)::uuid AS booking_id,
       md5('r' || r)::uuid AS restaurant_id,
       md5('t' || r || '-' || t)::uuid AS table_id,
       md5('z' || r || '-' || (t %% 2))::uuid AS zone_id,
       md5('z' || r || '-' || ((t + 1) %% 2))::uuid AS other_zone_id,
       md5('s' || r || '-' || d || '-' || s)::uuid AS slot_id,
       md5('s' || r || '-' || d || '-' || (s + 3))::uuid AS stale_slot_id
FROM (
    SELECT i, i %% %(restaurants)s AS r, (i / %(restaurants)s) %% 20 AS t, (i / %(restaurants)s / 20) %% 3 AS s,
           i / %(restaurants)s / 60 AS d, (i * 37) %% 100 AS h,
           CASE WHEN i %% 100 = 1 THEN 'terminal_blocker'
                WHEN i %% 500 = 2 THEN 'null_window'
                WHEN i %% 500 = 3 THEN 'stale_slot'
                WHEN i %% 1000 = 4 THEN 'orphan_allocation'
                WHEN i %% 1000 = 5 THEN 'orphan_ledger'
                WHEN i %% 1000 = 6 THEN 'expired_hold'
                WHEN i %% 1000 = 7 THEN 'orphan_merge'
                WHEN i %% 1000 = 8 THEN 'stale_cache'
                WHEN i %% 1000 = 9 THEN 'zone_drift'
                WHEN i %% 1000 = 10 THEN 'no_allocation'
                ELSE 'healthy' END AS kind
    FROM generate_series(0, %(n)s - 1) AS i
) x;

-- name: restaurants
INSERT INTO public.restaurants (id, name, slug, timezone)
SELECT md5('r' || r)::uuid, 'Bench ' || r, 'bench-' || r, 'UTC' FROM generate_series(0, %(restaurants)s - 1) r;

-- name: zones
INSERT INTO public.zones (id, restaurant_id, name, sort_order)
SELECT md5('z' || r || '-' || z)::uuid, md5('r' || r)::uuid, 'Zone ' || z, z
FROM generate_series(0, %(restaurants)s - 1) r, generate_series(0, 1) z;

-- name: capacities
INSERT INTO public.allowed_capacities (restaurant_id, capacity)
SELECT md5('r' || r)::uuid, 4 FROM generate_series(0, %(restaurants)s - 1) r;

-- name: tables
INSERT INTO public.table_inventory (id, restaurant_id, table_number, capacity, zone_id)
SELECT md5('t' || r || '-' || t)::uuid, md5('r' || r)::uuid, 'T' || t, 4, md5('z' || r || '-' || (t %% 2))::uuid
FROM generate_series(0, %(restaurants)s - 1) r, generate_series(0, 19) t;

-- name: slots
-- seatings 0-2 at 17:00 / 19:00 / 21:00, and 3-5 at 16:00 / 16:15 / 16:30: the slots stale rows point at
INSERT INTO public.booking_slots (id, restaurant_id, slot_date, slot_time, available_capacity)
SELECT md5('s' || r || '-' || d || '-' || s)::uuid, md5('r' || r)::uuid, date '2029-01-01' + d,
       CASE WHEN s < 3 THEN time '17:00' + s * interval '2 hours' ELSE time '16:00' + (s - 3) * interval '15 minutes' END,
       100
FROM generate_series(0, %(restaurants)s - 1) r, generate_series(0, (SELECT max(d) FROM bench_plan)) d,
     generate_series(0, 5) s;

-- name: bookings
INSERT INTO public.bookings (id, restaurant_id, booking_date, start_time, end_time, start_at, end_at, party_size,
                             status, assigned_zone_id, reference)
SELECT booking_id, restaurant_id, start_at::date, start_at::time, end_at::time, start_at, end_at, 2 + i %% 3, status,
       CASE WHEN kind = 'zone_drift' THEN other_zone_id
            WHEN kind IN ('orphan_allocation', 'orphan_ledger', 'stale_cache') THEN NULL
            WHEN kind = 'healthy' AND status IN ('cancelled', 'no_show') THEN NULL
            ELSE zone_id END,
       'BK' || i
FROM bench_plan;

-- name: allocations
-- a booking's real 'table' allocation (live bookings, the terminal blockers, the orphans), then stray merge groups
INSERT INTO public.allocations (id, booking_id, restaurant_id, resource_type, resource_id, "window", shadow)
SELECT md5('al' || i)::uuid, booking_id, restaurant_id, 'table', table_id, tstzrange(start_at, end_at, '[)'), false
FROM bench_plan
WHERE kind NOT IN ('orphan_ledger', 'stale_cache', 'no_allocation')
  AND NOT (kind = 'healthy' AND status IN ('cancelled', 'no_show'))
UNION ALL
SELECT md5('mg' || i)::uuid, booking_id, restaurant_id, 'merge_group', md5('mg' || i)::uuid,
       tstzrange(start_at, end_at, '[)'), false
FROM bench_plan WHERE kind = 'orphan_merge';

-- name: assignments
INSERT INTO public.booking_table_assignments (id, booking_id, table_id, slot_id, start_at, end_at, idempotency_key,
                                              allocation_id)
SELECT md5('a' || i)::uuid, booking_id, table_id,
       CASE WHEN kind = 'stale_slot' THEN stale_slot_id ELSE slot_id END,
       CASE WHEN kind = 'null_window' THEN NULL ELSE start_at END,
       CASE WHEN kind = 'null_window' THEN NULL ELSE end_at END,
       'k' || i, CASE WHEN kind = 'no_allocation' THEN NULL ELSE md5('al' || i)::uuid END
FROM bench_plan
WHERE kind NOT IN ('orphan_allocation', 'orphan_ledger', 'stale_cache')
  AND NOT (kind = 'healthy' AND status IN ('cancelled', 'no_show'));

-- name: ledger
INSERT INTO public.booking_assignment_idempotency (booking_id, idempotency_key, table_ids, assignment_window,
                                                   table_set_hash)
SELECT booking_id, 'k' || i, ARRAY[table_id], tstzrange(start_at, end_at, '[)'), md5(table_id::text)
FROM bench_plan
WHERE kind NOT IN ('orphan_allocation', 'stale_cache')
  AND NOT (kind = 'healthy' AND status IN ('cancelled', 'no_show'));

-- name: holds
-- unowned holds that expired long ago, still 'active' with a member, a hold window and a shadow allocation
INSERT INTO public.table_holds (id, restaurant_id, booking_id, zone_id, start_at, end_at, expires_at, status)
SELECT md5('h' || i)::uuid, restaurant_id, NULL, zone_id, start_at - interval '9 years', end_at - interval '9 years',
       end_at - interval '9 years', 'active'
FROM bench_plan WHERE kind = 'expired_hold';

-- name: hold_members
INSERT INTO public.table_hold_members (id, hold_id, table_id)
SELECT md5('m' || i)::uuid, md5('h' || i)::uuid, table_id FROM bench_plan WHERE kind = 'expired_hold';

-- name: hold_windows
INSERT INTO public.table_hold_windows (hold_id, table_id, restaurant_id, booking_id, start_at, end_at, expires_at)
SELECT md5('h' || i)::uuid, table_id, restaurant_id, NULL, start_at - interval '9 years', end_at - interval '9 years',
       end_at - interval '9 years'
FROM bench_plan WHERE kind = 'expired_hold';

-- name: shadow_allocations
INSERT INTO public.allocations (id, booking_id, restaurant_id, resource_type, resource_id, "window", shadow)
SELECT md5('sh' || i)::uuid, NULL, restaurant_id, 'table', table_id,
       tstzrange(start_at - interval '9 years', end_at - interval '9 years', '[)'), true
FROM bench_plan WHERE kind = 'expired_hold';

-- name: confirmation_cache
INSERT INTO public.booking_confirmation_results (booking_id, idempotency_key, table_ids, start_at, end_at)
SELECT booking_id, 'k' || i, ARRAY[table_id], start_at, end_at FROM bench_plan WHERE kind = 'stale_cache';

-- name: drop_plan
DROP TABLE bench_plan;

-- name: seq_read
-- One sequential read of every table the checks read: each row's every column (the whole-row datum's size).
SELECT (SELECT sum(pg_column_size(x.*)) FROM public.bookings x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.booking_table_assignments x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.allocations x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.booking_assignment_idempotency x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.booking_slots x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.restaurants x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.table_inventory x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.table_holds x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.table_hold_members x)
     + (SELECT sum(pg_column_size(x.*)) FROM public.table_hold_windows x)
     + (SELECT coalesce(sum(pg_column_size(x.*)), 0) FROM public.booking_confirmation_results x) AS bytes;

-- name: seq_count
-- The cheapest full pass: count(*) with index scans disabled by the caller, so every heap page is read.
SELECT (SELECT count(*) FROM public.bookings) + (SELECT count(*) FROM public.booking_table_assignments)
     + (SELECT count(*) FROM public.allocations) + (SELECT count(*) FROM public.booking_assignment_idempotency)
     + (SELECT count(*) FROM public.booking_slots) + (SELECT count(*) FROM public.restaurants)
     + (SELECT count(*) FROM public.table_inventory) + (SELECT count(*) FROM public.table_holds)
     + (SELECT count(*) FROM public.table_hold_members) + (SELECT count(*) FROM public.table_hold_windows)
     + (SELECT count(*) FROM public.booking_confirmation_results) AS n;

-- name: seq_scans_only
SELECT set_config('enable_indexscan', 'off', false), set_config('enable_indexonlyscan', 'off', false),
       set_config('enable_bitmapscan', 'off', false);

-- name: any_scans
SELECT set_config('enable_indexscan', 'on', false), set_config('enable_indexonlyscan', 'on', false),
       set_config('enable_bitmapscan', 'on', false);

-- name: replica
SET LOCAL session_replication_role = replica;

-- name: vacuum
VACUUM (ANALYZE);

-- name: table_rows
SELECT 'bookings' AS name, count(*) AS rows FROM public.bookings
UNION ALL SELECT 'booking_table_assignments', count(*) FROM public.booking_table_assignments
UNION ALL SELECT 'allocations', count(*) FROM public.allocations
UNION ALL SELECT 'booking_assignment_idempotency', count(*) FROM public.booking_assignment_idempotency
UNION ALL SELECT 'booking_slots', count(*) FROM public.booking_slots
UNION ALL SELECT 'table_inventory', count(*) FROM public.table_inventory
UNION ALL SELECT 'table_holds', count(*) FROM public.table_holds
UNION ALL SELECT 'booking_confirmation_results', count(*) FROM public.booking_confirmation_results;

-- name: server_version
SELECT current_setting('server_version') AS v;
