-- The partial unique index of the consolidated baseline (L:2647), dropped by M/20251028064000. A database where that
-- migration never ran still has it: the second table of a multi-table call with a key collides with the first on
-- (booking, key), and the handler turns it into "assignment duplicate" (state D3).
CREATE UNIQUE INDEX booking_table_assignments_booking_id_idempotency_key_key
    ON public.booking_table_assignments (booking_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
