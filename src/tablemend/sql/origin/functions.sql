-- The origin's functions, written from the contract in docs/origin-system.md §2. They reproduce the origin's own
-- behaviour on purpose, including its error codes (P0001 for several different failures), its messages and its gaps
-- (no bta overlap pre-check, an unhandled ledger hash collision, a capacity check that also locks the restaurant row).
-- Run after schema.sql.

-- refresh_table_status: derive table_inventory.status from the allocations covering "now".
CREATE FUNCTION public.refresh_table_status(p_table_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_status public.table_status;
BEGIN
    IF p_table_id IS NULL THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM public.allocations a
               WHERE a.resource_type = 'table' AND a.resource_id = p_table_id AND a.is_maintenance
                 AND a."window" @> now()) THEN
        v_status := 'out_of_service';
    ELSIF EXISTS (SELECT 1 FROM public.allocations a JOIN public.bookings b ON b.id = a.booking_id
                  WHERE a.resource_type = 'table' AND a.resource_id = p_table_id AND b.status = 'checked_in'
                    AND a."window" @> now()) THEN
        v_status := 'occupied';
    ELSIF EXISTS (SELECT 1 FROM public.allocations a
                  WHERE a.resource_type = 'table' AND a.resource_id = p_table_id AND NOT a.shadow
                    AND a."window" @> now()) THEN
        v_status := 'reserved';
    ELSE
        v_status := 'available';
    END IF;
    UPDATE public.table_inventory t SET status = v_status WHERE t.id = p_table_id AND t.status IS DISTINCT FROM v_status;
END
$$;

-- get_or_create_booking_slot: the slot row for (restaurant, date, time), created on first use.
CREATE FUNCTION public.get_or_create_booking_slot(
    p_restaurant_id uuid, p_slot_date date, p_slot_time time, p_default_capacity integer DEFAULT 999
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_slot uuid;
    v_period uuid;
    v_capacity integer;
BEGIN
    SELECT s.id INTO v_slot FROM public.booking_slots s
    WHERE s.restaurant_id = p_restaurant_id AND s.slot_date = p_slot_date AND s.slot_time = p_slot_time;
    IF FOUND THEN
        RETURN v_slot;
    END IF;

    SELECT sp.id INTO v_period FROM public.restaurant_service_periods sp
    WHERE sp.restaurant_id = p_restaurant_id
      AND (sp.day_of_week IS NULL OR sp.day_of_week = extract(dow FROM p_slot_date)::smallint)
      AND p_slot_time >= sp.start_time AND p_slot_time < sp.end_time
    ORDER BY sp.day_of_week DESC NULLS LAST, sp.start_time
    LIMIT 1;

    SELECT COALESCE(cr.max_covers, p_default_capacity) INTO v_capacity FROM public.restaurant_capacity_rules cr
    WHERE cr.restaurant_id = p_restaurant_id
      AND (cr.service_period_id IS NULL OR cr.service_period_id = v_period)
      AND (cr.day_of_week IS NULL OR cr.day_of_week = extract(dow FROM p_slot_date)::smallint)
      AND (cr.effective_date IS NULL OR cr.effective_date <= p_slot_date)
    ORDER BY cr.effective_date DESC NULLS LAST, cr.day_of_week DESC NULLS LAST, cr.service_period_id DESC NULLS LAST
    LIMIT 1;

    INSERT INTO public.booking_slots (restaurant_id, slot_date, slot_time, service_period_id, available_capacity,
                                      reserved_count)
    VALUES (p_restaurant_id, p_slot_date, p_slot_time, v_period, COALESCE(v_capacity, p_default_capacity), 0)
    ON CONFLICT ON CONSTRAINT booking_slots_restaurant_slot_key DO UPDATE
        SET service_period_id = EXCLUDED.service_period_id,
            available_capacity = greatest(public.booking_slots.available_capacity, EXCLUDED.available_capacity)
    RETURNING id INTO v_slot;
    RETURN v_slot;
END
$$;

-- validate_booking_capacity_after_assignment: covers/parties of the booking's service period against its rule.
-- Faithful to the origin: the first query's FOR UPDATE has no OF clause, so it also locks the restaurant row; two
-- concurrent assignments in one restaurant, which already hold KEY SHARE on it through their FK inserts, deadlock.
CREATE FUNCTION public.validate_booking_capacity_after_assignment(p_booking_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_booking record;
    v_period record;
    v_rule record;
    v_allow_after_hours boolean := false;
    v_covers integer;
    v_parties integer;
    v_max_covers integer := 999999;
    v_max_parties integer := 999999;
BEGIN
    SELECT b.*, r.timezone AS restaurant_timezone INTO v_booking
    FROM public.bookings b JOIN public.restaurants r ON r.id = b.restaurant_id
    WHERE b.id = p_booking_id
    FOR UPDATE;
    IF NOT FOUND OR v_booking.start_at IS NULL OR v_booking.end_at IS NULL THEN
        RETURN;
    END IF;

    SELECT sp.allow_after_hours INTO v_allow_after_hours FROM public.service_policy sp
    ORDER BY sp.created_at DESC LIMIT 1;

    SELECT sp.* INTO v_period FROM public.restaurant_service_periods sp
    WHERE sp.restaurant_id = v_booking.restaurant_id
      AND (sp.day_of_week IS NULL OR sp.day_of_week = extract(dow FROM v_booking.booking_date)::smallint)
      AND v_booking.start_time >= sp.start_time AND v_booking.start_time < sp.end_time
    ORDER BY sp.day_of_week DESC NULLS LAST, sp.start_time
    LIMIT 1;

    SELECT COALESCE(cr.max_covers, v_max_covers) AS max_covers, COALESCE(cr.max_parties, v_max_parties) AS max_parties
    INTO v_rule
    FROM public.restaurant_capacity_rules cr
    WHERE cr.restaurant_id = v_booking.restaurant_id
      AND (cr.service_period_id IS NULL OR cr.service_period_id = v_period.id)
      AND (cr.day_of_week IS NULL OR cr.day_of_week = extract(dow FROM v_booking.booking_date)::smallint)
      AND (cr.effective_date IS NULL OR cr.effective_date <= v_booking.booking_date)
    ORDER BY cr.effective_date DESC NULLS LAST, cr.day_of_week DESC NULLS LAST, cr.service_period_id DESC NULLS LAST
    LIMIT 1
    FOR UPDATE;
    v_max_covers := COALESCE(v_rule.max_covers, v_max_covers);
    v_max_parties := COALESCE(v_rule.max_parties, v_max_parties);

    SELECT COALESCE(sum(b.party_size), 0), count(*) INTO v_covers, v_parties
    FROM public.bookings b
    WHERE b.restaurant_id = v_booking.restaurant_id
      AND b.booking_date = v_booking.booking_date
      AND b.status IN ('confirmed', 'pending', 'checked_in')
      AND (v_period.id IS NULL OR (b.start_time >= v_period.start_time AND b.start_time < v_period.end_time));

    IF v_covers > v_max_covers OR v_parties > v_max_parties THEN
        RAISE EXCEPTION 'capacity_exceeded_post_assignment'
            USING ERRCODE = 'P0001',
                  DETAIL = format('Capacity exceeded after assignment: covers %s/%s, parties %s/%s',
                                  v_covers, v_max_covers, v_parties, v_max_parties),
                  HINT = 'Release tables or adjust capacity overrides before retrying.';
    END IF;
END
$$;

-- assign_tables_atomic_v2: §2 steps 1-16, in order.
CREATE FUNCTION public.assign_tables_atomic_v2(
    p_booking_id uuid,
    p_table_ids uuid[],
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL,
    p_start_at timestamptz DEFAULT NULL,
    p_end_at timestamptz DEFAULT NULL
) RETURNS TABLE (table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    -- timestamp (no zone) stored into timestamptz: right only when the session TimeZone is UTC, as in the origin.
    v_now timestamptz := timezone('utc', now());
    v_ids uuid[];
    v_count integer;
    v_hash text;
    v_booking record;
    v_restaurant uuid;
    v_tz text;
    v_merge_supported boolean;
    v_start timestamptz;
    v_end timestamptz;
    v_window tstzrange;
    v_table record;
    v_loaded integer := 0;
    v_zone uuid;
    v_existing_zones uuid[];
    v_edges integer;
    v_ledger record;
    v_hold uuid;
    v_slot uuid;
    v_merge uuid;
    v_table_id uuid;
    v_allocation uuid;
BEGIN
    -- 1. input (an empty array passes the first test: array_length of '{}' is NULL)
    IF p_table_ids IS NULL OR array_length(p_table_ids, 1) = 0 THEN
        RAISE EXCEPTION 'assign_tables_atomic_v2 requires at least one table id' USING ERRCODE = '23514';
    END IF;
    SELECT array_agg(DISTINCT u.id ORDER BY u.id) INTO v_ids FROM unnest(p_table_ids) AS u(id);
    IF v_ids IS NULL OR array_length(v_ids, 1) = 0 THEN
        RAISE EXCEPTION 'assign_tables_atomic_v2 requires at least one valid table id' USING ERRCODE = '23514';
    END IF;
    v_count := array_length(v_ids, 1);
    v_hash := md5(array_to_string(v_ids, ','));

    -- 2. booking row lock
    SELECT b.*, r.timezone AS restaurant_timezone INTO v_booking
    FROM public.bookings b LEFT JOIN public.restaurants r ON r.id = b.restaurant_id
    WHERE b.id = p_booking_id
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Booking % not found', p_booking_id USING ERRCODE = 'P0002';
    END IF;
    v_restaurant := v_booking.restaurant_id;
    v_tz := COALESCE(NULLIF(v_booking.restaurant_timezone, ''), 'UTC');

    -- 3. schema probe
    SELECT EXISTS (SELECT 1 FROM information_schema.columns c
                   WHERE c.table_schema = 'public' AND c.table_name = 'booking_table_assignments'
                     AND c.column_name = 'merge_group_id')
    INTO v_merge_supported;

    -- 4. window
    IF (p_start_at IS NULL) <> (p_end_at IS NULL) THEN
        RAISE EXCEPTION 'assign_tables_atomic_v2 requires both start and end when providing custom window'
            USING ERRCODE = '22023';
    END IF;
    IF p_start_at IS NOT NULL THEN
        v_start := p_start_at;
        v_end := p_end_at;
    ELSIF v_booking.start_at IS NOT NULL AND v_booking.end_at IS NOT NULL THEN
        v_start := v_booking.start_at;
        v_end := v_booking.end_at;
    ELSIF v_booking.booking_date IS NOT NULL AND v_booking.start_time IS NOT NULL AND v_booking.end_time IS NOT NULL THEN
        v_start := (v_booking.booking_date + v_booking.start_time) AT TIME ZONE v_tz;
        v_end := (v_booking.booking_date + v_booking.end_time) AT TIME ZONE v_tz;
    ELSE
        RAISE EXCEPTION 'Booking % missing start/end window', p_booking_id USING ERRCODE = '22000';
    END IF;
    IF v_start >= v_end THEN
        RAISE EXCEPTION 'Booking % has invalid time window', p_booking_id USING ERRCODE = '22000';
    END IF;
    v_window := tstzrange(v_start, v_end, '[)');

    -- 5. table row locks, in id order
    FOR v_table IN
        SELECT t.id, t.restaurant_id, t.zone_id, t.active, t.status, t.mobility
        FROM public.table_inventory t WHERE t.id = ANY (v_ids) ORDER BY t.id FOR UPDATE
    LOOP
        IF v_table.restaurant_id <> v_restaurant THEN
            RAISE EXCEPTION 'Table % belongs to a different restaurant', v_table.id USING ERRCODE = '23503';
        END IF;
        IF v_table.zone_id IS NULL THEN
            RAISE EXCEPTION 'Table % is not assigned to a zone', v_table.id USING ERRCODE = '23514';
        END IF;
        IF v_table.active IS NOT TRUE THEN
            RAISE EXCEPTION 'Table % is inactive', v_table.id USING ERRCODE = '23514';
        END IF;
        IF v_zone IS NULL THEN
            v_zone := v_table.zone_id;
        ELSIF v_zone <> v_table.zone_id THEN
            RAISE EXCEPTION 'All tables must belong to the same zone (found %, expected %)', v_table.zone_id, v_zone
                USING ERRCODE = '23514';
        END IF;
        IF v_count > 1 AND v_table.mobility <> 'movable' THEN
            RAISE EXCEPTION 'Merged assignments require movable tables (% is %)', v_table.id, v_table.mobility
                USING ERRCODE = '23514';
        END IF;
        v_loaded := v_loaded + 1;
    END LOOP;
    IF v_loaded <> v_count THEN
        RAISE EXCEPTION 'Unable to load all requested tables for booking %', p_booking_id USING ERRCODE = 'P0002';
    END IF;

    -- 6. the booking's existing rows must be in the same zone
    SELECT array_agg(DISTINCT t.zone_id) INTO v_existing_zones
    FROM public.booking_table_assignments bta JOIN public.table_inventory t ON t.id = bta.table_id
    WHERE bta.booking_id = p_booking_id;
    IF COALESCE(array_length(v_existing_zones, 1), 0) > 0
       AND EXISTS (SELECT 1 FROM unnest(v_existing_zones) AS z(id) WHERE z.id IS DISTINCT FROM v_zone) THEN
        RAISE EXCEPTION 'Booking % already has assignments in a different zone', p_booking_id USING ERRCODE = '23514';
    END IF;

    -- 7. zone lock on the booking
    IF v_booking.assigned_zone_id IS NULL THEN
        UPDATE public.bookings b SET assigned_zone_id = v_zone, updated_at = v_now WHERE b.id = p_booking_id;
    ELSIF v_booking.assigned_zone_id IS DISTINCT FROM v_zone THEN
        RAISE EXCEPTION 'Booking % locked to zone %, cannot assign zone %', p_booking_id, v_booking.assigned_zone_id,
            v_zone USING ERRCODE = '23514';
    END IF;

    -- 8. adjacency: every table touches another one of the set (not a connectivity check)
    IF p_require_adjacency AND v_count > 1 THEN
        FOREACH v_table_id IN ARRAY v_ids LOOP
            SELECT count(*) INTO v_edges FROM public.table_adjacencies a
            WHERE (a.table_a = v_table_id AND a.table_b = ANY (v_ids) AND a.table_b <> v_table_id)
               OR (a.table_b = v_table_id AND a.table_a = ANY (v_ids) AND a.table_a <> v_table_id);
            IF COALESCE(v_edges, 0) = 0 THEN
                RAISE EXCEPTION 'Table % is not adjacent to the selected set', v_table_id USING ERRCODE = '23514';
            END IF;
        END LOOP;
    END IF;

    -- 9. zone x start-hour advisory lock (the hour truncation follows the session TimeZone)
    PERFORM pg_advisory_xact_lock(
        hashtext(COALESCE(v_zone::text, '')),
        COALESCE((extract(epoch FROM date_trunc('hour', v_start))::bigint / 60)::int, 0));

    -- 10. ledger replay: returns the rows that exist now, re-validating nothing
    IF p_idempotency_key IS NOT NULL THEN
        SELECT * INTO v_ledger FROM public.booking_assignment_idempotency l
        WHERE l.booking_id = p_booking_id AND l.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            IF v_ledger.table_set_hash IS DISTINCT FROM v_hash THEN
                RAISE EXCEPTION 'assign_tables_atomic_v2 idempotency mismatch for booking %', p_booking_id
                    USING ERRCODE = 'P0003', DETAIL = 'Idempotency key reuse detected with a different table set';
            END IF;
            RETURN QUERY
                SELECT bta.table_id,
                       COALESCE(bta.start_at, lower(v_ledger.assignment_window)),
                       COALESCE(bta.end_at, upper(v_ledger.assignment_window)),
                       v_ledger.merge_group_allocation_id
                FROM public.booking_table_assignments bta
                WHERE bta.booking_id = p_booking_id AND bta.idempotency_key = p_idempotency_key
                  AND bta.table_id = ANY (v_ids)
                ORDER BY bta.table_id;
            RETURN;
        END IF;
    END IF;

    -- 11. holds of other bookings (or unowned) that are still live and overlap
    SELECT h.id INTO v_hold
    FROM public.table_hold_windows w JOIN public.table_holds h ON h.id = w.hold_id
    WHERE w.table_id = ANY (v_ids) AND w.expires_at > v_now
      AND (h.booking_id IS NULL OR h.booking_id <> p_booking_id)
      AND w.hold_window && v_window
    LIMIT 1;
    IF FOUND THEN
        -- As in the real body: format() rejects "% o" as a type specifier, so evaluating this RAISE fails first with
        -- 22023 unrecognized format() type specifier " " -- the documented P0001 never reaches the caller (§2 step 11).
        RAISE EXCEPTION 'Hold conflict prevents assignment for booking %', p_booking_id
            USING ERRCODE = 'P0001', DETAIL = format('Hold % overlaps requested window', v_hold),
                  HINT = 'Retry after hold expiration or confirm existing hold.';
    END IF;

    -- 12. slot: always from the booking's date and start time, even with a custom window
    IF v_booking.booking_date IS NOT NULL AND v_booking.start_time IS NOT NULL THEN
        SELECT s.id INTO v_slot FROM public.booking_slots s
        WHERE s.restaurant_id = v_restaurant AND s.slot_date = v_booking.booking_date
          AND s.slot_time = v_booking.start_time
        LIMIT 1;
        IF v_slot IS NULL THEN
            v_slot := public.get_or_create_booking_slot(v_restaurant, v_booking.booking_date, v_booking.start_time, 999);
        END IF;
    END IF;

    -- 13. a new merge group per multi-table call (earlier ones are never removed)
    IF v_merge_supported AND v_count > 1 THEN
        v_merge := gen_random_uuid();
        BEGIN
            INSERT INTO public.allocations (id, booking_id, restaurant_id, resource_type, resource_id, "window",
                                            created_by, shadow, created_at, updated_at)
            VALUES (v_merge, p_booking_id, v_restaurant, 'merge_group', v_merge, v_window, p_assigned_by, false,
                    v_now, v_now)
            ON CONFLICT ON CONSTRAINT allocations_booking_resource_key DO UPDATE
                SET "window" = EXCLUDED."window",
                    created_by = COALESCE(EXCLUDED.created_by, public.allocations.created_by),
                    updated_at = v_now;
        EXCEPTION WHEN unique_violation OR exclusion_violation THEN
            RAISE EXCEPTION 'allocations_no_overlap'
                USING ERRCODE = 'P0001',
                      DETAIL = format('Merge group overlaps requested window for booking %s', p_booking_id);
        END;
    END IF;

    -- 14. per table, in id order
    FOREACH v_table_id IN ARRAY v_ids LOOP
        -- 14a. the table allocation (turns this booking's own shadow row into a real one)
        BEGIN
            INSERT INTO public.allocations (booking_id, restaurant_id, resource_type, resource_id, "window",
                                            created_by, shadow, created_at, updated_at)
            VALUES (p_booking_id, v_restaurant, 'table', v_table_id, v_window, p_assigned_by, false, v_now, v_now)
            ON CONFLICT ON CONSTRAINT allocations_booking_resource_key DO UPDATE
                SET "window" = EXCLUDED."window",
                    created_by = COALESCE(EXCLUDED.created_by, public.allocations.created_by),
                    shadow = false,
                    updated_at = v_now
            RETURNING id INTO v_allocation;
        EXCEPTION WHEN unique_violation OR exclusion_violation THEN
            RAISE EXCEPTION 'allocations_no_overlap'
                USING ERRCODE = 'P0001',
                      DETAIL = format('Resource %s overlaps requested window for booking %s', v_table_id, p_booking_id);
        END;

        -- 14b/c. the assignment row; only unique_violation is handled, exclusion_violation escapes raw
        BEGIN
            INSERT INTO public.booking_table_assignments (booking_id, table_id, slot_id, assigned_by, idempotency_key,
                                                          merge_group_id, start_at, end_at, allocation_id)
            VALUES (p_booking_id, v_table_id, v_slot, p_assigned_by, p_idempotency_key, v_merge, v_start, v_end,
                    v_allocation)
            ON CONFLICT ON CONSTRAINT booking_table_assignments_booking_table_key DO UPDATE
                SET assigned_at = v_now,
                    assigned_by = COALESCE(EXCLUDED.assigned_by, public.booking_table_assignments.assigned_by),
                    idempotency_key = COALESCE(EXCLUDED.idempotency_key, public.booking_table_assignments.idempotency_key),
                    merge_group_id = COALESCE(EXCLUDED.merge_group_id, public.booking_table_assignments.merge_group_id),
                    slot_id = COALESCE(EXCLUDED.slot_id, public.booking_table_assignments.slot_id),
                    start_at = EXCLUDED.start_at,
                    end_at = EXCLUDED.end_at,
                    allocation_id = EXCLUDED.allocation_id,
                    updated_at = v_now;
        EXCEPTION WHEN unique_violation THEN
            -- The arbiter row (P, table) cannot exist here, so this UPDATE finds nothing: another booking's row
            -- holds (table, slot) -- or the same change violates the key again and escapes as raw 23505.
            UPDATE public.booking_table_assignments bta
            SET assigned_at = v_now,
                assigned_by = COALESCE(p_assigned_by, bta.assigned_by),
                idempotency_key = COALESCE(p_idempotency_key, bta.idempotency_key),
                merge_group_id = COALESCE(v_merge, bta.merge_group_id),
                slot_id = COALESCE(v_slot, bta.slot_id),
                start_at = v_start,
                end_at = v_end,
                allocation_id = COALESCE(v_allocation, bta.allocation_id),
                updated_at = v_now
            WHERE bta.booking_id = p_booking_id AND bta.table_id = v_table_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'assign_tables_atomic_v2 assignment duplicate for table %', v_table_id
                    USING ERRCODE = 'P0001';
            END IF;
        END;

        -- 14d.
        PERFORM public.refresh_table_status(v_table_id);
        table_id := v_table_id;
        start_at := v_start;
        end_at := v_end;
        merge_group_id := CASE WHEN v_merge_supported THEN v_merge END;
        RETURN NEXT;
    END LOOP;

    -- 15. ledger write; a collision on (booking, table_set_hash) is not handled
    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO public.booking_assignment_idempotency (booking_id, idempotency_key, table_ids, assignment_window,
                                                           merge_group_allocation_id, table_set_hash, created_at)
        VALUES (p_booking_id, p_idempotency_key, v_ids, v_window, v_merge, v_hash, v_now)
        ON CONFLICT (booking_id, idempotency_key) DO UPDATE
            SET table_ids = EXCLUDED.table_ids,
                assignment_window = EXCLUDED.assignment_window,
                merge_group_allocation_id = EXCLUDED.merge_group_allocation_id,
                table_set_hash = EXCLUDED.table_set_hash;
    END IF;

    -- 16. capacity check, unless switched off
    IF COALESCE(current_setting('app.capacity.post_assignment.enabled', true), '') <> 'off' THEN
        PERFORM public.validate_booking_capacity_after_assignment(p_booking_id);
    END IF;
END
$$;

-- unassign_tables_atomic: deletes bta rows and their table allocations; touches nothing else (§2).
CREATE FUNCTION public.unassign_tables_atomic(p_booking_id uuid, p_table_ids uuid[] DEFAULT NULL)
RETURNS TABLE (table_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_removed uuid;
BEGIN
    FOR v_removed IN
        DELETE FROM public.booking_table_assignments bta
        WHERE bta.booking_id = p_booking_id AND (p_table_ids IS NULL OR bta.table_id = ANY (p_table_ids))
        RETURNING bta.table_id
    LOOP
        DELETE FROM public.allocations a
        WHERE a.booking_id = p_booking_id AND a.resource_type = 'table' AND a.resource_id = v_removed;
        IF NOT EXISTS (SELECT 1 FROM public.booking_table_assignments bta WHERE bta.table_id = v_removed) THEN
            UPDATE public.table_inventory t SET status = 'available' WHERE t.id = v_removed;
        END IF;
        table_id := v_removed;
        RETURN NEXT;
    END LOOP;
END
$$;

-- sync_confirmed_assignment_windows: moves a booking's assignment and allocation windows. It never touches slot_id,
-- which is how a moved booking keeps a stale (table, slot) row (state D1b).
CREATE FUNCTION public.sync_confirmed_assignment_windows(
    p_booking_id uuid, p_table_ids uuid[], p_window_start timestamptz, p_window_end timestamptz,
    p_assigned_by uuid DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_updated integer;
BEGIN
    UPDATE public.booking_table_assignments bta
    SET start_at = p_window_start, end_at = p_window_end,
        assigned_by = COALESCE(p_assigned_by, bta.assigned_by), updated_at = now()
    WHERE bta.booking_id = p_booking_id AND (p_table_ids IS NULL OR bta.table_id = ANY (p_table_ids));
    GET DIAGNOSTICS v_updated = ROW_COUNT;
    UPDATE public.allocations a
    SET "window" = tstzrange(p_window_start, p_window_end, '[)'), updated_at = now()
    WHERE a.booking_id = p_booking_id
      AND (a.resource_type = 'merge_group'
           OR (a.resource_type = 'table' AND (p_table_ids IS NULL OR a.resource_id = ANY (p_table_ids))));
    RETURN v_updated;
END
$$;

-- prune_allocations_history: allocations whose window has ended move to the archive; bta rows stay, allocation_id NULL.
CREATE FUNCTION public.prune_allocations_history(p_before timestamptz DEFAULT now(), p_limit integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_moved integer;
BEGIN
    WITH doomed AS (
        SELECT a.id FROM public.allocations a
        WHERE upper(a."window") <= p_before
        ORDER BY upper(a."window")
        LIMIT p_limit
    ), moved AS (
        DELETE FROM public.allocations a USING doomed d WHERE a.id = d.id
        RETURNING a.*
    )
    INSERT INTO public.allocations_archive (id, booking_id, restaurant_id, resource_type, resource_id, "window",
                                           created_by, shadow, is_maintenance, created_at, updated_at)
    SELECT m.id, m.booking_id, m.restaurant_id, m.resource_type, m.resource_id, m."window", m.created_by, m.shadow,
           m.is_maintenance, m.created_at, m.updated_at
    FROM moved m;
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    RETURN v_moved;
END
$$;

-- confirm_hold_assignment_tx (simplified, §2): checks the hold, calls v2 positionally with all 7 arguments,
-- records the confirmation and removes the hold. Policy / adjacency-hash drift checks are reduced to the adjacency
-- hash; the history columns are not modelled.
CREATE FUNCTION public.confirm_hold_assignment_tx(
    p_hold_id uuid,
    p_booking_id uuid,
    p_idempotency_key text,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL,
    p_window_start timestamptz DEFAULT NULL,
    p_window_end timestamptz DEFAULT NULL,
    p_expected_policy_version text DEFAULT NULL,
    p_expected_adjacency_hash text DEFAULT NULL,
    p_target_status public.booking_status DEFAULT NULL
) RETURNS TABLE (table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_now timestamptz := timezone('utc', now());
    v_hold public.table_holds%ROWTYPE;
    v_tables uuid[];
    v_start timestamptz;
    v_end timestamptz;
    v_rows jsonb := '[]'::jsonb;
    v_row record;
    v_count integer := 0;
BEGIN
    SELECT * INTO v_hold FROM public.table_holds h WHERE h.id = p_hold_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Hold % not found', p_hold_id USING ERRCODE = 'P0002';
    END IF;
    IF v_hold.booking_id IS NOT NULL AND v_hold.booking_id <> p_booking_id THEN
        RAISE EXCEPTION 'Hold % belongs to booking %', p_hold_id, v_hold.booking_id USING ERRCODE = 'P0001';
    END IF;
    IF v_hold.expires_at <= v_now THEN
        RAISE EXCEPTION 'Hold % has expired', p_hold_id USING ERRCODE = 'P0001';
    END IF;
    SELECT array_agg(m.table_id ORDER BY m.table_id) INTO v_tables FROM public.table_hold_members m
    WHERE m.hold_id = p_hold_id;
    IF v_tables IS NULL THEN
        RAISE EXCEPTION 'Hold % has no tables', p_hold_id USING ERRCODE = 'P0002';
    END IF;
    IF p_expected_adjacency_hash IS NOT NULL
       AND p_expected_adjacency_hash IS DISTINCT FROM v_hold.metadata ->> 'adjacencyHash' THEN
        RAISE EXCEPTION 'POLICY_DRIFT' USING ERRCODE = 'P0003', DETAIL = 'adjacency hash changed since the hold';
    END IF;
    IF (p_window_start IS NULL) <> (p_window_end IS NULL) THEN
        RAISE EXCEPTION 'confirm_hold_assignment_tx requires both window bounds' USING ERRCODE = '22023';
    END IF;
    v_start := COALESCE(p_window_start, v_hold.start_at);
    v_end := COALESCE(p_window_end, v_hold.end_at);
    IF v_start >= v_end THEN
        RAISE EXCEPTION 'confirm_hold_assignment_tx invalid window' USING ERRCODE = '22000';
    END IF;

    -- The hold is the caller's own: the v2 hold check ignores it, and its shadow allocations become real.
    UPDATE public.table_holds h SET booking_id = p_booking_id WHERE h.id = p_hold_id AND h.booking_id IS NULL;

    FOR v_row IN
        SELECT * FROM public.assign_tables_atomic_v2(p_booking_id, v_tables, p_idempotency_key, p_require_adjacency,
                                                     p_assigned_by, v_start, v_end)
    LOOP
        v_count := v_count + 1;
        v_rows := v_rows || jsonb_build_object('table_id', v_row.table_id, 'start_at', v_row.start_at,
                                               'end_at', v_row.end_at, 'merge_group_id', v_row.merge_group_id);
        table_id := v_row.table_id;
        start_at := v_row.start_at;
        end_at := v_row.end_at;
        merge_group_id := v_row.merge_group_id;
        RETURN NEXT;
    END LOOP;
    IF v_count = 0 THEN
        RAISE EXCEPTION 'assign_tables_atomic_v2 returned no assignments for booking %', p_booking_id
            USING ERRCODE = 'P0003';
    END IF;

    IF p_target_status IS NOT NULL THEN
        UPDATE public.bookings b SET status = p_target_status WHERE b.id = p_booking_id;
    END IF;
    UPDATE public.booking_assignment_idempotency l SET payload_checksum = md5(v_rows::text)
    WHERE l.booking_id = p_booking_id AND l.idempotency_key = p_idempotency_key;
    INSERT INTO public.capacity_outbox (event_type, dedupe_key, restaurant_id, booking_id, idempotency_key, payload)
    VALUES ('capacity.hold.confirmed', 'hold.confirmed:' || p_hold_id::text || ':' || COALESCE(p_idempotency_key, ''),
            v_hold.restaurant_id, p_booking_id, p_idempotency_key,
            jsonb_build_object('holdId', p_hold_id, 'tableIds', to_jsonb(v_tables)))
    ON CONFLICT (dedupe_key) DO NOTHING;
    INSERT INTO public.booking_confirmation_results (booking_id, idempotency_key, hold_id, table_ids, assignments,
                                                     start_at, end_at)
    VALUES (p_booking_id, COALESCE(p_idempotency_key, p_hold_id::text), p_hold_id, v_tables, v_rows, v_start, v_end)
    ON CONFLICT (booking_id, idempotency_key) DO UPDATE
        SET hold_id = EXCLUDED.hold_id, table_ids = EXCLUDED.table_ids, assignments = EXCLUDED.assignments,
            start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at;
    DELETE FROM public.table_holds h WHERE h.id = p_hold_id;
END
$$;
