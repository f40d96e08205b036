-- tablemend's schema, current state. Must equal the replay of every file in migrations/ (tests/migration checks).

-- === 0001_extensions ===
-- btree_gist lets one exclusion constraint say "same restaurant, same table, overlapping window".
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- === 0002_allocator ===
-- tablemend's allocator schema: tenant tables keyed by restaurant_id (Citus-ready), occupancy as one exclusion constraint.
-- Origin table and column names are kept where the meaning is the same; docs/allocator.md lists every difference.

-- --- types ------------------------------------------------------------------------------------------------------------

CREATE TYPE booking_status AS ENUM (
    'pending', 'pending_allocation', 'confirmed', 'checked_in', 'completed', 'cancelled', 'no_show', 'PRIORITY_WAITLIST'
);
CREATE TYPE table_status AS ENUM ('available', 'reserved', 'occupied', 'out_of_service');
CREATE TYPE table_mobility AS ENUM ('movable', 'fixed');
CREATE TYPE table_hold_status AS ENUM ('active', 'expired', 'confirmed', 'cancelled');

-- Bookings in these states hold nothing: moving into one releases tables, holds, ledger and zone lock.
CREATE FUNCTION booking_status_is_terminal(s booking_status) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN s IN ('cancelled', 'no_show', 'completed', 'PRIORITY_WAITLIST');

-- --- tenants and their floor ----------------------------------------------------------------------------------------

-- The tenant root: its own id is the distribution column (every other table says restaurant_id).
CREATE TABLE restaurants (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (btrim(name) <> ''),
    slug       text,
    timezone   text NOT NULL DEFAULT 'Europe/London',
    is_active  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE zones (
    restaurant_id uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (btrim(name) <> ''),
    sort_order    smallint NOT NULL DEFAULT 0,
    area_type     text CHECK (area_type IN ('indoor', 'outdoor', 'covered')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, id)
);
CREATE UNIQUE INDEX zones_restaurant_name_key ON zones (restaurant_id, lower(name));

CREATE TABLE table_inventory (
    restaurant_id  uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    table_number   text NOT NULL CHECK (btrim(table_number) <> ''),
    capacity       integer NOT NULL CHECK (capacity > 0),
    min_party_size integer NOT NULL DEFAULT 1 CHECK (min_party_size > 0),
    max_party_size integer CHECK (max_party_size IS NULL OR max_party_size >= min_party_size),
    section        text,
    -- Manual state only: occupancy is derived from booking_table_assignments, never written here by the allocator.
    status         table_status NOT NULL DEFAULT 'available',
    position       jsonb,
    zone_id        uuid NOT NULL,
    category       text,
    seating_type   text,
    mobility       table_mobility NOT NULL DEFAULT 'movable',
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, id),
    CONSTRAINT table_inventory_table_number_key UNIQUE (restaurant_id, table_number),
    -- Target of the assignments' (table, zone) foreign key: an assigned table cannot change zone under its booking.
    CONSTRAINT table_inventory_zone_key UNIQUE (restaurant_id, id, zone_id),
    FOREIGN KEY (restaurant_id, zone_id) REFERENCES zones (restaurant_id, id)
);
CREATE INDEX table_inventory_zone_idx ON table_inventory (restaurant_id, zone_id);

-- Edges may be stored in either direction; the allocator reads both. One edge per unordered pair.
CREATE TABLE table_adjacencies (
    restaurant_id uuid NOT NULL,
    table_a       uuid NOT NULL,
    table_b       uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, table_a, table_b),
    CHECK (table_a <> table_b),
    FOREIGN KEY (restaurant_id, table_a) REFERENCES table_inventory (restaurant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (restaurant_id, table_b) REFERENCES table_inventory (restaurant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX table_adjacencies_pair_key
    ON table_adjacencies (restaurant_id, LEAST(table_a, table_b), GREATEST(table_a, table_b));
CREATE INDEX table_adjacencies_b_idx ON table_adjacencies (restaurant_id, table_b);

-- --- bookings -------------------------------------------------------------------------------------------------------

CREATE TABLE bookings (
    restaurant_id    uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    booking_date     date NOT NULL,
    start_time       time NOT NULL,
    end_time         time NOT NULL,
    -- Filled by set_booking_instants from date + times in the restaurant's time zone (or the reverse).
    start_at         timestamptz NOT NULL,
    end_at           timestamptz NOT NULL,
    party_size       integer NOT NULL CHECK (party_size > 0),
    status           booking_status NOT NULL DEFAULT 'pending',
    -- Zone lock: the zone of the booking's assigned tables, NULL when it has none (kept so by the allocator and by
    -- the assignments' delete trigger; the assignments' foreign key makes every assigned table agree with it).
    assigned_zone_id uuid,
    customer_name    text,
    reference        text,
    notes            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, id),
    CONSTRAINT bookings_window_check CHECK (start_at < end_at),
    CONSTRAINT bookings_zone_key UNIQUE (restaurant_id, id, assigned_zone_id),
    FOREIGN KEY (restaurant_id, assigned_zone_id) REFERENCES zones (restaurant_id, id)
        ON DELETE SET NULL (assigned_zone_id)
);
-- The RPC contract identifies a booking by id alone; this finds its restaurant (not unique: tenant keys stay composite).
CREATE INDEX bookings_id_idx ON bookings (id);
CREATE INDEX bookings_restaurant_start_idx ON bookings (restaurant_id, start_at);

-- --- holds ----------------------------------------------------------------------------------------------------------

CREATE TABLE table_holds (
    restaurant_id   uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    booking_id      uuid,
    zone_id         uuid NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    created_by      uuid,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          table_hold_status NOT NULL DEFAULT 'active',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_touched_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, id),
    CHECK (start_at < end_at),
    -- Target of the members' window copy: ON UPDATE CASCADE keeps every member's window equal to its hold's.
    CONSTRAINT table_holds_window_key UNIQUE (restaurant_id, id, start_at, end_at),
    FOREIGN KEY (restaurant_id, booking_id) REFERENCES bookings (restaurant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (restaurant_id, zone_id) REFERENCES zones (restaurant_id, id) ON DELETE CASCADE
);
CREATE INDEX table_holds_id_idx ON table_holds (id);
CREATE INDEX table_holds_booking_idx ON table_holds (restaurant_id, booking_id);

-- A member row exists only while its hold is active (release / confirm / expiry delete the members).
CREATE TABLE table_hold_members (
    restaurant_id uuid NOT NULL,
    hold_id       uuid NOT NULL,
    table_id      uuid NOT NULL,
    start_at      timestamptz NOT NULL,
    end_at        timestamptz NOT NULL,
    hold_window   tstzrange GENERATED ALWAYS AS (tstzrange(start_at, end_at, '[)')) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, hold_id, table_id),
    FOREIGN KEY (restaurant_id, hold_id, start_at, end_at)
        REFERENCES table_holds (restaurant_id, id, start_at, end_at) ON DELETE CASCADE ON UPDATE CASCADE,
    FOREIGN KEY (restaurant_id, table_id) REFERENCES table_inventory (restaurant_id, id) ON DELETE CASCADE,
    CONSTRAINT table_hold_members_no_overlap EXCLUDE USING gist (
        restaurant_id WITH =, table_id WITH =, hold_window WITH &&, hold_id WITH <>
    )
);

-- --- occupancy: the single source of truth --------------------------------------------------------------------------

-- One row per (booking, table): the table is occupied by that booking over [start_at, end_at). Only live bookings
-- have rows (terminal transitions move them to the archive; an insert for a terminal booking is refused).
CREATE TABLE booking_table_assignments (
    restaurant_id     uuid NOT NULL,
    id                uuid NOT NULL DEFAULT gen_random_uuid(),
    booking_id        uuid NOT NULL,
    table_id          uuid NOT NULL,
    -- Copy of the table's zone; both foreign keys below use it so table, booking zone lock and row always agree.
    zone_id           uuid NOT NULL,
    start_at          timestamptz NOT NULL,
    end_at            timestamptz NOT NULL,
    assignment_window tstzrange GENERATED ALWAYS AS (tstzrange(start_at, end_at, '[)')) STORED,
    -- Same value on every row of a multi-table booking, NULL for a single table: a merge group exists only as long
    -- as its rows do, so it can never be orphaned.
    merge_group_id    uuid,
    idempotency_key   text,
    assigned_by       uuid,
    assigned_at       timestamptz NOT NULL DEFAULT now(),
    notes             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, id),
    CONSTRAINT booking_table_assignments_window_check CHECK (start_at < end_at),
    CONSTRAINT booking_table_assignments_booking_table_key UNIQUE (restaurant_id, booking_id, table_id),
    -- The booking's zone lock must be this row's zone; deleting the booking deletes its rows.
    CONSTRAINT booking_table_assignments_booking_zone_fkey FOREIGN KEY (restaurant_id, booking_id, zone_id)
        REFERENCES bookings (restaurant_id, id, assigned_zone_id) ON DELETE CASCADE,
    -- The table must exist in that zone; a table with assignments cannot be deleted or moved to another zone.
    CONSTRAINT booking_table_assignments_table_zone_fkey FOREIGN KEY (restaurant_id, table_id, zone_id)
        REFERENCES table_inventory (restaurant_id, id, zone_id),
    -- No double booking: two rows of one table never overlap. booking_id <> puts the blocking booking into DETAIL
    -- (the unique key above already keeps one booking from holding a table twice). Back-to-back windows do not overlap.
    CONSTRAINT booking_table_assignments_no_overlap EXCLUDE USING gist (
        restaurant_id WITH =, table_id WITH =, assignment_window WITH &&, booking_id WITH <>
    )
);
CREATE INDEX booking_table_assignments_merge_group_idx
    ON booking_table_assignments (restaurant_id, merge_group_id) WHERE merge_group_id IS NOT NULL;

-- History of every assignment row that was deleted (unassign, replacement, release on a terminal status, direct
-- DELETE): written by the delete trigger, so no path loses it.
CREATE TABLE booking_table_assignments_archive (
    restaurant_id   uuid NOT NULL,
    id              uuid NOT NULL,
    booking_id      uuid NOT NULL,
    table_id        uuid NOT NULL,
    zone_id         uuid NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL,
    merge_group_id  uuid,
    idempotency_key text,
    assigned_by     uuid,
    assigned_at     timestamptz NOT NULL,
    released_at     timestamptz NOT NULL DEFAULT now(),
    release_reason  text NOT NULL,
    PRIMARY KEY (restaurant_id, id),
    FOREIGN KEY (restaurant_id, booking_id) REFERENCES bookings (restaurant_id, id) ON DELETE CASCADE
);
CREATE INDEX booking_table_assignments_archive_booking_idx
    ON booking_table_assignments_archive (restaurant_id, booking_id);

-- --- idempotency ledger ---------------------------------------------------------------------------------------------

-- One row per (booking, key) while the assignment it produced is the booking's current one: any delete or move of the
-- booking's assignment rows deletes its ledger rows (trigger), and a deferred check refuses a row whose assignment
-- does not exist at commit. The request_* columns are the normalised request; mismatches are reported per field.
CREATE TABLE booking_assignment_idempotency (
    restaurant_id       uuid NOT NULL,
    booking_id          uuid NOT NULL,
    idempotency_key     text NOT NULL CHECK (idempotency_key <> ''),
    table_ids           uuid[] NOT NULL,
    request_start_at    timestamptz,
    request_end_at      timestamptz,
    require_adjacency   boolean NOT NULL,
    assigned_by         uuid,
    request_fingerprint text NOT NULL,
    start_at            timestamptz NOT NULL,
    end_at              timestamptz NOT NULL,
    assignment_window   tstzrange GENERATED ALWAYS AS (tstzrange(start_at, end_at, '[)')) STORED,
    merge_group_id      uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (restaurant_id, booking_id, idempotency_key),
    FOREIGN KEY (restaurant_id, booking_id) REFERENCES bookings (restaurant_id, id) ON DELETE CASCADE
);

-- --- derived views --------------------------------------------------------------------------------------------------

-- The origin's allocations, derived: a 'table' row per assignment, a 'merge_group' row per multi-table booking and
-- a shadow 'table' row per active hold member. Being a view, it can never hold a row its source lacks.
CREATE VIEW allocations AS
SELECT a.id, a.booking_id, a.restaurant_id, 'table'::text AS resource_type, a.table_id AS resource_id,
       a.assignment_window AS "window", false AS shadow, false AS is_maintenance, a.assigned_by AS created_by,
       a.created_at, a.updated_at
FROM booking_table_assignments a
UNION ALL
SELECT a.merge_group_id, a.booking_id, a.restaurant_id, 'merge_group', a.merge_group_id,
       tstzrange(min(a.start_at), max(a.end_at), '[)'), false, false, min(a.assigned_by::text)::uuid,
       min(a.created_at), max(a.updated_at)
FROM booking_table_assignments a
WHERE a.merge_group_id IS NOT NULL
GROUP BY a.restaurant_id, a.booking_id, a.merge_group_id
UNION ALL
SELECT h.id, h.booking_id, h.restaurant_id, 'table', m.table_id, m.hold_window, true, false, h.created_by,
       m.created_at, h.last_touched_at
FROM table_hold_members m
JOIN table_holds h ON h.restaurant_id = m.restaurant_id AND h.id = m.hold_id
WHERE h.status = 'active' AND h.expires_at > now();

-- --- observability --------------------------------------------------------------------------------------------------

CREATE TABLE observability_events (
    restaurant_id uuid NOT NULL REFERENCES restaurants (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    source        text NOT NULL,
    event_type    text NOT NULL,
    severity      text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    context       jsonb NOT NULL DEFAULT '{}'::jsonb,
    booking_id    uuid,
    PRIMARY KEY (restaurant_id, id)
);
CREATE INDEX observability_events_created_idx ON observability_events (restaurant_id, created_at);

-- --- triggers: derived state is written by the transaction that changes its source -------------------------------

-- Bookings carry both forms of their time: date + times in the restaurant's zone (origin) and instants. Whichever
-- form a write changes is the source; the other is recomputed.
CREATE FUNCTION set_booking_instants() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_tz text;
    v_from_times boolean;
BEGIN
    SELECT COALESCE(NULLIF(r.timezone, ''), 'UTC') INTO v_tz FROM restaurants r WHERE r.id = NEW.restaurant_id;
    v_tz := COALESCE(v_tz, 'UTC');
    IF TG_OP = 'INSERT' THEN
        v_from_times := NEW.booking_date IS NOT NULL AND NEW.start_time IS NOT NULL AND NEW.end_time IS NOT NULL;
    ELSE
        v_from_times := (NEW.booking_date, NEW.start_time, NEW.end_time)
                        IS DISTINCT FROM (OLD.booking_date, OLD.start_time, OLD.end_time);
        IF NOT v_from_times AND (NEW.start_at, NEW.end_at) IS NOT DISTINCT FROM (OLD.start_at, OLD.end_at) THEN
            RETURN NEW;
        END IF;
    END IF;
    IF v_from_times THEN
        NEW.start_at := (NEW.booking_date + NEW.start_time) AT TIME ZONE v_tz;
        -- an end time at or before the start time means the booking runs past midnight
        NEW.end_at := (NEW.booking_date + NEW.end_time
                       + CASE WHEN NEW.end_time <= NEW.start_time THEN interval '1 day' ELSE interval '0' END)
                      AT TIME ZONE v_tz;
    ELSIF NEW.start_at IS NOT NULL AND NEW.end_at IS NOT NULL THEN
        NEW.booking_date := (NEW.start_at AT TIME ZONE v_tz)::date;
        NEW.start_time := (NEW.start_at AT TIME ZONE v_tz)::time;
        NEW.end_time := (NEW.end_at AT TIME ZONE v_tz)::time;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER set_booking_instants
    BEFORE INSERT OR UPDATE OF booking_date, start_time, end_time, start_at, end_at ON bookings
    FOR EACH ROW EXECUTE FUNCTION set_booking_instants();

-- Raise TAC01 for the first live assignment of another booking that overlaps p_window on one of p_table_ids.
CREATE FUNCTION raise_if_table_occupied(p_restaurant_id uuid, p_booking_id uuid, p_table_ids uuid[],
                                        p_window tstzrange) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_row record;
BEGIN
    SELECT a.booking_id, a.table_id, a.assignment_window INTO v_row
    FROM booking_table_assignments a
    WHERE a.restaurant_id = p_restaurant_id AND a.table_id = ANY (p_table_ids)
      AND a.assignment_window && p_window AND a.booking_id <> p_booking_id
    ORDER BY a.table_id, a.start_at
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % is occupied by booking % over %', v_row.table_id, v_row.booking_id,
            v_row.assignment_window
            USING ERRCODE = 'TAC01',
                  DETAIL = format('booking_id=%s table_id=%s blocking_booking_id=%s window=%s requested_window=%s',
                                  p_booking_id, v_row.table_id, v_row.booking_id, v_row.assignment_window, p_window),
                  HINT = 'Choose other tables or another window, or release the blocking booking first.';
    END IF;
END
$$;

-- Terminal status: release everything the booking holds. Time change: move its assignments to the new window (or
-- refuse the edit with TAC01 naming the blocker) and release its holds, whose window no longer fits.
CREATE FUNCTION bookings_after_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    IF booking_status_is_terminal(NEW.status) THEN
        IF NOT booking_status_is_terminal(OLD.status) THEN
            PERFORM set_config('tablemend.release_reason', 'status:' || NEW.status::text, true);
            DELETE FROM booking_table_assignments a WHERE a.restaurant_id = NEW.restaurant_id AND a.booking_id = NEW.id;
            PERFORM set_config('tablemend.release_reason', '', true);
            UPDATE table_holds h SET status = 'cancelled', last_touched_at = now()
            WHERE h.restaurant_id = NEW.restaurant_id AND h.booking_id = NEW.id AND h.status = 'active';
            DELETE FROM table_hold_members m
            USING table_holds h
            WHERE h.restaurant_id = NEW.restaurant_id AND h.booking_id = NEW.id
              AND m.restaurant_id = h.restaurant_id AND m.hold_id = h.id;
        END IF;
        RETURN NULL;
    END IF;
    IF (NEW.start_at, NEW.end_at) IS DISTINCT FROM (OLD.start_at, OLD.end_at) THEN
        PERFORM raise_if_table_occupied(
            NEW.restaurant_id, NEW.id,
            ARRAY(SELECT a.table_id FROM booking_table_assignments a
                  WHERE a.restaurant_id = NEW.restaurant_id AND a.booking_id = NEW.id),
            tstzrange(NEW.start_at, NEW.end_at, '[)'));
        BEGIN
            UPDATE booking_table_assignments a
            SET start_at = NEW.start_at, end_at = NEW.end_at, updated_at = now()
            WHERE a.restaurant_id = NEW.restaurant_id AND a.booking_id = NEW.id;
        EXCEPTION WHEN exclusion_violation THEN
            -- a concurrent writer committed in between: name it the same way
            PERFORM raise_if_table_occupied(
                NEW.restaurant_id, NEW.id,
                ARRAY(SELECT a.table_id FROM booking_table_assignments a
                      WHERE a.restaurant_id = NEW.restaurant_id AND a.booking_id = NEW.id),
                tstzrange(NEW.start_at, NEW.end_at, '[)'));
            RAISE;
        END;
        UPDATE table_holds h SET status = 'cancelled', last_touched_at = now()
        WHERE h.restaurant_id = NEW.restaurant_id AND h.booking_id = NEW.id AND h.status = 'active';
        DELETE FROM table_hold_members m
        USING table_holds h
        WHERE h.restaurant_id = NEW.restaurant_id AND h.booking_id = NEW.id
          AND m.restaurant_id = h.restaurant_id AND m.hold_id = h.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_after_update
    AFTER UPDATE OF status, start_at, end_at, booking_date, start_time, end_time ON bookings
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.start_at IS DISTINCT FROM NEW.start_at
          OR OLD.end_at IS DISTINCT FROM NEW.end_at)
    EXECUTE FUNCTION bookings_after_update();

-- Only live bookings occupy tables. FOR SHARE waits for a concurrent status change and then reads its result, so a
-- cancel and an insert racing on one booking cannot leave a row behind.
CREATE FUNCTION booking_table_assignments_require_live() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_row record;
BEGIN
    FOR v_row IN
        SELECT b.restaurant_id, b.id, b.status
        FROM bookings b
        WHERE (b.restaurant_id, b.id) IN (SELECT DISTINCT n.restaurant_id, n.booking_id FROM new_rows n)
        ORDER BY b.restaurant_id, b.id
        FOR SHARE OF b
    LOOP
        IF booking_status_is_terminal(v_row.status) THEN
            RAISE EXCEPTION 'booking % is %, it cannot hold tables', v_row.id, v_row.status
                USING ERRCODE = 'TAC07',
                      DETAIL = format('booking_id=%s restaurant_id=%s status=%s', v_row.id, v_row.restaurant_id,
                                      v_row.status),
                      HINT = 'Only live bookings can be assigned; change the status first.';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER booking_table_assignments_live_insert
    AFTER INSERT ON booking_table_assignments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION booking_table_assignments_require_live();
CREATE TRIGGER booking_table_assignments_live_update
    AFTER UPDATE ON booking_table_assignments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION booking_table_assignments_require_live();

-- A changed assignment invalidates the booking's ledger rows (their stored result no longer describes it).
CREATE FUNCTION booking_table_assignments_after_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    DELETE FROM booking_assignment_idempotency l
    USING (SELECT DISTINCT n.restaurant_id, n.booking_id FROM new_rows n
           UNION SELECT DISTINCT o.restaurant_id, o.booking_id FROM old_rows o) c
    WHERE l.restaurant_id = c.restaurant_id AND l.booking_id = c.booking_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER booking_table_assignments_ledger_update
    AFTER UPDATE ON booking_table_assignments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION booking_table_assignments_after_update();

-- Every deleted assignment goes to the archive; the booking's ledger rows go; a booking left without tables loses
-- its zone lock. This runs for the allocator's deletes, cascades and direct DELETEs alike.
CREATE FUNCTION booking_table_assignments_after_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_reason text := COALESCE(NULLIF(current_setting('tablemend.release_reason', true), ''), 'deleted');
BEGIN
    INSERT INTO booking_table_assignments_archive (
        restaurant_id, id, booking_id, table_id, zone_id, start_at, end_at, merge_group_id, idempotency_key,
        assigned_by, assigned_at, release_reason)
    SELECT o.restaurant_id, o.id, o.booking_id, o.table_id, o.zone_id, o.start_at, o.end_at, o.merge_group_id,
           o.idempotency_key, o.assigned_by, o.assigned_at, v_reason
    FROM old_rows o
    -- a cascade from a deleted booking has nothing left to attach history to
    WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.restaurant_id = o.restaurant_id AND b.id = o.booking_id)
    ON CONFLICT (restaurant_id, id) DO UPDATE
        SET released_at = EXCLUDED.released_at, release_reason = EXCLUDED.release_reason;
    DELETE FROM booking_assignment_idempotency l
    USING (SELECT DISTINCT o.restaurant_id, o.booking_id FROM old_rows o) c
    WHERE l.restaurant_id = c.restaurant_id AND l.booking_id = c.booking_id;
    UPDATE bookings b SET assigned_zone_id = NULL, updated_at = now()
    FROM (SELECT DISTINCT o.restaurant_id, o.booking_id FROM old_rows o) c
    WHERE b.restaurant_id = c.restaurant_id AND b.id = c.booking_id AND b.assigned_zone_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM booking_table_assignments a
                      WHERE a.restaurant_id = b.restaurant_id AND a.booking_id = b.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER booking_table_assignments_after_delete
    AFTER DELETE ON booking_table_assignments REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION booking_table_assignments_after_delete();

-- At commit, a ledger row must describe the booking's current assignment exactly (same tables, window and merge
-- group); otherwise it would replay a result that does not exist (the origin's silent 0-row replay).
CREATE FUNCTION booking_assignment_idempotency_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_l booking_assignment_idempotency%ROWTYPE;
    v_matching integer;
    v_total integer;
BEGIN
    SELECT * INTO v_l FROM booking_assignment_idempotency l
    WHERE l.restaurant_id = NEW.restaurant_id AND l.booking_id = NEW.booking_id
      AND l.idempotency_key = NEW.idempotency_key;
    IF NOT FOUND THEN
        RETURN NULL;  -- deleted later in the same transaction
    END IF;
    SELECT count(*) FILTER (WHERE a.table_id = ANY (v_l.table_ids) AND a.start_at = v_l.start_at
                                  AND a.end_at = v_l.end_at
                                  AND a.merge_group_id IS NOT DISTINCT FROM v_l.merge_group_id),
           count(*)
    INTO v_matching, v_total
    FROM booking_table_assignments a
    WHERE a.restaurant_id = v_l.restaurant_id AND a.booking_id = v_l.booking_id;
    IF v_matching <> cardinality(v_l.table_ids) OR v_total <> v_matching THEN
        RAISE EXCEPTION 'idempotency ledger row for booking % does not match its assignments', v_l.booking_id
            USING ERRCODE = 'TAI01',
                  DETAIL = format('booking_id=%s idempotency_key=%s ledger_tables=%s matching_rows=%s booking_rows=%s',
                                  v_l.booking_id, v_l.idempotency_key, array_to_string(v_l.table_ids, ','),
                                  v_matching, v_total),
                  HINT = 'Ledger rows are written by assign_tables_atomic_v2 only.';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER booking_assignment_idempotency_check
    AFTER INSERT OR UPDATE ON booking_assignment_idempotency
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION booking_assignment_idempotency_check();
