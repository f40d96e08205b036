-- What booking P's call meets on its tables, in the origin's schema (explain orders its blockers by it).

-- name: call_facts
-- Every row on P's tables: whose, at which slot, with a window or not, overlapping P's window, and whether its
-- booking has a real allocation on that table overlapping P's window (then step 14a fails before the row is reached).
SELECT bta.booking_id, bta.table_id, bta.slot_id,
       (bta.start_at IS NOT NULL AND bta.end_at IS NOT NULL
        AND tstzrange(bta.start_at, bta.end_at, '[)')
            && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')) AS overlaps,
       EXISTS (SELECT 1 FROM public.allocations a
                WHERE a.booking_id = bta.booking_id AND a.resource_type = 'table' AND a.resource_id = bta.table_id
                  AND NOT a.shadow
                  AND a."window" && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')) AS allocated
FROM public.booking_table_assignments bta
WHERE bta.table_id = ANY (%(table_ids)s::uuid[]);

-- name: requested_zone
-- The zone P's call locks to: its first table's (in id order), as the origin's step 5 takes it.
SELECT t.zone_id FROM public.table_inventory t WHERE t.id = ANY (%(table_ids)s::uuid[]) ORDER BY t.id LIMIT 1;
