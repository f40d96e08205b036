-- The scan's shared pass over assignments (issue 10): one join of booking_table_assignments with bookings (and the
-- slot, the restaurant's time zone and the booking's table allocation), one flag per check, instead of one join per
-- check. Whole-database / --restaurant scans only; for one booking P every check runs its own indexed query.
-- Each branch below repeats the scan-mode branch of that check's own ``detect`` query (same detail, key, metadata):
-- tests/integration/test_doctor_shared_pass.py proves both give the same findings, so they cannot drift apart.

-- name: assignments
-- Assignment rows full-joined with their booking's real table allocation on the same table (each side unique per
-- booking and table), then with the booking, its restaurant's time zone and the row's slot: one hash-join pipeline.
-- local_start is computed once per row (OFFSET 0 keeps the planner from copying the expression into each flag).
WITH joined AS (
    SELECT bta.id, coalesce(bta.booking_id, a.booking_id) AS booking_id, coalesce(bta.table_id, a.resource_id) AS table_id,
           bta.slot_id, bta.start_at, bta.end_at,
           CASE WHEN bta.id IS NULL THEN a.restaurant_id ELSE b.restaurant_id END AS restaurant_id,
           b.status, b.start_at AS booking_start, b.end_at AS booking_end,
           a.id AS allocation_id, a."window", a.is_maintenance, s.id AS slot_found, s.slot_date, s.slot_time,
           timezone(coalesce(nullif(r.timezone, ''), 'UTC'), bta.start_at) AS local_start
    FROM public.booking_table_assignments bta
    FULL JOIN (SELECT x.id, x.booking_id, x.resource_id, x.restaurant_id, x."window", x.is_maintenance
               FROM public.allocations x WHERE x.resource_type = 'table' AND NOT x.shadow) a
           ON a.booking_id = bta.booking_id AND a.resource_id = bta.table_id
    JOIN public.bookings b ON b.id = coalesce(bta.booking_id, a.booking_id)
    JOIN public.restaurants r ON r.id = b.restaurant_id
    LEFT JOIN public.booking_slots s ON s.id = bta.slot_id
    OFFSET 0
),
facts AS (
    SELECT j.*,
           -- TMD001: a released booking's row (a completed one only when dated ahead: past, it records a seating)
           j.id IS NOT NULL AND (j.status IN ('cancelled', 'no_show', 'PRIORITY_WAITLIST')
                                 OR (j.status = 'completed' AND j.booking_end > now())) AS tmd001,
           -- TMD002: a real table allocation (not maintenance) with no assignment row
           j.id IS NULL AND NOT j.is_maintenance AS tmd002,
           -- TMD003: the slot does not match the row's own (local) start
           j.start_at IS NOT NULL AND j.slot_found IS NOT NULL
             AND (j.slot_date + j.slot_time) IS DISTINCT FROM j.local_start AS tmd003,
           -- TMD005: a live booking's row without a window
           j.id IS NOT NULL AND (j.start_at IS NULL OR j.end_at IS NULL)
             AND j.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND j.booking_end > now()
             AS tmd005,
           -- TMD016: a live, future row with a window and no real allocation of its booking on its table
           j.start_at IS NOT NULL AND j.end_at IS NOT NULL AND j.end_at > now()
             AND j.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND j.allocation_id IS NULL
             AS tmd016
    FROM joined j
    WHERE (%(restaurant_id)s::uuid IS NULL OR j.restaurant_id = %(restaurant_id)s::uuid)
),
hits AS (
    SELECT * FROM facts WHERE tmd001 OR tmd002 OR tmd003 OR tmd005 OR tmd016 OFFSET 0
)
SELECT x.code, h.booking_id, h.table_id, h.restaurant_id, x.detail, x.safety, NULL::text AS level, x.key, x.metadata
FROM hits h
CROSS JOIN LATERAL (
    SELECT 'TMD001' AS code,
           format('booking %%s (%%s%%s) still holds table %%s at slot %%s, window %%s',
                  h.booking_id, h.status, CASE WHEN h.booking_end <= now() THEN ', past' ELSE '' END,
                  h.table_id, coalesce(h.slot_id::text, 'NULL'),
                  coalesce(tstzrange(h.start_at, h.end_at, '[)')::text, 'NULL')) AS detail,
           NULL::text AS safety,
           jsonb_build_object('booking_id', h.booking_id, 'table_id', h.table_id) AS key,
           jsonb_build_object('assignment_id', h.id, 'status', h.status, 'slot_id', h.slot_id,
                              'start_at', h.start_at, 'end_at', h.end_at, 'blocks_booking_id', NULL::uuid) AS metadata
    WHERE h.tmd001
    UNION ALL
    SELECT 'TMD002',
           format('allocation %%s of booking %%s (%%s) on table %%s, window %%s, has no assignment row',
                  h.allocation_id, h.booking_id, h.status, h.table_id, h."window"),
           CASE WHEN h.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST')
                     AND h.booking_end > now() AND upper(h."window") > now()
                     AND (EXISTS (SELECT 1 FROM public.booking_table_assignments o WHERE o.booking_id = h.booking_id)
                          OR EXISTS (SELECT 1 FROM public.table_holds th
                                     JOIN public.table_hold_members m ON m.hold_id = th.id
                                     WHERE th.booking_id = h.booking_id AND m.table_id = h.table_id
                                       AND th.status = 'active' AND th.expires_at > now()))
                THEN 'confirm' END,
           jsonb_build_object('allocation_id', h.allocation_id, 'booking_id', h.booking_id, 'table_id', h.table_id),
           jsonb_build_object('window', h."window", 'status', h.status, 'blocks_booking_id', NULL::uuid)
    WHERE h.tmd002
    UNION ALL
    SELECT 'TMD003',
           format('booking %%s holds table %%s with slot %%s (%%s %%s) but its window starts at %%s', h.booking_id,
                  h.table_id, h.slot_id, h.slot_date, h.slot_time, h.local_start),
           NULL,
           jsonb_build_object('booking_id', h.booking_id, 'table_id', h.table_id, 'stale_slot_id', h.slot_id),
           jsonb_build_object('assignment_id', h.id, 'status', h.status, 'local_start', h.local_start,
                              'blocks_booking_id', NULL::uuid)
    WHERE h.tmd003
    UNION ALL
    SELECT 'TMD005',
           format('booking %%s (%%s) holds table %%s at slot %%s with no window; its booking window is %%s',
                  h.booking_id, h.status, h.table_id, coalesce(h.slot_id::text, 'NULL'),
                  tstzrange(h.booking_start, h.booking_end, '[)')),
           NULL,
           jsonb_build_object('booking_id', h.booking_id, 'table_id', h.table_id),
           jsonb_build_object('assignment_id', h.id, 'status', h.status, 'slot_id', h.slot_id,
                              'booking_start', h.booking_start, 'booking_end', h.booking_end,
                              'other_booking_id', NULL::uuid, 'blocks_booking_id', NULL::uuid)
    WHERE h.tmd005
    UNION ALL
    SELECT 'TMD016',
           format('live booking %%s (%%s) holds table %%s over %%s without an allocation%%s%%s', h.booking_id,
                  h.status, h.table_id, tstzrange(h.start_at, h.end_at, '[)'),
                  CASE WHEN other.n > 0 THEN format('; its allocated tables are %%s', other.list) ELSE '' END,
                  CASE WHEN clash.booking_id IS NOT NULL
                       THEN format('; live booking %%s''s allocation overlaps it', clash.booking_id) ELSE '' END),
           CASE WHEN clash.booking_id IS NOT NULL THEN 'human' END,
           jsonb_build_object('booking_id', h.booking_id, 'table_id', h.table_id),
           jsonb_build_object('assignment_id', h.id, 'status', h.status, 'slot_id', h.slot_id,
                              'allocated_tables', other.list, 'other_booking_id', clash.booking_id)
    FROM (SELECT count(*) AS n, array_agg(a.resource_id ORDER BY a.resource_id) AS list
          FROM public.allocations a
          WHERE a.booking_id = h.booking_id AND a.resource_type = 'table' AND NOT a.shadow) other
    LEFT JOIN LATERAL (SELECT a.booking_id FROM public.allocations a JOIN public.bookings o ON o.id = a.booking_id
                       WHERE a.restaurant_id = h.restaurant_id AND a.resource_type = 'table'
                         AND a.resource_id = h.table_id AND NOT a.shadow AND a.booking_id <> h.booking_id
                         AND a."window" && tstzrange(h.start_at, h.end_at, '[)')
                         AND o.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST')
                         AND o.end_at > now()
                       ORDER BY a.booking_id LIMIT 1) clash ON true
    WHERE h.tmd016
) x
ORDER BY x.code, h.booking_id, h.table_id;
