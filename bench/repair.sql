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
