-- The origin's tables (docs/origin-system.md §1), written from the spec, in the origin's migration order.
-- Index creation order is deliberate: PostgreSQL checks a new row against a table's indexes in OID (creation) order,
-- so a unique key created before an exclusion constraint fires first (§3 "Check order").
-- Trigger functions live here because CREATE TRIGGER needs them; the callable functions are in functions.sql.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Supabase's auth schema, reduced to what the foreign keys need.
CREATE SCHEMA IF NOT EXISTS auth;
CREATE TABLE IF NOT EXISTS auth.users (
    id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text
);

CREATE TYPE public.booking_status AS ENUM (
    'confirmed', 'pending', 'cancelled', 'completed', 'no_show', 'pending_allocation', 'checked_in',
    'PRIORITY_WAITLIST'
);
CREATE TYPE public.table_status AS ENUM ('available', 'reserved', 'occupied', 'out_of_service');
CREATE TYPE public.table_mobility AS ENUM ('movable', 'fixed');
CREATE TYPE public.table_hold_status AS ENUM ('active', 'expired', 'confirmed', 'cancelled');
CREATE TYPE public.zone_area_type AS ENUM ('indoor', 'outdoor', 'covered');

CREATE FUNCTION public.update_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- restaurants ---------------------------------------------------------------------------------------------------------
CREATE TABLE public.restaurants (
    id                                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                                    text NOT NULL,
    slug                                    text NOT NULL,
    timezone                                text NOT NULL DEFAULT 'Europe/London',
    capacity                                integer CHECK (capacity IS NULL OR capacity > 0),
    contact_email                           text,
    contact_phone                           text,
    address                                 text,
    booking_policy                          text,
    reservation_interval_minutes            integer NOT NULL DEFAULT 15
        CHECK (reservation_interval_minutes BETWEEN 1 AND 180),
    reservation_default_duration_minutes    integer NOT NULL DEFAULT 90
        CHECK (reservation_default_duration_minutes BETWEEN 15 AND 300),
    reservation_last_seating_buffer_minutes integer NOT NULL DEFAULT 120
        CHECK (reservation_last_seating_buffer_minutes BETWEEN 15 AND 300),
    is_active                               boolean NOT NULL DEFAULT true,
    created_at                              timestamptz NOT NULL DEFAULT now(),
    updated_at                              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT restaurants_slug_key UNIQUE (slug),
    CONSTRAINT restaurants_slug_check CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$')
);
CREATE TRIGGER restaurants_updated_at BEFORE UPDATE ON public.restaurants
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

-- zones ---------------------------------------------------------------------------------------------------------------
CREATE TABLE public.zones (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    restaurant_id uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (char_length(btrim(name)) > 0),
    sort_order    smallint NOT NULL DEFAULT 0,
    area_type     public.zone_area_type,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX zones_restaurant_name_idx ON public.zones (restaurant_id, lower(name));
CREATE TRIGGER zones_updated_at BEFORE UPDATE ON public.zones
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

-- allowed_capacities (target of table_inventory's composite FK) -------------------------------------------------------
CREATE TABLE public.allowed_capacities (
    restaurant_id uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    capacity      integer NOT NULL CHECK (capacity > 0),
    label         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, capacity)
);

-- table_inventory -----------------------------------------------------------------------------------------------------
CREATE TABLE public.table_inventory (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    restaurant_id  uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    table_number   text NOT NULL,
    capacity       integer NOT NULL CHECK (capacity > 0),
    min_party_size integer NOT NULL DEFAULT 1 CHECK (min_party_size > 0),
    max_party_size integer,
    section        text,
    status         public.table_status NOT NULL DEFAULT 'available',
    position       jsonb,
    notes          text,
    zone_id        uuid NOT NULL REFERENCES public.zones (id) ON DELETE RESTRICT,
    category       text,
    seating_type   text,
    mobility       public.table_mobility NOT NULL DEFAULT 'movable',
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT table_inventory_restaurant_id_table_number_key UNIQUE (restaurant_id, table_number),
    CONSTRAINT table_inventory_party_size_check CHECK (max_party_size IS NULL OR max_party_size >= min_party_size),
    CONSTRAINT table_inventory_allowed_capacity_fkey FOREIGN KEY (restaurant_id, capacity)
        REFERENCES public.allowed_capacities (restaurant_id, capacity) ON UPDATE CASCADE ON DELETE RESTRICT
);
CREATE INDEX table_inventory_lookup_idx ON public.table_inventory (restaurant_id, status, capacity);
CREATE INDEX table_inventory_zone_idx ON public.table_inventory (zone_id);
CREATE TRIGGER table_inventory_updated_at BEFORE UPDATE ON public.table_inventory
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

-- table_adjacencies (directed edges; the allocator reads both directions) --------------------------------------------
CREATE TABLE public.table_adjacencies (
    table_a    uuid NOT NULL REFERENCES public.table_inventory (id) ON DELETE CASCADE,
    table_b    uuid NOT NULL REFERENCES public.table_inventory (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_a, table_b),
    CONSTRAINT table_adjacencies_not_self CHECK (table_a <> table_b)
);
CREATE INDEX table_adjacencies_table_b_idx ON public.table_adjacencies (table_b);

CREATE FUNCTION public.validate_table_adjacency() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_zone_a uuid;
    v_zone_b uuid;
BEGIN
    SELECT zone_id INTO v_zone_a FROM public.table_inventory WHERE id = NEW.table_a;
    SELECT zone_id INTO v_zone_b FROM public.table_inventory WHERE id = NEW.table_b;
    IF v_zone_a IS DISTINCT FROM v_zone_b THEN
        RAISE EXCEPTION 'Tables % and % must be in the same zone to be adjacent', NEW.table_a, NEW.table_b
            USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER validate_table_adjacency BEFORE INSERT ON public.table_adjacencies
    FOR EACH ROW EXECUTE FUNCTION public.validate_table_adjacency();

-- service periods, capacity rules and policy: read by the capacity check and the slot helper --------------------------
CREATE TABLE public.restaurant_service_periods (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    restaurant_id uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    day_of_week   smallint CHECK (day_of_week BETWEEN 0 AND 6),
    start_time    time NOT NULL,
    end_time      time NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (start_time < end_time)
);

CREATE TABLE public.restaurant_capacity_rules (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    restaurant_id     uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    service_period_id uuid REFERENCES public.restaurant_service_periods (id) ON DELETE CASCADE,
    day_of_week       smallint CHECK (day_of_week BETWEEN 0 AND 6),
    effective_date    date,
    max_covers        integer CHECK (max_covers IS NULL OR max_covers >= 0),
    max_parties       integer CHECK (max_parties IS NULL OR max_parties >= 0),
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.service_policy (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    allow_after_hours boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- bookings ------------------------------------------------------------------------------------------------------------
CREATE TABLE public.bookings (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    restaurant_id    uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    customer_name    text,
    customer_email   text,
    customer_phone   text,
    reference        text,
    booking_date     date NOT NULL,
    start_time       time NOT NULL,
    end_time         time NOT NULL,
    start_at         timestamptz,
    end_at           timestamptz,
    party_size       integer NOT NULL CHECK (party_size > 0),
    status           public.booking_status NOT NULL DEFAULT 'pending',
    notes            text,
    checked_in_at    timestamptz,
    checked_out_at   timestamptz,
    assigned_zone_id uuid REFERENCES public.zones (id) ON DELETE SET NULL,
    -- live-only columns (types/supabase.ts), no migration in the origin repository
    assignment_state            text,
    auto_assign_idempotency_key text,
    auto_assign_last_result     jsonb,
    table_id                    uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bookings_start_before_end CHECK (start_at < end_at),
    -- Lists the statuses it knows; PRIORITY_WAITLIST is not among them, so the CASE yields NULL and passes (§1).
    CONSTRAINT bookings_lifecycle_timestamp_consistency CHECK (
        CASE status
            WHEN 'pending' THEN checked_in_at IS NULL AND checked_out_at IS NULL
            WHEN 'pending_allocation' THEN checked_in_at IS NULL AND checked_out_at IS NULL
            WHEN 'confirmed' THEN checked_in_at IS NULL AND checked_out_at IS NULL
            WHEN 'checked_in' THEN checked_in_at IS NOT NULL AND checked_out_at IS NULL
            WHEN 'completed' THEN checked_in_at IS NOT NULL AND checked_out_at IS NOT NULL
                AND checked_out_at >= checked_in_at
            WHEN 'no_show' THEN checked_in_at IS NULL AND checked_out_at IS NULL
            WHEN 'cancelled' THEN checked_out_at IS NULL OR checked_in_at IS NOT NULL
        END
    )
);
CREATE INDEX bookings_restaurant_date_idx ON public.bookings (restaurant_id, booking_date, start_time);

-- start_at / end_at follow date + time in the restaurant's time zone (an empty zone means UTC).
CREATE FUNCTION public.set_booking_instants() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_tz text;
BEGIN
    SELECT COALESCE(NULLIF(r.timezone, ''), 'UTC') INTO v_tz FROM public.restaurants r WHERE r.id = NEW.restaurant_id;
    v_tz := COALESCE(v_tz, 'UTC');
    IF NEW.booking_date IS NOT NULL AND NEW.start_time IS NOT NULL THEN
        NEW.start_at := (NEW.booking_date + NEW.start_time) AT TIME ZONE v_tz;
    END IF;
    IF NEW.booking_date IS NOT NULL AND NEW.end_time IS NOT NULL THEN
        NEW.end_at := (NEW.booking_date + NEW.end_time) AT TIME ZONE v_tz;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER set_booking_instants BEFORE INSERT OR UPDATE ON public.bookings
    FOR EACH ROW EXECUTE FUNCTION public.set_booking_instants();
CREATE TRIGGER bookings_updated_at BEFORE UPDATE ON public.bookings
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

CREATE FUNCTION public.validate_booking_has_assignments() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'confirmed' AND (OLD.status IS NULL OR OLD.status <> 'confirmed') THEN
        IF NOT EXISTS (SELECT 1 FROM public.booking_table_assignments WHERE booking_id = NEW.id) THEN
            RAISE EXCEPTION 'Cannot confirm booking %: No table assignments exist. Booking must have at least one '
                'table assigned before confirmation.', NEW.id
                USING HINT = 'Use the assign_tables RPC function to assign tables before confirming';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER booking_assignment_validation BEFORE UPDATE ON public.bookings
    FOR EACH ROW WHEN (NEW.status = 'confirmed') EXECUTE FUNCTION public.validate_booking_has_assignments();

CREATE FUNCTION public.on_booking_status_refresh() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    v_table uuid;
BEGIN
    IF NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NEW;
    END IF;
    FOR v_table IN SELECT bta.table_id FROM public.booking_table_assignments bta WHERE bta.booking_id = NEW.id LOOP
        PERFORM public.refresh_table_status(v_table);
    END LOOP;
    RETURN NEW;
END
$$;
CREATE TRIGGER trg_booking_status_refresh AFTER UPDATE OF status ON public.bookings
    FOR EACH ROW EXECUTE FUNCTION public.on_booking_status_refresh();

-- booking_slots -------------------------------------------------------------------------------------------------------
CREATE TABLE public.booking_slots (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    restaurant_id      uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    slot_date          date NOT NULL,
    slot_time          time NOT NULL,
    service_period_id  uuid REFERENCES public.restaurant_service_periods (id) ON DELETE SET NULL,
    available_capacity integer NOT NULL DEFAULT 0 CHECK (available_capacity >= 0),
    reserved_count     integer NOT NULL DEFAULT 0,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT booking_slots_reserved_count_check CHECK (reserved_count >= 0 AND reserved_count <= available_capacity),
    CONSTRAINT booking_slots_restaurant_slot_key UNIQUE (restaurant_id, slot_date, slot_time)
);
CREATE INDEX booking_slots_date_idx ON public.booking_slots (restaurant_id, slot_date);

CREATE FUNCTION public.increment_booking_slot_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER booking_slots_increment_version BEFORE UPDATE ON public.booking_slots
    FOR EACH ROW EXECUTE FUNCTION public.increment_booking_slot_version();
CREATE TRIGGER booking_slots_updated_at BEFORE UPDATE ON public.booking_slots
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

-- audit_logs (written by the bta audit trigger) -----------------------------------------------------------------------
CREATE TABLE public.audit_logs (
    id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    entity     text NOT NULL,
    entity_id  text NOT NULL,
    action     text NOT NULL,
    actor      text,
    metadata   jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- booking_table_assignments ("bta") -----------------------------------------------------------------------------------
CREATE TABLE public.booking_table_assignments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id      uuid NOT NULL REFERENCES public.bookings (id) ON DELETE CASCADE,
    table_id        uuid NOT NULL REFERENCES public.table_inventory (id) ON DELETE RESTRICT,
    slot_id         uuid REFERENCES public.booking_slots (id) ON DELETE SET NULL,
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    assigned_by     uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    notes           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    idempotency_key text,
    CONSTRAINT booking_table_assignments_booking_table_key UNIQUE (booking_id, table_id)
);
CREATE INDEX booking_table_assignments_booking_idx ON public.booking_table_assignments (booking_id);
CREATE INDEX idx_booking_table_assignments_booking_id ON public.booking_table_assignments (booking_id);
CREATE INDEX booking_table_assignments_slot_idx ON public.booking_table_assignments (slot_id);
CREATE INDEX booking_table_assignments_table_idx ON public.booking_table_assignments (table_id, assigned_at);
-- M/20251027120000: the (table, slot) key. Created before the exclusion constraint, so it is checked first.
ALTER TABLE public.booking_table_assignments
    ADD CONSTRAINT booking_table_assignments_table_id_slot_id_key UNIQUE (table_id, slot_id);
-- M/20251027164000: windows, and the exclusion constraint that ignores rows without one.
ALTER TABLE public.booking_table_assignments
    ADD COLUMN start_at timestamptz,
    ADD COLUMN end_at timestamptz;
ALTER TABLE public.booking_table_assignments
    ADD CONSTRAINT no_overlapping_table_assignments EXCLUDE USING gist (
        table_id WITH =, tstzrange(start_at, end_at) WITH &&
    ) WHERE (start_at IS NOT NULL AND end_at IS NOT NULL);
CREATE TRIGGER booking_table_assignments_updated_at BEFORE UPDATE ON public.booking_table_assignments
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

CREATE FUNCTION public.log_table_assignment_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.audit_logs (entity, entity_id, action, actor, metadata)
        VALUES ('booking_table_assignments', NEW.id::text, 'table_assigned', NEW.assigned_by::text,
                jsonb_build_object('booking_id', NEW.booking_id, 'table_id', NEW.table_id, 'slot_id', NEW.slot_id));
        RETURN NEW;
    END IF;
    INSERT INTO public.audit_logs (entity, entity_id, action, actor, metadata)
    VALUES ('booking_table_assignments', OLD.id::text, 'table_unassigned', NULL,
            jsonb_build_object('booking_id', OLD.booking_id, 'table_id', OLD.table_id, 'slot_id', OLD.slot_id));
    RETURN OLD;
END
$$;
CREATE TRIGGER booking_table_assignments_audit AFTER INSERT OR DELETE ON public.booking_table_assignments
    FOR EACH ROW EXECUTE FUNCTION public.log_table_assignment_change();

-- allocations ---------------------------------------------------------------------------------------------------------
CREATE TABLE public.allocations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id     uuid REFERENCES public.bookings (id) ON DELETE CASCADE,
    restaurant_id  uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    resource_type  text NOT NULL CHECK (resource_type IN ('table', 'merge_group')),
    resource_id    uuid NOT NULL,
    "window"       tstzrange NOT NULL,
    created_by     uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    shadow         boolean NOT NULL DEFAULT false,
    is_maintenance boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT allocations_booking_resource_key UNIQUE (booking_id, resource_type, resource_id)
);
CREATE INDEX allocations_resource_idx ON public.allocations (resource_type, resource_id);
-- M/20251113203000: per restaurant, real (non-shadow) rows only, deferrable but initially immediate.
ALTER TABLE public.allocations
    ADD CONSTRAINT allocations_no_overlap EXCLUDE USING gist (
        restaurant_id WITH =, resource_type WITH =, resource_id WITH =, "window" WITH &&
    ) WHERE (NOT shadow) DEFERRABLE INITIALLY IMMEDIATE;
CREATE TRIGGER allocations_updated_at BEFORE UPDATE ON public.allocations
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

CREATE FUNCTION public.on_allocations_refresh() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.resource_type = 'table' THEN
            PERFORM public.refresh_table_status(OLD.resource_id);
        END IF;
    ELSIF NEW.resource_type = 'table' THEN
        PERFORM public.refresh_table_status(NEW.resource_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER trg_allocations_refresh AFTER INSERT OR UPDATE OR DELETE ON public.allocations
    FOR EACH ROW EXECUTE FUNCTION public.on_allocations_refresh();

-- M/20251103100000 and M/20251101170000: bta points at its merge group and its allocation (SET NULL on delete).
ALTER TABLE public.booking_table_assignments
    ADD COLUMN merge_group_id uuid REFERENCES public.allocations (id) ON DELETE SET NULL;
CREATE INDEX booking_table_assignments_merge_group_idx ON public.booking_table_assignments (merge_group_id);
ALTER TABLE public.booking_table_assignments
    ADD COLUMN allocation_id uuid,
    ADD CONSTRAINT booking_table_assignments_allocation_id_fkey FOREIGN KEY (allocation_id)
        REFERENCES public.allocations (id) ON DELETE SET NULL;
-- M/20251107060000 / 061000: the generated window and its gist index.
ALTER TABLE public.booking_table_assignments
    ADD COLUMN assignment_window tstzrange GENERATED ALWAYS AS (tstzrange(start_at, end_at, '[)')) STORED;
CREATE INDEX booking_table_assignments_window_gist ON public.booking_table_assignments USING gist (table_id, assignment_window);

-- allocations_archive (prune_allocations_history) ---------------------------------------------------------------------
CREATE TABLE public.allocations_archive (
    id             uuid PRIMARY KEY,
    booking_id     uuid,
    restaurant_id  uuid NOT NULL,
    resource_type  text NOT NULL CHECK (resource_type IN ('table', 'merge_group', 'hold')),
    resource_id    uuid NOT NULL,
    "window"       tstzrange NOT NULL,
    created_by     uuid,
    shadow         boolean NOT NULL DEFAULT false,
    is_maintenance boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT now()
);

-- holds ---------------------------------------------------------------------------------------------------------------
CREATE TABLE public.table_holds (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    restaurant_id   uuid NOT NULL REFERENCES public.restaurants (id) ON DELETE CASCADE,
    booking_id      uuid REFERENCES public.bookings (id) ON DELETE SET NULL,
    zone_id         uuid NOT NULL REFERENCES public.zones (id) ON DELETE CASCADE,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    created_by      uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    metadata        jsonb,
    session_id      uuid,
    status          public.table_hold_status NOT NULL DEFAULT 'active',
    last_touched_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT table_holds_window_check CHECK (start_at < end_at),
    CONSTRAINT table_holds_expires_check CHECK (expires_at >= end_at)
);
CREATE INDEX table_holds_expires_idx ON public.table_holds (expires_at);
CREATE INDEX table_holds_zone_start_idx ON public.table_holds (zone_id, start_at);
CREATE INDEX table_holds_booking_idx ON public.table_holds (booking_id);
CREATE INDEX table_holds_restaurant_window_idx ON public.table_holds (restaurant_id, start_at, end_at, expires_at);

CREATE TABLE public.table_hold_members (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hold_id    uuid NOT NULL REFERENCES public.table_holds (id) ON DELETE CASCADE,
    table_id   uuid NOT NULL REFERENCES public.table_inventory (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT table_hold_members_hold_id_table_id_key UNIQUE (hold_id, table_id)
);
CREATE UNIQUE INDEX thm_unique ON public.table_hold_members (hold_id, table_id);

CREATE TABLE public.table_hold_windows (
    hold_id       uuid NOT NULL REFERENCES public.table_holds (id) ON DELETE CASCADE,
    table_id      uuid NOT NULL REFERENCES public.table_inventory (id) ON DELETE CASCADE,
    restaurant_id uuid NOT NULL,
    booking_id    uuid,
    start_at      timestamptz NOT NULL,
    end_at        timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    hold_window   tstzrange GENERATED ALWAYS AS (tstzrange(start_at, end_at, '[)')) STORED,
    PRIMARY KEY (hold_id, table_id),
    CONSTRAINT table_hold_windows_no_overlap EXCLUDE USING gist (table_id WITH =, hold_window WITH &&)
);

-- A member row mirrors into the hold's window table and into a shadow allocation of the hold's booking.
CREATE FUNCTION public.sync_table_hold_windows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_hold public.table_holds%ROWTYPE;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM public.table_hold_windows w WHERE w.hold_id = OLD.hold_id AND w.table_id = OLD.table_id;
        DELETE FROM public.allocations a
        WHERE a.resource_type = 'table' AND a.resource_id = OLD.table_id AND a.shadow
          AND a.booking_id IS NOT DISTINCT FROM (SELECT h.booking_id FROM public.table_holds h WHERE h.id = OLD.hold_id);
        RETURN OLD;
    END IF;

    SELECT * INTO v_hold FROM public.table_holds h WHERE h.id = NEW.hold_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    INSERT INTO public.table_hold_windows (hold_id, table_id, restaurant_id, booking_id, start_at, end_at, expires_at)
    VALUES (NEW.hold_id, NEW.table_id, v_hold.restaurant_id, v_hold.booking_id, v_hold.start_at, v_hold.end_at,
            v_hold.expires_at)
    ON CONFLICT (hold_id, table_id) DO UPDATE
        SET restaurant_id = EXCLUDED.restaurant_id, booking_id = EXCLUDED.booking_id,
            start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at, expires_at = EXCLUDED.expires_at;
    INSERT INTO public.allocations (booking_id, restaurant_id, resource_type, resource_id, "window", created_by, shadow)
    VALUES (v_hold.booking_id, v_hold.restaurant_id, 'table', NEW.table_id,
            tstzrange(v_hold.start_at, v_hold.end_at, '[)'), v_hold.created_by, true)
    ON CONFLICT ON CONSTRAINT allocations_booking_resource_key DO UPDATE
        SET "window" = EXCLUDED."window", restaurant_id = EXCLUDED.restaurant_id, shadow = true;
    RETURN NEW;
END
$$;
CREATE TRIGGER table_hold_members_sync_insert AFTER INSERT ON public.table_hold_members
    FOR EACH ROW EXECUTE FUNCTION public.sync_table_hold_windows();
CREATE TRIGGER table_hold_members_sync_delete AFTER DELETE ON public.table_hold_members
    FOR EACH ROW EXECUTE FUNCTION public.sync_table_hold_windows();

CREATE FUNCTION public.update_table_hold_windows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE public.table_hold_windows w
    SET start_at = NEW.start_at, end_at = NEW.end_at, expires_at = NEW.expires_at,
        restaurant_id = NEW.restaurant_id, booking_id = NEW.booking_id
    WHERE w.hold_id = NEW.id;
    UPDATE public.allocations a
    SET "window" = tstzrange(NEW.start_at, NEW.end_at, '[)'), restaurant_id = NEW.restaurant_id,
        booking_id = NEW.booking_id
    WHERE a.resource_type = 'table' AND a.shadow
      AND a.booking_id IS NOT DISTINCT FROM OLD.booking_id
      AND a.resource_id IN (SELECT m.table_id FROM public.table_hold_members m WHERE m.hold_id = NEW.id);
    RETURN NEW;
END
$$;
CREATE TRIGGER table_holds_sync_update AFTER UPDATE OF start_at, end_at, expires_at, restaurant_id, booking_id
    ON public.table_holds FOR EACH ROW EXECUTE FUNCTION public.update_table_hold_windows();
CREATE TRIGGER table_holds_updated_at BEFORE UPDATE ON public.table_holds
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

-- the idempotency ledger ----------------------------------------------------------------------------------------------
CREATE TABLE public.booking_assignment_idempotency (
    booking_id                uuid NOT NULL REFERENCES public.bookings (id) ON DELETE CASCADE,
    idempotency_key           text NOT NULL,
    table_ids                 uuid[] NOT NULL,
    assignment_window         tstzrange NOT NULL,
    merge_group_allocation_id uuid REFERENCES public.allocations (id) ON DELETE SET NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (booking_id, idempotency_key)
);
CREATE INDEX booking_assignment_idempotency_key_idx ON public.booking_assignment_idempotency (booking_id, idempotency_key);
CREATE INDEX booking_assignment_idempotency_created_idx ON public.booking_assignment_idempotency (created_at);
ALTER TABLE public.booking_assignment_idempotency
    ADD COLUMN table_set_hash text,
    ADD COLUMN payload_checksum text NOT NULL DEFAULT '',
    ADD COLUMN expires_at timestamptz;
CREATE UNIQUE INDEX booking_assignment_idempotency_booking_hash_key
    ON public.booking_assignment_idempotency (booking_id, table_set_hash) WHERE table_set_hash IS NOT NULL;

-- confirmation cache, outbox, observability ---------------------------------------------------------------------------
CREATE TABLE public.booking_confirmation_results (
    booking_id      uuid NOT NULL REFERENCES public.bookings (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL,
    hold_id         uuid,
    table_ids       uuid[] NOT NULL DEFAULT '{}',
    assignments     jsonb NOT NULL DEFAULT '[]',
    start_at        timestamptz,
    end_at          timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (booking_id, idempotency_key),
    CONSTRAINT booking_confirmation_results_hold_id_key UNIQUE (hold_id)
);

CREATE TABLE public.capacity_outbox (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type      text NOT NULL,
    dedupe_key      text,
    restaurant_id   uuid,
    booking_id      uuid,
    idempotency_key text,
    payload         jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT capacity_outbox_dedupe_key_key UNIQUE (dedupe_key)
);

CREATE TABLE public.observability_events (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    source        text NOT NULL,
    event_type    text NOT NULL,
    severity      text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    context       jsonb NOT NULL DEFAULT '{}',
    restaurant_id uuid,
    booking_id    uuid
);
