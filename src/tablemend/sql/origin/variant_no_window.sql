-- Variant "no-window": a database from before M/20251107060000, whose generated column
-- booking_table_assignments.assignment_window (and its gist index) never arrived: that migration cannot be replayed
-- ("ADD CONSTRAINT IF NOT EXISTS"), so many live databases lack it. Occupancy is tstzrange(start_at, end_at) there.
ALTER TABLE public.booking_table_assignments DROP COLUMN assignment_window;
