-- Named queries of tablemend.demo.

-- name: table_numbers
SELECT id, table_number FROM public.table_inventory WHERE id = ANY (%(table_ids)s::uuid[]) ORDER BY table_number

-- name: release_booking
-- The origin's own unassign for P, so that the repair's before-image (B on P's table and slot) fits again.
SELECT count(*) AS released FROM public.unassign_tables_atomic(%(booking_id)s::uuid, NULL)
