-- The origin's tenant row-level security (its migration M/20251107094000; docs/origin-system.md §1 lists the tables):
-- every tenant table is scoped to the restaurant named by the GUC app.restaurant_id, through
-- require_restaurant_context(). Tables without restaurant_id are scoped through their booking, hold or table.
-- The table owner is not subject to these policies (no FORCE), as on Supabase; SECURITY DEFINER functions owned by
-- it (the allocator) bypass them.

CREATE FUNCTION public.require_restaurant_context() RETURNS uuid
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT nullif(current_setting('app.restaurant_id', true), '')::uuid
$$;

ALTER TABLE public.restaurants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_restaurants ON public.restaurants USING (id = public.require_restaurant_context());

ALTER TABLE public.zones ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_zones ON public.zones USING (restaurant_id = public.require_restaurant_context());

ALTER TABLE public.table_inventory ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_table_inventory ON public.table_inventory
    USING (restaurant_id = public.require_restaurant_context());

ALTER TABLE public.bookings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_bookings ON public.bookings USING (restaurant_id = public.require_restaurant_context());

ALTER TABLE public.booking_slots ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_booking_slots ON public.booking_slots
    USING (restaurant_id = public.require_restaurant_context());

ALTER TABLE public.allocations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_allocations ON public.allocations USING (restaurant_id = public.require_restaurant_context());

ALTER TABLE public.table_holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_table_holds ON public.table_holds USING (restaurant_id = public.require_restaurant_context());

ALTER TABLE public.table_hold_windows ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_table_hold_windows ON public.table_hold_windows
    USING (restaurant_id = public.require_restaurant_context());

ALTER TABLE public.booking_table_assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_booking_table_assignments ON public.booking_table_assignments
    USING (EXISTS (SELECT 1 FROM public.bookings b WHERE b.id = booking_id));

ALTER TABLE public.booking_assignment_idempotency ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_booking_assignment_idempotency ON public.booking_assignment_idempotency
    USING (EXISTS (SELECT 1 FROM public.bookings b WHERE b.id = booking_id));

ALTER TABLE public.booking_confirmation_results ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_booking_confirmation_results ON public.booking_confirmation_results
    USING (EXISTS (SELECT 1 FROM public.bookings b WHERE b.id = booking_id));

ALTER TABLE public.table_hold_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_table_hold_members ON public.table_hold_members
    USING (EXISTS (SELECT 1 FROM public.table_holds h WHERE h.id = hold_id));

ALTER TABLE public.observability_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_observability_events ON public.observability_events
    USING (restaurant_id = public.require_restaurant_context());
