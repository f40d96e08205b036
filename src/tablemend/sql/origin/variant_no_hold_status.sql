-- Variant "no-hold-status": a database from before M/20251117190000 (table_holds.status). A hold there is in force
-- until it expires or is deleted; nothing marks it confirmed or cancelled.
ALTER TABLE public.table_holds DROP COLUMN status;
