-- The pre-migration gate: would these constraints be creatable on today's data? Each `detect_*` query returns exactly
-- the rows that make `ALTER TABLE … ADD CONSTRAINT` fail, with the constraint's own semantics: unique keys skip rows
-- with a NULL key column (NULLS DISTINCT); exclusion constraints index only rows that pass their WHERE clause, treat a
-- NULL operand as "no conflict", and an empty range overlaps nothing. Output columns are shared: grp (one duplicate
-- group, overlapping pair or invalid row), row_id, booking_id, table_id, slot_id, status, "window", reason.

-- name: read_everything
-- Every detection query reads whole tables through a cursor: plan for all rows, not the first 10%% (the default
-- cursor_tuple_fraction picks index-order nested loops that are many times slower here), and sort the windows of a
-- million rows in memory rather than in temporary files (this session only, until the snapshot ends).
SELECT set_config('cursor_tuple_fraction', '1', true), set_config('work_mem', '64MB', true);

-- name: relation_columns
SELECT c.relkind::text AS relkind, array_agg(a.attname::text ORDER BY a.attnum) AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relname = %(relname)s
GROUP BY c.relkind;

-- name: constraint_present
SELECT EXISTS (SELECT 1 FROM pg_constraint
               WHERE conrelid = to_regclass(%(relation)s) AND conname = %(name)s) AS present;

-- name: detect_bta_booking_table
WITH dup AS (
    SELECT booking_id, table_id
    FROM public.booking_table_assignments
    WHERE booking_id IS NOT NULL AND table_id IS NOT NULL
    GROUP BY booking_id, table_id
    HAVING count(*) > 1
)
SELECT format('booking %%s, table %%s', d.booking_id, d.table_id) AS grp,
       -- the row's own slot where the schema has one (tablemend's has none): never a NULL that hides it
       bta.id AS row_id, bta.booking_id, bta.table_id, (to_jsonb(bta) ->> 'slot_id')::uuid AS slot_id,
       b.status::text AS status,
       CASE WHEN bta.start_at <= bta.end_at THEN tstzrange(bta.start_at, bta.end_at, '[)')::text END AS "window",
       'duplicate (booking_id, table_id)' AS reason
FROM dup d
JOIN public.booking_table_assignments bta ON bta.booking_id = d.booking_id AND bta.table_id = d.table_id
LEFT JOIN public.bookings b ON b.id = bta.booking_id
ORDER BY d.booking_id, d.table_id, bta.id;

-- name: detect_bta_table_slot
WITH dup AS (
    SELECT table_id, slot_id
    FROM public.booking_table_assignments
    WHERE table_id IS NOT NULL AND slot_id IS NOT NULL
    GROUP BY table_id, slot_id
    HAVING count(*) > 1
)
SELECT format('table %%s, slot %%s', d.table_id, d.slot_id) AS grp,
       bta.id AS row_id, bta.booking_id, bta.table_id, bta.slot_id, b.status::text AS status,
       CASE WHEN bta.start_at <= bta.end_at THEN tstzrange(bta.start_at, bta.end_at, '[)')::text END AS "window",
       'duplicate (table_id, slot_id)' AS reason
FROM dup d
JOIN public.booking_table_assignments bta ON bta.table_id = d.table_id AND bta.slot_id = d.slot_id
LEFT JOIN public.bookings b ON b.id = bta.booking_id
ORDER BY d.table_id, d.slot_id, bta.id;

-- name: detect_bta_no_overlap
-- EXCLUDE USING gist (table_id WITH =, tstzrange(start_at, end_at) WITH &&) WHERE (start_at IS NOT NULL AND
-- end_at IS NOT NULL). Overlapping pairs are found per table in one sorted pass (a row conflicts with an earlier one
-- iff its start is before the latest end so far), then paired exactly with &&; no quadratic self-join.
WITH indexed AS (
    SELECT id, booking_id, table_id, start_at, end_at
    FROM public.booking_table_assignments
    WHERE start_at IS NOT NULL AND end_at IS NOT NULL AND table_id IS NOT NULL
),
valid AS (
    SELECT id, booking_id, table_id, start_at, tstzrange(start_at, end_at) AS r
    FROM indexed WHERE start_at < end_at   -- start = end is an empty range: it overlaps nothing
),
ranked AS (
    SELECT id, table_id, start_at, r,
           max(upper(r)) OVER (PARTITION BY table_id ORDER BY start_at, id
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_end
    FROM valid
),
candidates AS MATERIALIZED (   -- usually none or few: only their tables are joined
    SELECT id, table_id, start_at, r FROM ranked WHERE latest_end > start_at
),
pairs AS (   -- x before y in the same order as the window above, so every pair is found exactly once
    SELECT x.id AS a, y.id AS b
    FROM candidates y
    JOIN valid x ON x.table_id = y.table_id AND x.r && y.r AND (x.start_at, x.id) < (y.start_at, y.id)
    WHERE x.table_id IN (SELECT table_id FROM candidates)
),
bad AS (
    -- tstzrange(start, end) raises 22000 for start > end, so the constraint cannot even be built
    SELECT format('row %%s', id) AS grp, id AS row_id, 'invalid window: start_at > end_at (22000 when indexed)' AS reason,
           1 AS part, id AS sort_key
    FROM indexed WHERE start_at > end_at
    UNION ALL
    SELECT format('%%s / %%s', p.a, p.b), p.a, 'overlaps the other row of the pair on the same table', 1, p.a FROM pairs p
    UNION ALL
    SELECT format('%%s / %%s', p.a, p.b), p.b, 'overlaps the other row of the pair on the same table', 2, p.a FROM pairs p
)
SELECT bad.grp, bta.id AS row_id, bta.booking_id, bta.table_id, (to_jsonb(bta) ->> 'slot_id')::uuid AS slot_id,
       b.status::text AS status,
       CASE WHEN bta.start_at <= bta.end_at THEN tstzrange(bta.start_at, bta.end_at, '[)')::text
            ELSE format('[%%s, %%s) (invalid)', bta.start_at, bta.end_at) END AS "window",
       bad.reason
FROM bad
JOIN public.booking_table_assignments bta ON bta.id = bad.row_id
LEFT JOIN public.bookings b ON b.id = bta.booking_id
ORDER BY bta.table_id, bad.grp, bad.part;

-- name: detect_allocations_no_overlap
-- EXCLUDE USING gist (restaurant_id WITH =, resource_type WITH =, resource_id WITH =, "window" WITH &&)
-- WHERE (NOT shadow). Windows may have any bounds here: an infinite bound counts as ±infinity, and a row whose lower
-- bound equals an earlier row's upper bound is a candidate only when both bounds are inclusive; && decides.
WITH valid AS (
    SELECT id, booking_id, restaurant_id, resource_type, resource_id, "window" AS r,
           CASE WHEN lower_inf("window") THEN '-infinity'::timestamptz ELSE lower("window") END AS lo
    FROM public.allocations
    WHERE (NOT shadow) AND restaurant_id IS NOT NULL AND resource_type IS NOT NULL AND resource_id IS NOT NULL
      AND "window" IS NOT NULL AND NOT isempty("window")
),
ranked AS (
    SELECT id, restaurant_id, resource_type, resource_id, r, lo,
           max(CASE WHEN upper_inf(r) THEN 'infinity'::timestamptz ELSE upper(r) END)
               OVER (PARTITION BY restaurant_id, resource_type, resource_id ORDER BY lo, id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_end,
           max(CASE WHEN upper_inc(r) THEN upper(r) END)
               OVER (PARTITION BY restaurant_id, resource_type, resource_id ORDER BY lo, id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_inclusive_end
    FROM valid
),
candidates AS MATERIALIZED (   -- usually none or few: only their resources are joined
    SELECT id, restaurant_id, resource_type, resource_id, r, lo
    FROM ranked WHERE latest_end > lo OR (lower_inc(r) AND latest_inclusive_end >= lo)
),
pairs AS (   -- x before y in the same order as the window above, so every pair is found exactly once
    SELECT x.id AS a, y.id AS b
    FROM candidates y
    JOIN valid x ON x.restaurant_id = y.restaurant_id AND x.resource_type = y.resource_type
                AND x.resource_id = y.resource_id AND x.r && y.r AND (x.lo, x.id) < (y.lo, y.id)
    WHERE x.resource_id IN (SELECT resource_id FROM candidates)
),
bad AS (
    SELECT format('%%s / %%s', p.a, p.b) AS grp, p.a AS row_id, 1 AS part FROM pairs p
    UNION ALL
    SELECT format('%%s / %%s', p.a, p.b), p.b, 2 FROM pairs p
)
SELECT bad.grp, a.id AS row_id, a.booking_id,
       CASE WHEN a.resource_type = 'table' THEN a.resource_id END AS table_id, NULL::uuid AS slot_id,
       b.status::text AS status, a."window"::text AS "window",
       format('%%s %%s overlaps the other row of the pair', a.resource_type, a.resource_id) AS reason
FROM bad
JOIN public.allocations a ON a.id = bad.row_id
LEFT JOIN public.bookings b ON b.id = a.booking_id
ORDER BY a.resource_id, bad.grp, bad.part;

-- The DDL each verdict predicts the outcome of (tests run it inside a rolled-back transaction to prove the gate).

-- name: ddl_bta_booking_table
ALTER TABLE public.booking_table_assignments
    ADD CONSTRAINT tablemend_gate_probe UNIQUE (booking_id, table_id);

-- name: ddl_bta_table_slot
ALTER TABLE public.booking_table_assignments
    ADD CONSTRAINT tablemend_gate_probe UNIQUE (table_id, slot_id);

-- name: ddl_bta_no_overlap
ALTER TABLE public.booking_table_assignments
    ADD CONSTRAINT tablemend_gate_probe EXCLUDE USING gist (table_id WITH =, tstzrange(start_at, end_at) WITH &&)
    WHERE (start_at IS NOT NULL AND end_at IS NOT NULL);

-- name: ddl_allocations_no_overlap
ALTER TABLE public.allocations
    ADD CONSTRAINT tablemend_gate_probe EXCLUDE USING gist (
        restaurant_id WITH =, resource_type WITH =, resource_id WITH =, "window" WITH &&
    ) WHERE (NOT shadow);
