-- Queries of the repair benchmark (bench/repair.py).

-- name: bookings
SELECT count(*) AS n FROM public.bookings;

-- name: no_timeout
SET LOCAL statement_timeout = 0;

-- name: expired_hold
SELECT m.hold_id FROM public.table_hold_members m JOIN public.table_holds h ON h.id = m.hold_id
WHERE h.status = 'active' AND h.expires_at <= now() ORDER BY m.hold_id LIMIT 1;

-- name: delete_hold_members
DELETE FROM public.table_hold_members WHERE hold_id = %(hold_id)s;

-- name: row_counts
-- the rows of every table a repair changes, and the columns its updates change (hashed): equal after plain and repair
-- (table status is left out: refresh_table_status reads now())
SELECT (SELECT count(*) FROM public.bookings) AS bookings,
       (SELECT count(*) FROM public.bookings WHERE assigned_zone_id IS NULL) AS bookings_unzoned,
       (SELECT count(*) FROM public.booking_table_assignments) AS assignments,
       (SELECT sum(hashtext(slot_id::text)::bigint) FROM public.booking_table_assignments) AS assignment_slots,
       (SELECT count(*) FROM public.allocations) AS allocations,
       (SELECT count(*) FROM public.booking_assignment_idempotency) AS ledger,
       (SELECT count(*) FROM public.table_holds) AS holds,
       (SELECT count(*) FROM public.table_hold_members) AS hold_members,
       (SELECT count(*) FROM public.table_hold_windows) AS hold_windows,
       (SELECT count(*) FROM public.booking_confirmation_results) AS confirmations;

-- name: journalled
SELECT relation, op, pk FROM tablemend_doctor.journal_changes WHERE journal_id = %(id)s ORDER BY seq;
