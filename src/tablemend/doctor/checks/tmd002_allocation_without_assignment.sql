-- name: detect
-- A real (non-shadow) 'table' allocation of booking B on X with no booking_table_assignments row (B, X). For one
-- booking P: such allocations of others on P's tables that overlap P's window.
SELECT a.booking_id, a.resource_id AS table_id, a.restaurant_id,
       format('allocation %%s of booking %%s (%%s) on table %%s, window %%s, has no assignment row',
              a.id, a.booking_id, b.status, a.resource_id, a."window") AS detail,
       -- a live, future booking that still holds other tables may be half-way through a move: its call (confirm);
       -- one that holds no table at all and has no hold on X is seated nowhere: the allocation only blocks others
       CASE WHEN b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
                 AND upper(a."window") > now()
                 AND (EXISTS (SELECT 1 FROM public.booking_table_assignments o WHERE o.booking_id = a.booking_id)
                      OR EXISTS (SELECT 1 FROM public.table_holds h
                                 JOIN public.table_hold_members m ON m.hold_id = h.id
                                 WHERE h.booking_id = a.booking_id AND m.table_id = a.resource_id
                                   AND h.status = 'active' AND h.expires_at > now()))
            THEN 'confirm' END AS safety,
       jsonb_build_object('allocation_id', a.id, 'booking_id', a.booking_id, 'table_id', a.resource_id) AS key,
       jsonb_build_object('window', a."window", 'status', b.status,
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.allocations a
JOIN public.bookings b ON b.id = a.booking_id
WHERE a.resource_type = 'table' AND NOT a.shadow AND NOT a.is_maintenance
  AND (%(restaurant_id)s::uuid IS NULL OR a.restaurant_id = %(restaurant_id)s::uuid)
  -- (a released booking's allocation next to its row is TMD001's: it clears both)
  AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments bta
                   WHERE bta.booking_id = a.booking_id AND bta.table_id = a.resource_id)
  AND (%(booking_id)s::uuid IS NULL
       OR (a.booking_id <> %(booking_id)s::uuid AND a.resource_id = ANY (%(table_ids)s::uuid[])
           AND a."window" && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')))
ORDER BY a.booking_id, a.resource_id;

-- name: repair
DELETE FROM public.allocations WHERE id = %(allocation_id)s::uuid;

-- name: bulk_repair
DELETE FROM public.allocations a USING jsonb_to_recordset(%(keys)s::jsonb) AS k(allocation_id uuid) WHERE a.id = k.allocation_id;

-- name: detect__no_hold_status
-- Before table_holds.status (M/20251117190000) a hold is in force until it expires: the same check on expiry alone.
-- A real (non-shadow) 'table' allocation of booking B on X with no booking_table_assignments row (B, X). For one
-- booking P: such allocations of others on P's tables that overlap P's window.
SELECT a.booking_id, a.resource_id AS table_id, a.restaurant_id,
       format('allocation %%s of booking %%s (%%s) on table %%s, window %%s, has no assignment row',
              a.id, a.booking_id, b.status, a.resource_id, a."window") AS detail,
       -- a live, future booking that still holds other tables may be half-way through a move: its call (confirm);
       -- one that holds no table at all and has no hold on X is seated nowhere: the allocation only blocks others
       CASE WHEN b.status NOT IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST') AND b.end_at > now()
                 AND upper(a."window") > now()
                 AND (EXISTS (SELECT 1 FROM public.booking_table_assignments o WHERE o.booking_id = a.booking_id)
                      OR EXISTS (SELECT 1 FROM public.table_holds h
                                 JOIN public.table_hold_members m ON m.hold_id = h.id
                                 WHERE h.booking_id = a.booking_id AND m.table_id = a.resource_id
                                   AND h.expires_at > now()))
            THEN 'confirm' END AS safety,
       jsonb_build_object('allocation_id', a.id, 'booking_id', a.booking_id, 'table_id', a.resource_id) AS key,
       jsonb_build_object('window', a."window", 'status', b.status,
                          'blocks_booking_id', %(booking_id)s::uuid) AS metadata
FROM public.allocations a
JOIN public.bookings b ON b.id = a.booking_id
WHERE a.resource_type = 'table' AND NOT a.shadow AND NOT a.is_maintenance
  AND (%(restaurant_id)s::uuid IS NULL OR a.restaurant_id = %(restaurant_id)s::uuid)
  -- (a released booking's allocation next to its row is TMD001's: it clears both)
  AND NOT EXISTS (SELECT 1 FROM public.booking_table_assignments bta
                   WHERE bta.booking_id = a.booking_id AND bta.table_id = a.resource_id)
  AND (%(booking_id)s::uuid IS NULL
       OR (a.booking_id <> %(booking_id)s::uuid AND a.resource_id = ANY (%(table_ids)s::uuid[])
           AND a."window" && tstzrange(%(start_at)s::timestamptz, %(end_at)s::timestamptz, '[)')))
ORDER BY a.booking_id, a.resource_id;
