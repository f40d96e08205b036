-- The historical 5-argument overload (last defined in M/20251027000001, never dropped). Its mere presence makes any
-- call that names 5 or fewer arguments ambiguous (42725). Its older body has no custom window, no ledger hash, no
-- hold check and no fallback UPDATE: any unique violation other than the ON CONFLICT arbiter is "duplicate" (state D4).
CREATE FUNCTION public.assign_tables_atomic_v2(
    p_booking_id uuid,
    p_table_ids uuid[],
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL
) RETURNS TABLE (table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_ids uuid[];
    v_booking public.bookings%ROWTYPE;
    v_table record;
    v_zone uuid;
    v_slot uuid;
    v_table_id uuid;
BEGIN
    IF p_table_ids IS NULL OR array_length(p_table_ids, 1) = 0 THEN
        RAISE EXCEPTION 'assign_tables_atomic_v2 requires at least one table id' USING ERRCODE = '23514';
    END IF;
    SELECT array_agg(DISTINCT u.id ORDER BY u.id) INTO v_ids FROM unnest(p_table_ids) AS u(id);

    SELECT * INTO v_booking FROM public.bookings b WHERE b.id = p_booking_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Booking % not found', p_booking_id USING ERRCODE = 'P0002';
    END IF;

    FOR v_table IN
        SELECT t.id, t.restaurant_id, t.zone_id FROM public.table_inventory t
        WHERE t.id = ANY (v_ids) ORDER BY t.id FOR UPDATE
    LOOP
        IF v_table.restaurant_id <> v_booking.restaurant_id THEN
            RAISE EXCEPTION 'Table % belongs to a different restaurant', v_table.id USING ERRCODE = '23503';
        END IF;
        IF v_zone IS NULL THEN
            v_zone := v_table.zone_id;
        ELSIF v_zone <> v_table.zone_id THEN
            RAISE EXCEPTION 'All tables must belong to the same zone (found %, expected %)', v_table.zone_id, v_zone
                USING ERRCODE = '23514';
        END IF;
    END LOOP;

    PERFORM pg_advisory_xact_lock(hashtext(COALESCE(v_zone::text, '')), (v_booking.booking_date - DATE '2000-01-01'));
    v_slot := public.get_or_create_booking_slot(v_booking.restaurant_id, v_booking.booking_date,
                                                v_booking.start_time, 999);

    FOREACH v_table_id IN ARRAY v_ids LOOP
        BEGIN
            INSERT INTO public.booking_table_assignments (booking_id, table_id, slot_id, assigned_by, idempotency_key,
                                                          start_at, end_at)
            VALUES (p_booking_id, v_table_id, v_slot, p_assigned_by, p_idempotency_key, v_booking.start_at,
                    v_booking.end_at)
            ON CONFLICT ON CONSTRAINT booking_table_assignments_booking_table_key DO UPDATE
                SET assigned_at = now(),
                    assigned_by = COALESCE(EXCLUDED.assigned_by, public.booking_table_assignments.assigned_by),
                    idempotency_key = COALESCE(EXCLUDED.idempotency_key,
                                               public.booking_table_assignments.idempotency_key),
                    slot_id = COALESCE(EXCLUDED.slot_id, public.booking_table_assignments.slot_id),
                    start_at = EXCLUDED.start_at,
                    end_at = EXCLUDED.end_at;
        EXCEPTION WHEN unique_violation THEN
            RAISE EXCEPTION 'assign_tables_atomic_v2 assignment duplicate for table %', v_table_id
                USING ERRCODE = 'P0001';
        END;
        table_id := v_table_id;
        start_at := v_booking.start_at;
        end_at := v_booking.end_at;
        merge_group_id := NULL;
        RETURN NEXT;
    END LOOP;
END
$$;
