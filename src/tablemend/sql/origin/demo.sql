-- Named queries of tablemend.demo.

-- name: duplicate_blockers
-- For booking P and the tables it asks for: other bookings' rows on (table, P's slot), with their booking's status
-- and whether they still hold an allocation on the table. P's slot comes from its date and start time (spec item 2).
WITH p AS (
    SELECT b.id, s.id AS slot_id, s.slot_date, s.slot_time
    FROM public.bookings b
    JOIN public.booking_slots s
      ON s.restaurant_id = b.restaurant_id AND s.slot_date = b.booking_date AND s.slot_time = b.start_time
    WHERE b.id = %(booking_id)s
)
SELECT t.table_number,
       bta.table_id,
       p.slot_date,
       p.slot_time,
       bta.booking_id AS blocking_booking_id,
       bk.status::text AS blocking_status,
       bk.customer_name AS blocking_customer,
       bta.start_at AS row_start,
       bta.end_at AS row_end,
       (SELECT count(*) FROM public.allocations a
        WHERE a.booking_id = bta.booking_id AND a.resource_type = 'table' AND a.resource_id = bta.table_id
          AND NOT a.shadow) AS blocking_allocations
FROM p
JOIN public.booking_table_assignments bta
  ON bta.slot_id = p.slot_id AND bta.table_id = ANY (%(table_ids)s::uuid[]) AND bta.booking_id <> p.id
JOIN public.bookings bk ON bk.id = bta.booking_id
JOIN public.table_inventory t ON t.id = bta.table_id
ORDER BY t.table_number

-- name: unassign
SELECT table_id FROM public.unassign_tables_atomic(%(booking_id)s::uuid, %(table_ids)s::uuid[])

-- name: table_numbers
SELECT id, table_number FROM public.table_inventory WHERE id = ANY (%(table_ids)s::uuid[]) ORDER BY table_number
