-- Variant "exclusion-first": a hand-patched database where the (table_id, slot_id) key was re-created after the
-- assignment exclusion constraint (spec §3 "check order"): a row that breaks both now raises raw 23P01 from
-- no_overlapping_table_assignments instead of "assignment duplicate".
ALTER TABLE public.booking_table_assignments DROP CONSTRAINT booking_table_assignments_table_id_slot_id_key;
ALTER TABLE public.booking_table_assignments
    ADD CONSTRAINT booking_table_assignments_table_id_slot_id_key UNIQUE (table_id, slot_id);
