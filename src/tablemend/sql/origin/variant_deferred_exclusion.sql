-- Variant "deferred-exclusion": a database from before M/20251113203000. The allocation exclusion was
-- allocations_resource_window_excl (live dump L:7394): no restaurant or shadow filter, DEFERRABLE INITIALLY DEFERRED,
-- so the function's handler never sees an overlap; it surfaces at COMMIT as raw 23P01.
ALTER TABLE public.allocations DROP CONSTRAINT allocations_no_overlap;
ALTER TABLE public.allocations
    ADD CONSTRAINT allocations_resource_window_excl EXCLUDE USING gist (
        resource_type WITH =, resource_id WITH =, "window" WITH &&
    ) DEFERRABLE INITIALLY DEFERRED;
