-- Named queries of tablemend.demo.

-- name: table_numbers
SELECT id, table_number FROM public.table_inventory WHERE id = ANY (%(table_ids)s::uuid[]) ORDER BY table_number
