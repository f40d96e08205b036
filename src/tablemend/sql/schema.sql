-- tablemend's schema, current state. Must equal the replay of every file in migrations/ (tests/migration checks).
-- It is the concatenation of migrations/*.sql in order.

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
-- Tells "unknown table" from "table of another restaurant" on the error path (not unique: tenant keys stay composite).
CREATE INDEX table_inventory_id_idx ON table_inventory (id);

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
    -- (no "hold_id WITH <>": the primary key already keeps a hold off one table twice, and a gist column the
    -- planner cannot search on makes it pick this index for hold_id lookups and walk the whole restaurant)
    CONSTRAINT table_hold_members_no_overlap EXCLUDE USING gist (
        restaurant_id WITH =, table_id WITH =, hold_window WITH &&
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
    -- No double booking: two rows of one table never overlap (back-to-back windows do not). One booking cannot hold
    -- a table twice (the unique key above), so no "booking_id WITH <>" is needed; adding it would make the planner
    -- answer booking_id lookups with this index, which cannot search on that column. The functions name the
    -- blocking booking themselves (TAC01).
    CONSTRAINT booking_table_assignments_no_overlap EXCLUDE USING gist (
        restaurant_id WITH =, table_id WITH =, assignment_window WITH &&
    )
);
-- The conflict probe (raise_if_table_occupied) walks this index: one row per table per call.
CREATE INDEX booking_table_assignments_table_end_idx ON booking_table_assignments (restaurant_id, table_id, end_at);
-- A table id determines its restaurant: without this the planner multiplies the two selectivities, thinks a table
-- has about one row, and may walk every row of the table through the gist index instead.
CREATE STATISTICS booking_table_assignments_tenant_table_stats (dependencies)
    ON restaurant_id, table_id FROM booking_table_assignments;
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

-- Timestamps and windows in DETAIL are written without spaces (UTC, ISO 8601) so DETAIL splits into key=value pairs.
CREATE FUNCTION iso(p_ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN COALESCE(to_char(p_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'NULL');

CREATE FUNCTION iso_window(p_window tstzrange) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_window IS NULL THEN 'NULL' ELSE '[' || iso(lower(p_window)) || ',' || iso(upper(p_window)) || ')' END;

-- Raise TAC01 for the first live assignment of another booking that overlaps p_window on one of p_table_ids.
CREATE FUNCTION raise_if_table_occupied(p_restaurant_id uuid, p_booking_id uuid, p_table_ids uuid[],
                                        p_window tstzrange) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_row record;
BEGIN
    -- One btree probe per table: rows of one table never overlap (the exclusion constraint), so ordered by end the
    -- first row of another booking ending after our start is the only candidate; it overlaps iff it starts before
    -- our end. (The gist index cannot take "table_id = ANY (...)" as an index condition.)
    SELECT a.booking_id, a.table_id, a.assignment_window INTO v_row
    FROM unnest(p_table_ids) AS x(id)
    CROSS JOIN LATERAL (
        SELECT o.booking_id, o.table_id, o.assignment_window, o.start_at
        FROM booking_table_assignments o
        WHERE o.restaurant_id = p_restaurant_id AND o.table_id = x.id AND o.end_at > lower(p_window)
          AND o.assignment_window && p_window  -- redundant for the btree, lets the gist index bound its scan too
          AND o.booking_id IS DISTINCT FROM p_booking_id
        ORDER BY o.end_at
        LIMIT 1
    ) a
    WHERE a.start_at < upper(p_window)
    ORDER BY a.table_id
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % is occupied by booking % over %', v_row.table_id, v_row.booking_id,
            v_row.assignment_window
            USING ERRCODE = 'TAC01',
                  DETAIL = format('booking_id=%s table_id=%s blocking_booking_id=%s window=%s requested_window=%s',
                                  p_booking_id, v_row.table_id, v_row.booking_id, iso_window(v_row.assignment_window),
                                  iso_window(p_window)),
                  HINT = 'Choose other tables or another window, or release the blocking booking first.';
    END IF;
END
$$;

-- Raise TAC02 for the first active, unexpired hold of another booking (or an unowned one) that covers one of
-- p_table_ids over p_window. Expired holds never block.
CREATE FUNCTION raise_if_held(p_restaurant_id uuid, p_booking_id uuid, p_table_ids uuid[], p_window tstzrange)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_hold record;
BEGIN
    SELECT h.id, h.booking_id, m.table_id, m.hold_window, h.expires_at INTO v_hold
    FROM unnest(p_table_ids) AS x(id)
    JOIN LATERAL (
        SELECT mm.hold_id, mm.table_id, mm.hold_window FROM table_hold_members mm
        WHERE mm.restaurant_id = p_restaurant_id AND mm.table_id = x.id AND mm.hold_window && p_window
    ) m ON true
    JOIN table_holds h ON h.restaurant_id = p_restaurant_id AND h.id = m.hold_id
    WHERE h.status = 'active' AND h.expires_at > now()
      AND (p_booking_id IS NULL OR h.booking_id IS DISTINCT FROM p_booking_id)  -- an unowned request owns nothing
    ORDER BY m.table_id, h.id
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % is held by hold % until %', v_hold.table_id, v_hold.id, v_hold.expires_at
            USING ERRCODE = 'TAC02',
                  DETAIL = format('booking_id=%s table_id=%s hold_id=%s hold_booking_id=%s window=%s expires_at=%s',
                                  COALESCE(p_booking_id::text, 'NULL'), v_hold.table_id, v_hold.id,
                                  COALESCE(v_hold.booking_id::text, 'NULL'), iso_window(v_hold.hold_window),
                                  iso(v_hold.expires_at)),
                  HINT = 'Retry after the hold expires, or confirm that hold.';
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
            PERFORM 1 FROM table_inventory t  -- the allocator's lock order: booking (this UPDATE), tables by id
            WHERE t.restaurant_id = NEW.restaurant_id
              AND t.id IN (SELECT a.table_id FROM booking_table_assignments a
                           WHERE a.restaurant_id = NEW.restaurant_id AND a.booking_id = NEW.id)
            ORDER BY t.id
            FOR NO KEY UPDATE OF t;
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
        -- the allocator's lock order (booking row, held by this UPDATE, then tables by id), so a racing assign waits
        -- here and then sees the moved rows in its own check instead of tripping over them in the constraint
        PERFORM 1 FROM table_inventory t
        WHERE t.restaurant_id = NEW.restaurant_id
          AND t.id IN (SELECT a.table_id FROM booking_table_assignments a
                       WHERE a.restaurant_id = NEW.restaurant_id AND a.booking_id = NEW.id)
        ORDER BY t.id
        FOR NO KEY UPDATE OF t;
        -- like an assignment, a move may not land on another booking's active hold
        PERFORM raise_if_held(
            NEW.restaurant_id, NEW.id,
            ARRAY(SELECT a.table_id FROM booking_table_assignments a
                  WHERE a.restaurant_id = NEW.restaurant_id AND a.booking_id = NEW.id),
            tstzrange(NEW.start_at, NEW.end_at, '[)'));
        -- refuse before writing (see assign_tables_atomic_v2 step 9): a refused move then aborts no row update
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
            -- name the blocker (the constraint's own message does not say which booking edit caused it)
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
                USING ERRCODE = 'TAC06',
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

-- --- allocator functions ----------------------------------------------------------------------------------------------
-- Error codes (docs/allocator.md): TAV.. validation (422), TAN.. not found (404), TAC.. conflict (409),
-- TAI.. integrity guard (409). DETAIL is always key=value pairs with the ids involved.
-- The public functions run with plan_cache_mode = force_generic_plan (covering what they call): their array
-- arguments make PostgreSQL keep choosing custom plans, i.e. re-plan every statement on every call.

-- Validate a table-id list: not NULL, not empty, no NULL element; returns the distinct ids sorted (the lock order).
CREATE FUNCTION normalize_table_ids(p_table_ids uuid[]) RETURNS uuid[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public AS $$
BEGIN
    IF p_table_ids IS NULL OR cardinality(p_table_ids) = 0 OR array_position(p_table_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'at least one table id is required, and none may be NULL'
            USING ERRCODE = 'TAV01',
                  DETAIL = format('table_ids=%s', COALESCE(p_table_ids::text, 'NULL')),
                  HINT = 'Pass a non-empty array of table ids.';
    END IF;
    RETURN ARRAY(SELECT DISTINCT x FROM unnest(p_table_ids) AS x ORDER BY x);
END
$$;

-- Lock the requested tables of one restaurant in id order and check that they can seat one booking together:
-- all exist in this restaurant, are active and in service, share one zone, and are movable when combined.
CREATE FUNCTION lock_assignable_tables(p_restaurant_id uuid, p_booking_id uuid, p_table_ids uuid[],
                                       OUT zone_id uuid, OUT seats integer)
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
DECLARE
    v_t record;
    v_n integer := 0;
    v_missing uuid;
    v_other uuid;
    v_multi boolean := cardinality(p_table_ids) > 1;
    v_zones integer;
    v_ok boolean;
BEGIN
    SELECT count(*), min(t.zone_id::text)::uuid, count(DISTINCT t.zone_id), sum(t.capacity),
           bool_and(t.active AND t.status <> 'out_of_service' AND (NOT v_multi OR t.mobility = 'movable'))
    INTO v_n, zone_id, v_zones, seats, v_ok
    FROM (SELECT t.zone_id, t.capacity, t.active, t.status, t.mobility
          FROM table_inventory t
          WHERE t.restaurant_id = p_restaurant_id AND t.id = ANY (p_table_ids)
          ORDER BY t.id
          FOR NO KEY UPDATE OF t) t;
    IF v_n = cardinality(p_table_ids) AND v_ok AND v_zones = 1 THEN
        RETURN;
    END IF;
    -- refused: walk the (already locked) rows in id order to name the first offending table
    v_n := 0;
    zone_id := NULL;
    seats := 0;
    FOR v_t IN
        SELECT t.id, t.zone_id, t.active, t.status, t.mobility, t.capacity
        FROM table_inventory t
        WHERE t.restaurant_id = p_restaurant_id AND t.id = ANY (p_table_ids)
        ORDER BY t.id
        FOR NO KEY UPDATE OF t
    LOOP
        v_n := v_n + 1;
        IF NOT v_t.active OR v_t.status = 'out_of_service' THEN
            RAISE EXCEPTION 'table % cannot be assigned (active=%, status=%)', v_t.id, v_t.active, v_t.status
                USING ERRCODE = 'TAV05',
                      DETAIL = format('booking_id=%s table_id=%s active=%s status=%s', p_booking_id, v_t.id,
                                      v_t.active, v_t.status),
                      HINT = 'Activate the table or choose another one.';
        END IF;
        IF zone_id IS NULL THEN
            zone_id := v_t.zone_id;
        ELSIF zone_id <> v_t.zone_id THEN
            RAISE EXCEPTION 'tables % and % are in different zones', p_table_ids[1], v_t.id
                USING ERRCODE = 'TAV06',
                      DETAIL = format('booking_id=%s table_id=%s zone_id=%s expected_zone_id=%s', p_booking_id,
                                      v_t.id, v_t.zone_id, zone_id),
                      HINT = 'All tables of one booking must be in the same zone.';
        END IF;
        IF v_multi AND v_t.mobility <> 'movable' THEN
            RAISE EXCEPTION 'table % is fixed and cannot be combined with other tables', v_t.id
                USING ERRCODE = 'TAV07',
                      DETAIL = format('booking_id=%s table_id=%s mobility=%s', p_booking_id, v_t.id, v_t.mobility),
                      HINT = 'Assign a fixed table on its own.';
        END IF;
        seats := seats + v_t.capacity;
    END LOOP;
    IF v_n < cardinality(p_table_ids) THEN
        SELECT x INTO v_missing FROM unnest(p_table_ids) AS x
        WHERE NOT EXISTS (SELECT 1 FROM table_inventory t WHERE t.restaurant_id = p_restaurant_id AND t.id = x)
        ORDER BY x LIMIT 1;
        SELECT t.restaurant_id INTO v_other FROM table_inventory t WHERE t.id = v_missing LIMIT 1;
        IF v_other IS NOT NULL THEN
            RAISE EXCEPTION 'table % belongs to another restaurant', v_missing
                USING ERRCODE = 'TAV04',
                      DETAIL = format('booking_id=%s table_id=%s restaurant_id=%s table_restaurant_id=%s',
                                      p_booking_id, v_missing, p_restaurant_id, v_other),
                      HINT = 'Choose tables of the booking''s restaurant.';
        END IF;
        RAISE EXCEPTION 'table % does not exist', v_missing
            USING ERRCODE = 'TAV03',
                  DETAIL = format('booking_id=%s table_id=%s restaurant_id=%s', p_booking_id, v_missing,
                                  p_restaurant_id),
                  HINT = 'Check the table ids.';
    END IF;
END
$$;

-- Validate a [start, end) window given as two optional bounds; both NULL means "use the default".
CREATE FUNCTION check_window(p_start_at timestamptz, p_end_at timestamptz, p_subject text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public AS $$
BEGIN
    IF (p_start_at IS NULL) <> (p_end_at IS NULL) THEN
        RAISE EXCEPTION 'start and end must be given together'
            USING ERRCODE = 'TAV02',
                  DETAIL = format('%s start_at=%s end_at=%s', p_subject, iso(p_start_at), iso(p_end_at)),
                  HINT = 'Pass both bounds, or neither to use the booking''s window.';
    END IF;
    IF p_start_at >= p_end_at THEN
        RAISE EXCEPTION 'window [%, %) is empty or reversed', p_start_at, p_end_at
            USING ERRCODE = 'TAV02',
                  DETAIL = format('%s start_at=%s end_at=%s', p_subject, iso(p_start_at), iso(p_end_at)),
                  HINT = 'The start must be before the end.';
    END IF;
END
$$;

CREATE FUNCTION invalid_argument(p_message text, p_detail text, p_hint text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public AS $$
BEGIN
    RAISE EXCEPTION '%', p_message USING ERRCODE = 'TAV09', DETAIL = p_detail, HINT = p_hint;
END
$$;

-- Lock a booking row (FOR UPDATE OF the booking only; the restaurant row is never locked) and return it.
CREATE FUNCTION lock_booking(p_booking_id uuid, p_restaurant_id uuid DEFAULT NULL) RETURNS bookings
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_b bookings;
BEGIN
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    SELECT b.* INTO v_b FROM bookings b
    WHERE b.id = p_booking_id AND (p_restaurant_id IS NULL OR b.restaurant_id = p_restaurant_id)
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01',
                  DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                  COALESCE(p_restaurant_id::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    IF booking_status_is_terminal(v_b.status) THEN
        RAISE EXCEPTION 'booking % is %, it cannot hold tables', v_b.id, v_b.status
            USING ERRCODE = 'TAC06',
                  DETAIL = format('booking_id=%s restaurant_id=%s status=%s', v_b.id, v_b.restaurant_id, v_b.status),
                  HINT = 'Only live bookings can be assigned; change the status first.';
    END IF;
    RETURN v_b;
END
$$;

-- Consume (confirm) every active hold of the booking: its tables are now assigned, so the hold must stop blocking.
CREATE FUNCTION consume_booking_holds(p_restaurant_id uuid, p_booking_id uuid, p_status table_hold_status)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_ids uuid[];
BEGIN
    WITH done AS (
        UPDATE table_holds h SET status = p_status, last_touched_at = now()
        WHERE h.restaurant_id = p_restaurant_id AND h.booking_id = p_booking_id AND h.status = 'active'
        RETURNING h.id
    )
    SELECT array_agg(done.id) INTO v_ids FROM done;
    IF v_ids IS NOT NULL THEN
        DELETE FROM table_hold_members m WHERE m.restaurant_id = p_restaurant_id AND m.hold_id = ANY (v_ids);
    END IF;
END
$$;

CREATE FUNCTION assign_tables_atomic_v2(
    p_booking_id uuid,
    p_table_ids uuid[],
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL,
    p_start_at timestamptz DEFAULT NULL,
    p_end_at timestamptz DEFAULT NULL
) RETURNS TABLE(table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_b bookings;
    v_start timestamptz;
    v_end timestamptz;
    v_window tstzrange;
    v_lock record;
    v_ledger booking_assignment_idempotency;
    v_field text;
    v_stored text;
    v_given text;
    v_current record;
    v_merge uuid;
    v_unreached uuid[];
BEGIN
    -- 1. input, before any read or lock
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    v_ids := normalize_table_ids(p_table_ids);
    PERFORM check_window(p_start_at, p_end_at, format('booking_id=%s', p_booking_id));
    IF p_idempotency_key IS NOT NULL AND btrim(p_idempotency_key) = '' THEN
        PERFORM invalid_argument('an idempotency key must not be blank',
                                 format('booking_id=%s idempotency_key=''%s''', p_booking_id, p_idempotency_key),
                                 'Pass NULL for no key.');
    END IF;

    -- 2. a key in flight elsewhere is refused at once, never waited for (and never written twice)
    IF p_idempotency_key IS NOT NULL
       AND NOT pg_try_advisory_xact_lock(hashtextextended(
               'tablemend.assign:' || p_booking_id::text || ':' || p_idempotency_key, 0)) THEN
        RAISE EXCEPTION 'idempotency key % for booking % is in use by another transaction', p_idempotency_key,
            p_booking_id
            USING ERRCODE = 'TAC04',
                  DETAIL = format('booking_id=%s idempotency_key=%s', p_booking_id, p_idempotency_key),
                  HINT = 'Retry after the other call finishes; it will return the same result.';
    END IF;

    -- 3. lock order: booking row, then tables by id
    v_b := lock_booking(p_booking_id);
    v_start := COALESCE(p_start_at, v_b.start_at);
    v_end := COALESCE(p_end_at, v_b.end_at);
    v_window := tstzrange(v_start, v_end, '[)');

    -- 4. replay: the same key and request return the booking's current assignment, which the ledger row describes
    --    exactly (any change to the assignment deletes the ledger rows, a deferred check refuses stale ones)
    IF p_idempotency_key IS NOT NULL THEN
        SELECT l.* INTO v_ledger FROM booking_assignment_idempotency l
        WHERE l.restaurant_id = v_b.restaurant_id AND l.booking_id = p_booking_id
          AND l.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            SELECT f.name, f.stored, f.given INTO v_field, v_stored, v_given
            FROM (VALUES (1, 'table_ids', array_to_string(v_ledger.table_ids, ','), array_to_string(v_ids, ',')),
                         (2, 'start_at', iso(v_ledger.request_start_at), iso(p_start_at)),
                         (3, 'end_at', iso(v_ledger.request_end_at), iso(p_end_at)),
                         (4, 'require_adjacency', v_ledger.require_adjacency::text,
                          COALESCE(p_require_adjacency, false)::text),
                         (5, 'assigned_by', v_ledger.assigned_by::text, p_assigned_by::text))
                 AS f(pos, name, stored, given)
            WHERE f.stored IS DISTINCT FROM f.given
            ORDER BY f.pos LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'idempotency key % of booking % was used for a different request (%)',
                    p_idempotency_key, p_booking_id, v_field
                    USING ERRCODE = 'TAC03',
                          DETAIL = format('booking_id=%s idempotency_key=%s field=%s stored=%s given=%s',
                                          p_booking_id, p_idempotency_key, v_field, COALESCE(v_stored, 'NULL'),
                                          COALESCE(v_given, 'NULL')),
                          HINT = 'Use a new idempotency key for a different request.';
            END IF;
            RETURN QUERY
                SELECT a.table_id, a.start_at, a.end_at, a.merge_group_id
                FROM booking_table_assignments a
                WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id
                ORDER BY a.table_id;
            RETURN;
        END IF;
    END IF;

    -- the booking's current rows (stable: the booking row is locked, and only its holder writes them)
    SELECT array_agg(a.table_id ORDER BY a.table_id) AS ids, min(a.start_at) AS s, max(a.end_at) AS e,
           bool_and(a.start_at = v_start AND a.end_at = v_end) AS same_window, min(a.merge_group_id::text) AS mg
    INTO v_current
    FROM booking_table_assignments a
    WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id;
    -- a replacement deletes rows on its old tables: those are locked too, in the same id order, or two
    -- replacements could each wait in the exclusion check for the other's uncommitted delete (deadlock)
    IF v_current.ids IS NOT NULL AND NOT v_current.ids <@ v_ids THEN
        PERFORM 1 FROM table_inventory t
        WHERE t.restaurant_id = v_b.restaurant_id AND t.id = ANY (v_current.ids || v_ids)
        ORDER BY t.id
        FOR NO KEY UPDATE OF t;
    END IF;

    -- 5. tables: locked, same restaurant, active, one zone, movable when combined
    v_lock := lock_assignable_tables(v_b.restaurant_id, p_booking_id, v_ids);

    -- 6. adjacency: the chosen tables must form one connected group
    IF COALESCE(p_require_adjacency, false) AND cardinality(v_ids) > 1 THEN
        WITH RECURSIVE reach(id) AS (
            SELECT v_ids[1]
            UNION
            SELECT CASE WHEN e.table_a = r.id THEN e.table_b ELSE e.table_a END
            FROM reach r
            JOIN table_adjacencies e ON e.restaurant_id = v_b.restaurant_id
                 AND (e.table_a = r.id OR e.table_b = r.id)
            WHERE e.table_a = ANY (v_ids) AND e.table_b = ANY (v_ids)
        )
        SELECT array_agg(x ORDER BY x) INTO v_unreached
        FROM unnest(v_ids) AS x WHERE x NOT IN (SELECT reach.id FROM reach);
        IF v_unreached IS NOT NULL THEN
            RAISE EXCEPTION 'tables % are not connected to table % by adjacency', v_unreached, v_ids[1]
                USING ERRCODE = 'TAV08',
                      DETAIL = format('booking_id=%s table_id=%s unreachable_table_ids=%s', p_booking_id, v_ids[1],
                                      array_to_string(v_unreached, ',')),
                      HINT = 'Choose tables that form one connected group, or do not require adjacency.';
        END IF;
    END IF;

    -- 7. capacity: the tables must seat the party
    IF v_lock.seats < v_b.party_size THEN
        RAISE EXCEPTION 'tables seat %, booking % has a party of %', v_lock.seats, p_booking_id, v_b.party_size
            USING ERRCODE = 'TAC05',
                  DETAIL = format('booking_id=%s table_ids=%s seats=%s party_size=%s', p_booking_id,
                                  array_to_string(v_ids, ','), v_lock.seats, v_b.party_size),
                  HINT = 'Add tables or choose larger ones.';
    END IF;

    -- 8. holds of other bookings (or unowned) block until they expire; expired holds never block
    PERFORM raise_if_held(v_b.restaurant_id, p_booking_id, v_ids, v_window);

    -- 9. occupancy, checked before anything is written: a refusal then never aborts a transaction that already
    --    deleted the booking's previous rows (on PostgreSQL 18.6 aborted deletes were followed by lost GiST entries,
    --    docs/allocator.md §7). The exclusion constraint stays the guarantee (see the handler below).
    PERFORM raise_if_table_occupied(v_b.restaurant_id, p_booking_id, v_ids, v_window);

    -- 10. write: the same tables and window are kept as they are; anything else replaces the previous set
    IF v_current.ids IS NOT NULL AND v_current.ids = v_ids AND v_current.same_window THEN
        v_merge := v_current.mg::uuid;
    ELSE
        IF v_current.ids IS NOT NULL THEN
            PERFORM set_config('tablemend.release_reason', 'replaced', true);
            DELETE FROM booking_table_assignments a
            WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id;
            PERFORM set_config('tablemend.release_reason', '', true);
        END IF;
        UPDATE bookings b SET assigned_zone_id = v_lock.zone_id, updated_at = now()
        WHERE b.restaurant_id = v_b.restaurant_id AND b.id = p_booking_id
          AND b.assigned_zone_id IS DISTINCT FROM v_lock.zone_id;
        v_merge := CASE WHEN cardinality(v_ids) > 1 THEN gen_random_uuid() END;
        BEGIN
            INSERT INTO booking_table_assignments AS a (
                restaurant_id, booking_id, table_id, zone_id, start_at, end_at, merge_group_id, idempotency_key,
                assigned_by)
            SELECT v_b.restaurant_id, p_booking_id, x, v_lock.zone_id, v_start, v_end, v_merge, p_idempotency_key,
                   p_assigned_by
            FROM unnest(v_ids) AS x;
        EXCEPTION WHEN exclusion_violation THEN
            -- a writer that bypassed the table locks won the race: name the blocker the same way
            PERFORM raise_if_table_occupied(v_b.restaurant_id, p_booking_id, v_ids, v_window);
            RAISE;
        END;
    END IF;
    PERFORM consume_booking_holds(v_b.restaurant_id, p_booking_id, 'confirmed');

    -- 11. ledger: written after the rows it describes, checked again at commit
    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO booking_assignment_idempotency (
            restaurant_id, booking_id, idempotency_key, table_ids, request_start_at, request_end_at,
            require_adjacency, assigned_by, request_fingerprint, start_at, end_at, merge_group_id)
        VALUES (v_b.restaurant_id, p_booking_id, p_idempotency_key, v_ids, p_start_at, p_end_at,
                COALESCE(p_require_adjacency, false), p_assigned_by,
                md5(concat_ws('|', array_to_string(v_ids, ','), p_start_at, p_end_at,
                              COALESCE(p_require_adjacency, false), p_assigned_by)),
                v_start, v_end, v_merge);
    END IF;

    RETURN QUERY
        SELECT x, v_start, v_end, v_merge FROM unnest(v_ids) AS x ORDER BY x;
END
$$;

CREATE FUNCTION unassign_tables_atomic(p_booking_id uuid, p_table_ids uuid[] DEFAULT NULL)
RETURNS TABLE(table_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_restaurant uuid;
    v_left integer;
BEGIN
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    IF p_table_ids IS NOT NULL THEN
        v_ids := normalize_table_ids(p_table_ids);
    END IF;
    -- terminal bookings hold nothing, so only existence is required here (not lock_booking's liveness)
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b WHERE b.id = p_booking_id FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=any', p_booking_id),
                  HINT = 'Check the booking id.';
    END IF;
    -- lock the tables whose rows go (id order), so a concurrent assign never waits on our delete while holding one
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = v_restaurant
      AND t.id IN (SELECT a.table_id FROM booking_table_assignments a
                   WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id
                     AND (v_ids IS NULL OR a.table_id = ANY (v_ids)))
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    PERFORM set_config('tablemend.release_reason', 'unassigned', true);
    RETURN QUERY
        WITH gone AS (
            DELETE FROM booking_table_assignments a
            WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id
              AND (v_ids IS NULL OR a.table_id = ANY (v_ids))
            RETURNING a.table_id
        )
        SELECT gone.table_id FROM gone ORDER BY gone.table_id;
    PERFORM set_config('tablemend.release_reason', '', true);
    -- a single table left over is no longer a merge group
    SELECT count(*) INTO v_left FROM booking_table_assignments a
    WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id;
    IF v_left = 1 THEN
        UPDATE booking_table_assignments a SET merge_group_id = NULL, updated_at = now()
        WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id AND a.merge_group_id IS NOT NULL;
    END IF;
END
$$;

-- --- holds --------------------------------------------------------------------------------------------------------

CREATE FUNCTION create_table_hold(
    p_restaurant_id uuid,
    p_table_ids uuid[],
    p_start_at timestamptz,
    p_end_at timestamptz,
    p_expires_at timestamptz,
    p_booking_id uuid DEFAULT NULL,
    p_created_by uuid DEFAULT NULL,
    p_metadata jsonb DEFAULT '{}'::jsonb
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_lock record;
    v_window tstzrange;
    v_stale uuid[];
    v_id uuid;
BEGIN
    IF p_restaurant_id IS NULL THEN
        PERFORM invalid_argument('a restaurant id is required', 'restaurant_id=NULL', 'Pass p_restaurant_id.');
    END IF;
    v_ids := normalize_table_ids(p_table_ids);
    IF p_start_at IS NULL OR p_end_at IS NULL THEN
        PERFORM invalid_argument('a hold needs a window',
                                 format('restaurant_id=%s start_at=%s end_at=%s', p_restaurant_id,
                                        iso(p_start_at), iso(p_end_at)),
                                 'Pass p_start_at and p_end_at.');
    END IF;
    PERFORM check_window(p_start_at, p_end_at, format('restaurant_id=%s', p_restaurant_id));
    IF p_expires_at IS NULL OR p_expires_at <= now() THEN
        PERFORM invalid_argument('a hold must expire in the future',
                                 format('restaurant_id=%s expires_at=%s', p_restaurant_id, iso(p_expires_at)),
                                 'Pass an expiry later than now.');
    END IF;
    v_window := tstzrange(p_start_at, p_end_at, '[)');
    IF p_booking_id IS NOT NULL THEN
        PERFORM lock_booking(p_booking_id, p_restaurant_id);
    END IF;
    v_lock := lock_assignable_tables(p_restaurant_id, p_booking_id, v_ids);

    -- expired holds on these tables are retired now, so they never block (their members would trip the constraint)
    WITH stale AS (
        UPDATE table_holds h SET status = 'expired', last_touched_at = now()
        WHERE h.restaurant_id = p_restaurant_id AND h.status = 'active' AND h.expires_at <= now()
          AND h.id IN (SELECT m.hold_id FROM table_hold_members m
                       WHERE m.restaurant_id = p_restaurant_id AND m.table_id = ANY (v_ids))
        RETURNING h.id
    )
    SELECT array_agg(stale.id) INTO v_stale FROM stale;
    IF v_stale IS NOT NULL THEN
        DELETE FROM table_hold_members m WHERE m.restaurant_id = p_restaurant_id AND m.hold_id = ANY (v_stale);
    END IF;
    -- a booking's new hold replaces its earlier ones (a re-quote)
    IF p_booking_id IS NOT NULL THEN
        PERFORM consume_booking_holds(p_restaurant_id, p_booking_id, 'cancelled');
    END IF;

    PERFORM raise_if_held(p_restaurant_id, p_booking_id, v_ids, v_window);
    PERFORM raise_if_table_occupied(p_restaurant_id, p_booking_id, v_ids, v_window);

    INSERT INTO table_holds (restaurant_id, booking_id, zone_id, start_at, end_at, expires_at, created_by, metadata)
    VALUES (p_restaurant_id, p_booking_id, v_lock.zone_id, p_start_at, p_end_at, p_expires_at, p_created_by,
            COALESCE(p_metadata, '{}'::jsonb))
    RETURNING id INTO v_id;
    INSERT INTO table_hold_members (restaurant_id, hold_id, table_id, start_at, end_at)
    SELECT p_restaurant_id, v_id, x, p_start_at, p_end_at FROM unnest(v_ids) AS x;
    RETURN v_id;
END
$$;

-- Lock one hold by id; TAN02 when missing.
CREATE FUNCTION lock_hold(p_hold_id uuid) RETURNS table_holds
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_h table_holds;
BEGIN
    IF p_hold_id IS NULL THEN
        PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
    END IF;
    SELECT h.* INTO v_h FROM table_holds h WHERE h.id = p_hold_id FOR UPDATE OF h;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    RETURN v_h;
END
$$;

CREATE FUNCTION raise_hold_not_active(p_h table_holds) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    v_state text := CASE WHEN p_h.status = 'active' THEN 'expired' ELSE p_h.status::text END;
BEGIN
    RAISE EXCEPTION 'hold % is %', p_h.id, v_state
        USING ERRCODE = 'TAC07',
              DETAIL = format('hold_id=%s booking_id=%s status=%s expires_at=%s', p_h.id,
                              COALESCE(p_h.booking_id::text, 'NULL'), v_state, iso(p_h.expires_at)),
              HINT = 'Create a new hold.';
END
$$;

CREATE FUNCTION extend_table_hold(p_hold_id uuid, p_expires_at timestamptz) RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
DECLARE
    v_h table_holds;
BEGIN
    v_h := lock_hold(p_hold_id);
    IF p_expires_at IS NULL OR p_expires_at <= now() THEN
        PERFORM invalid_argument('a hold must expire in the future',
                                 format('hold_id=%s expires_at=%s', p_hold_id, iso(p_expires_at)),
                                 'Pass an expiry later than now.');
    END IF;
    -- an expired hold stopped blocking when it expired, so someone may have the tables now: it cannot come back
    IF v_h.status <> 'active' OR v_h.expires_at <= now() THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    UPDATE table_holds h SET expires_at = p_expires_at, last_touched_at = now()
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    RETURN p_expires_at;
END
$$;

-- Release an active hold; false when it was already released, confirmed or expired (releasing twice is harmless).
CREATE FUNCTION release_table_hold(p_hold_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
DECLARE
    v_h table_holds;
BEGIN
    v_h := lock_hold(p_hold_id);
    IF v_h.status <> 'active' THEN
        RETURN false;
    END IF;
    UPDATE table_holds h
    SET status = CASE WHEN h.expires_at <= now() THEN 'expired'::table_hold_status ELSE 'cancelled' END,
        last_touched_at = now()
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    DELETE FROM table_hold_members m WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id;
    RETURN v_h.expires_at > now();
END
$$;

-- Assign exactly the hold's tables over the hold's window to its booking, and consume the hold.
CREATE FUNCTION confirm_hold_assignment(
    p_hold_id uuid,
    p_booking_id uuid DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL
) RETURNS TABLE(table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_h table_holds;
    v_booking uuid;
    v_ids uuid[];
    v_current uuid[];
BEGIN
    IF p_hold_id IS NULL THEN
        PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
    END IF;
    -- read without a lock to learn the booking: the lock order is booking, then hold, then tables
    SELECT h.* INTO v_h FROM table_holds h WHERE h.id = p_hold_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    IF v_h.booking_id IS NOT NULL AND p_booking_id IS NOT NULL AND v_h.booking_id <> p_booking_id THEN
        RAISE EXCEPTION 'hold % belongs to booking %, not %', p_hold_id, v_h.booking_id, p_booking_id
            USING ERRCODE = 'TAC08',
                  DETAIL = format('hold_id=%s hold_booking_id=%s booking_id=%s', p_hold_id, v_h.booking_id,
                                  p_booking_id),
                  HINT = 'Confirm the hold for its own booking.';
    END IF;
    v_booking := COALESCE(v_h.booking_id, p_booking_id);
    IF v_booking IS NULL THEN
        PERFORM invalid_argument('hold has no booking; pass p_booking_id', format('hold_id=%s booking_id=NULL',
                                 p_hold_id), 'Pass the booking the hold is for.');
    END IF;
    PERFORM lock_booking(v_booking, v_h.restaurant_id);
    -- every writer's lock order is booking, tables by id, then hold rows (create_table_hold retires expired holds
    -- while holding the tables): lock the hold's tables before the hold itself
    -- (all of them at once: the hold's tables and the booking's current ones, which the assignment will replace)
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = v_h.restaurant_id
      AND t.id IN (SELECT m.table_id FROM table_hold_members m
                   WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id
                   UNION ALL
                   SELECT a.table_id FROM booking_table_assignments a
                   WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking)
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    v_h := lock_hold(p_hold_id);
    IF v_h.booking_id IS NOT NULL AND v_h.booking_id <> v_booking THEN  -- claimed meanwhile
        RAISE EXCEPTION 'hold % belongs to booking %, not %', p_hold_id, v_h.booking_id, v_booking
            USING ERRCODE = 'TAC08',
                  DETAIL = format('hold_id=%s hold_booking_id=%s booking_id=%s', p_hold_id, v_h.booking_id,
                                  v_booking),
                  HINT = 'Confirm the hold for its own booking.';
    END IF;
    IF v_h.status = 'confirmed' THEN
        -- a retried confirm: answer with the assignment it made, if that is still the booking's assignment
        SELECT array_agg(a.table_id ORDER BY a.table_id) INTO v_current
        FROM booking_table_assignments a
        WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking
          AND a.start_at = v_h.start_at AND a.end_at = v_h.end_at;
        IF v_current IS NOT NULL AND v_h.metadata ? 'confirmed_table_ids'
           AND v_current = ARRAY(SELECT jsonb_array_elements_text(v_h.metadata -> 'confirmed_table_ids')::uuid
                                 ORDER BY 1) THEN
            RETURN QUERY
                SELECT a.table_id, a.start_at, a.end_at, a.merge_group_id FROM booking_table_assignments a
                WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking ORDER BY a.table_id;
            RETURN;
        END IF;
        PERFORM raise_hold_not_active(v_h);
    END IF;
    IF v_h.status <> 'active' OR v_h.expires_at <= now() THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    SELECT array_agg(m.table_id ORDER BY m.table_id) INTO v_ids FROM table_hold_members m
    WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id;
    IF v_ids IS NULL THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    -- claim an unowned hold so the allocator treats it as the booking's own (and consumes it)
    UPDATE table_holds h
    SET booking_id = v_booking,
        metadata = h.metadata || jsonb_build_object('confirmed_table_ids', to_jsonb(v_ids))
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    RETURN QUERY
        SELECT r.table_id, r.start_at, r.end_at, r.merge_group_id
        FROM assign_tables_atomic_v2(v_booking, v_ids, p_idempotency_key, p_require_adjacency, p_assigned_by,
                                     v_h.start_at, v_h.end_at) AS r;
END
$$;

-- Change a booking's status; the bookings trigger releases everything when the new status is terminal.
CREATE FUNCTION set_booking_status(p_booking_id uuid, p_status booking_status) RETURNS booking_status
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
DECLARE
    v_old booking_status;
    v_restaurant uuid;
BEGIN
    IF p_booking_id IS NULL OR p_status IS NULL THEN
        PERFORM invalid_argument('a booking id and a status are required',
                                 format('booking_id=%s status=%s', COALESCE(p_booking_id::text, 'NULL'),
                                        COALESCE(p_status::text, 'NULL')),
                                 'Pass p_booking_id and p_status.');
    END IF;
    SELECT b.status, b.restaurant_id INTO v_old, v_restaurant FROM bookings b WHERE b.id = p_booking_id
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=any', p_booking_id),
                  HINT = 'Check the booking id.';
    END IF;
    UPDATE bookings b SET status = p_status, updated_at = now()
    WHERE b.restaurant_id = v_restaurant AND b.id = p_booking_id AND b.status IS DISTINCT FROM p_status;
    RETURN v_old;
END
$$;

-- === 0003_security ===
-- tablemend's security layer (docs/security.md): bounded input, tenant scope in the SECURITY DEFINER functions,
-- row-level security on every tenant table, search_path with pg_temp last on every function, nothing executable by
-- PUBLIC. Roles, ownership and grants name configurable roles, so tablemend.security creates them from Python.

-- --- bounded input ----------------------------------------------------------------------------------------------------

-- Every input limit, in one place (tablemend/limits.py holds the same values; a test keeps them equal).
CREATE FUNCTION input_limits(
    OUT window_earliest timestamptz, OUT window_latest timestamptz, OUT window_max_length interval,
    OUT hold_max_ttl interval, OUT idempotency_key_max_length integer, OUT table_ids_max integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT '2000-01-01T00:00:00Z'::timestamptz, '2100-01-01T00:00:00Z'::timestamptz, interval '24 hours',
           interval '1 hour', 256, 64
$$;

-- A window must be finite, inside [window_earliest, window_latest] and at most window_max_length long (TAV10).
CREATE FUNCTION check_window_bounds(p_start_at timestamptz, p_end_at timestamptz, p_subject text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_lim record;
    v_field text;
    v_value timestamptz;
    v_limit text;
BEGIN
    IF p_start_at IS NULL OR p_end_at IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO v_lim FROM input_limits();
    IF NOT isfinite(p_start_at) OR p_start_at < v_lim.window_earliest THEN
        v_field := 'start_at'; v_value := p_start_at; v_limit := 'earliest=' || iso(v_lim.window_earliest);
    ELSIF NOT isfinite(p_end_at) OR p_end_at > v_lim.window_latest THEN
        v_field := 'end_at'; v_value := p_end_at; v_limit := 'latest=' || iso(v_lim.window_latest);
    ELSIF p_end_at - p_start_at > v_lim.window_max_length THEN
        v_field := 'window'; v_value := p_end_at; v_limit := 'max_length=' || v_lim.window_max_length::text;
    ELSE
        RETURN;
    END IF;
    RAISE EXCEPTION '% is out of range', v_field
        USING ERRCODE = 'TAV10',
              DETAIL = format('%s field=%s start_at=%s end_at=%s %s', p_subject, v_field,
                              CASE WHEN isfinite(p_start_at) THEN iso(p_start_at) ELSE p_start_at::text END,
                              CASE WHEN isfinite(p_end_at) THEN iso(p_end_at) ELSE p_end_at::text END, v_limit),
              HINT = format('Windows lie between %s and %s and last at most %s.', iso(v_lim.window_earliest),
                            iso(v_lim.window_latest), v_lim.window_max_length);
END
$$;

-- A hold's expiry: in the future (TAV09) and at most hold_max_ttl from now (TAV11).
CREATE FUNCTION check_hold_expiry(p_expires_at timestamptz, p_subject text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_max interval := (input_limits()).hold_max_ttl;
BEGIN
    IF p_expires_at IS NULL OR p_expires_at <= now() THEN
        PERFORM invalid_argument('a hold must expire in the future',
                                 format('%s expires_at=%s', p_subject, iso(p_expires_at)),
                                 'Pass an expiry later than now.');
    END IF;
    IF p_expires_at > now() + v_max THEN
        RAISE EXCEPTION 'a hold may expire at most % from now', v_max
            USING ERRCODE = 'TAV11',
                  DETAIL = format('%s field=expires_at expires_at=%s max_ttl=%s', p_subject,
                                  CASE WHEN isfinite(p_expires_at) THEN iso(p_expires_at) ELSE p_expires_at::text END,
                                  v_max),
                  HINT = 'Pass a shorter expiry, and extend the hold while it is needed.';
    END IF;
END
$$;

-- An idempotency key: NULL, or not blank (TAV09) and at most idempotency_key_max_length characters (TAV12).
CREATE FUNCTION check_idempotency_key(p_key text, p_subject text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_max integer := (input_limits()).idempotency_key_max_length;
BEGIN
    IF p_key IS NULL THEN
        RETURN;
    END IF;
    IF char_length(p_key) > v_max THEN
        RAISE EXCEPTION 'an idempotency key may have at most % characters', v_max
            USING ERRCODE = 'TAV12',
                  DETAIL = format('%s field=idempotency_key length=%s max_length=%s', p_subject,
                                  char_length(p_key), v_max),
                  HINT = 'Use a shorter key, such as a UUID.';
    END IF;
    IF btrim(p_key) = '' THEN
        PERFORM invalid_argument('an idempotency key must not be blank',
                                 format('%s idempotency_key=''%s''', p_subject, p_key), 'Pass NULL for no key.');
    END IF;
END
$$;

-- --- tenant scope -----------------------------------------------------------------------------------------------------

-- The caller's restaurant: the transaction setting tablemend.restaurant_id (set_config(..., true)), NULL when unset
-- or empty, TAF02 when it is not a canonical uuid. Row-level security and the definer functions key on it.
CREATE FUNCTION tenant_scope() RETURNS uuid
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_text text := current_setting('tablemend.restaurant_id', true);
BEGIN
    IF v_text IS NULL OR v_text = '' THEN
        RETURN NULL;
    END IF;
    IF v_text !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
        RAISE EXCEPTION 'tablemend.restaurant_id is not a uuid'
            USING ERRCODE = 'TAF02',
                  DETAIL = format('setting=tablemend.restaurant_id length=%s', char_length(v_text)),
                  HINT = 'Set it to the restaurant''s uuid, e.g. set_config(''tablemend.restaurant_id'', '
                         '''0b0e3c1e-5f1a-4c55-9d2a-7e8f4a1b2c3d'', true).';
    END IF;
    RETURN v_text::uuid;
END
$$;

-- The scope a public function runs under. Unscoped calls are refused (TAF01) unless the login itself could see every
-- restaurant anyway: a superuser, a BYPASSRLS role, or a member of the functions' owner role. Called from the
-- SECURITY DEFINER functions, where current_user is their owner and session_user the login that called them.
CREATE FUNCTION require_scope(p_function text) RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_scope uuid := tenant_scope();
BEGIN
    IF v_scope IS NULL
       AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = session_user AND (r.rolsuper OR r.rolbypassrls))
       AND NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
        RAISE EXCEPTION '% needs a restaurant scope', p_function
            USING ERRCODE = 'TAF01',
                  DETAIL = format('function=%s setting=tablemend.restaurant_id', p_function),
                  HINT = 'Call set_config(''tablemend.restaurant_id'', <restaurant uuid>, true) in the same '
                         'transaction first.';
    END IF;
    RETURN v_scope;
END
$$;

-- --- functions: bounds, scope, pg_temp last ----------------------------------------------------------------------------
-- The same functions as 0002 with: search_path pg_catalog, public, pg_temp (a temporary table can no longer shadow
-- one of tablemend's); the public ones start with require_scope() and see only the scope's bookings, holds and tables
-- (another restaurant's id is "not found", so its existence does not leak); bounded windows, keys, arrays, expiries.

CREATE OR REPLACE FUNCTION raise_if_table_occupied(p_restaurant_id uuid, p_booking_id uuid, p_table_ids uuid[],
                                        p_window tstzrange) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_row record;
BEGIN
    -- One btree probe per table: rows of one table never overlap (the exclusion constraint), so ordered by end the
    -- first row of another booking ending after our start is the only candidate; it overlaps iff it starts before
    -- our end. (The gist index cannot take "table_id = ANY (...)" as an index condition.)
    SELECT a.booking_id, a.table_id, a.assignment_window INTO v_row
    FROM unnest(p_table_ids) AS x(id)
    CROSS JOIN LATERAL (
        SELECT o.booking_id, o.table_id, o.assignment_window, o.start_at
        FROM booking_table_assignments o
        WHERE o.restaurant_id = p_restaurant_id AND o.table_id = x.id AND o.end_at > lower(p_window)
          AND o.assignment_window && p_window  -- redundant for the btree, lets the gist index bound its scan too
          AND o.booking_id IS DISTINCT FROM p_booking_id
        ORDER BY o.end_at
        LIMIT 1
    ) a
    WHERE a.start_at < upper(p_window)
    ORDER BY a.table_id
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % is occupied by booking % over %', v_row.table_id, v_row.booking_id,
            v_row.assignment_window
            USING ERRCODE = 'TAC01',
                  DETAIL = format('booking_id=%s table_id=%s blocking_booking_id=%s window=%s requested_window=%s',
                                  COALESCE(p_booking_id::text, 'NULL'), v_row.table_id, v_row.booking_id, iso_window(v_row.assignment_window),
                                  iso_window(p_window)),
                  HINT = 'Choose other tables or another window, or release the blocking booking first.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION normalize_table_ids(p_table_ids uuid[]) RETURNS uuid[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_table_ids IS NULL OR cardinality(p_table_ids) = 0 OR array_position(p_table_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'at least one table id is required, and none may be NULL'
            USING ERRCODE = 'TAV01',
                  DETAIL = format('table_ids=%s', COALESCE(p_table_ids::text, 'NULL')),
                  HINT = 'Pass a non-empty array of table ids.';
    END IF;
    IF cardinality(p_table_ids) > (input_limits()).table_ids_max THEN
        RAISE EXCEPTION 'at most % table ids may be passed', (input_limits()).table_ids_max
            USING ERRCODE = 'TAV13',
                  DETAIL = format('field=table_ids count=%s max=%s', cardinality(p_table_ids),
                                  (input_limits()).table_ids_max),
                  HINT = 'Pass fewer tables.';
    END IF;
    RETURN ARRAY(SELECT DISTINCT x FROM unnest(p_table_ids) AS x ORDER BY x);
END
$$;

CREATE OR REPLACE FUNCTION lock_assignable_tables(p_restaurant_id uuid, p_booking_id uuid, p_table_ids uuid[],
                                       OUT zone_id uuid, OUT seats integer)
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_t record;
    v_n integer := 0;
    v_missing uuid;
    v_other uuid;
    v_multi boolean := cardinality(p_table_ids) > 1;
    v_zones integer;
    v_ok boolean;
BEGIN
    SELECT count(*), min(t.zone_id::text)::uuid, count(DISTINCT t.zone_id), sum(t.capacity),
           bool_and(t.active AND t.status <> 'out_of_service' AND (NOT v_multi OR t.mobility = 'movable'))
    INTO v_n, zone_id, v_zones, seats, v_ok
    FROM (SELECT t.zone_id, t.capacity, t.active, t.status, t.mobility
          FROM table_inventory t
          WHERE t.restaurant_id = p_restaurant_id AND t.id = ANY (p_table_ids)
          ORDER BY t.id
          FOR NO KEY UPDATE OF t) t;
    IF v_n = cardinality(p_table_ids) AND v_ok AND v_zones = 1 THEN
        RETURN;
    END IF;
    -- refused: walk the (already locked) rows in id order to name the first offending table
    v_n := 0;
    zone_id := NULL;
    seats := 0;
    FOR v_t IN
        SELECT t.id, t.zone_id, t.active, t.status, t.mobility, t.capacity
        FROM table_inventory t
        WHERE t.restaurant_id = p_restaurant_id AND t.id = ANY (p_table_ids)
        ORDER BY t.id
        FOR NO KEY UPDATE OF t
    LOOP
        v_n := v_n + 1;
        IF NOT v_t.active OR v_t.status = 'out_of_service' THEN
            RAISE EXCEPTION 'table % cannot be assigned (active=%, status=%)', v_t.id, v_t.active, v_t.status
                USING ERRCODE = 'TAV05',
                      DETAIL = format('booking_id=%s table_id=%s active=%s status=%s', p_booking_id, v_t.id,
                                      v_t.active, v_t.status),
                      HINT = 'Activate the table or choose another one.';
        END IF;
        IF zone_id IS NULL THEN
            zone_id := v_t.zone_id;
        ELSIF zone_id <> v_t.zone_id THEN
            RAISE EXCEPTION 'tables % and % are in different zones', p_table_ids[1], v_t.id
                USING ERRCODE = 'TAV06',
                      DETAIL = format('booking_id=%s table_id=%s zone_id=%s expected_zone_id=%s', p_booking_id,
                                      v_t.id, v_t.zone_id, zone_id),
                      HINT = 'All tables of one booking must be in the same zone.';
        END IF;
        IF v_multi AND v_t.mobility <> 'movable' THEN
            RAISE EXCEPTION 'table % is fixed and cannot be combined with other tables', v_t.id
                USING ERRCODE = 'TAV07',
                      DETAIL = format('booking_id=%s table_id=%s mobility=%s', p_booking_id, v_t.id, v_t.mobility),
                      HINT = 'Assign a fixed table on its own.';
        END IF;
        seats := seats + v_t.capacity;
    END LOOP;
    IF v_n < cardinality(p_table_ids) THEN
        SELECT x INTO v_missing FROM unnest(p_table_ids) AS x
        WHERE NOT EXISTS (SELECT 1 FROM table_inventory t WHERE t.restaurant_id = p_restaurant_id AND t.id = x)
        ORDER BY x LIMIT 1;
        -- a scoped caller learns nothing of other restaurants: their table is unknown (TAV03)
        IF tenant_scope() IS NULL THEN
            SELECT t.restaurant_id INTO v_other FROM table_inventory t WHERE t.id = v_missing LIMIT 1;
        END IF;
        IF v_other IS NOT NULL THEN
            RAISE EXCEPTION 'table % belongs to another restaurant', v_missing
                USING ERRCODE = 'TAV04',
                      DETAIL = format('booking_id=%s table_id=%s restaurant_id=%s table_restaurant_id=%s',
                                      p_booking_id, v_missing, p_restaurant_id, v_other),
                      HINT = 'Choose tables of the booking''s restaurant.';
        END IF;
        RAISE EXCEPTION 'table % does not exist', v_missing
            USING ERRCODE = 'TAV03',
                  DETAIL = format('booking_id=%s table_id=%s restaurant_id=%s', p_booking_id, v_missing,
                                  p_restaurant_id),
                  HINT = 'Check the table ids.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION check_window(p_start_at timestamptz, p_end_at timestamptz, p_subject text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF (p_start_at IS NULL) <> (p_end_at IS NULL) THEN
        RAISE EXCEPTION 'start and end must be given together'
            USING ERRCODE = 'TAV02',
                  DETAIL = format('%s start_at=%s end_at=%s', p_subject, iso(p_start_at), iso(p_end_at)),
                  HINT = 'Pass both bounds, or neither to use the booking''s window.';
    END IF;
    IF p_start_at >= p_end_at THEN
        RAISE EXCEPTION 'window [%, %) is empty or reversed', p_start_at, p_end_at
            USING ERRCODE = 'TAV02',
                  DETAIL = format('%s start_at=%s end_at=%s', p_subject, iso(p_start_at), iso(p_end_at)),
                  HINT = 'The start must be before the end.';
    END IF;
    PERFORM check_window_bounds(p_start_at, p_end_at, p_subject);
END
$$;

CREATE OR REPLACE FUNCTION lock_booking(p_booking_id uuid, p_restaurant_id uuid DEFAULT NULL) RETURNS bookings
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_b bookings;
    -- the caller's scope narrows an unrestricted lookup: another restaurant's booking is "not found"
    v_restaurant uuid := COALESCE(p_restaurant_id, tenant_scope());
BEGIN
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    SELECT b.* INTO v_b FROM bookings b
    WHERE b.id = p_booking_id AND (v_restaurant IS NULL OR b.restaurant_id = v_restaurant)
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01',
                  DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                  COALESCE(v_restaurant::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    IF booking_status_is_terminal(v_b.status) THEN
        RAISE EXCEPTION 'booking % is %, it cannot hold tables', v_b.id, v_b.status
            USING ERRCODE = 'TAC06',
                  DETAIL = format('booking_id=%s restaurant_id=%s status=%s', v_b.id, v_b.restaurant_id, v_b.status),
                  HINT = 'Only live bookings can be assigned; change the status first.';
    END IF;
    RETURN v_b;
END
$$;

CREATE OR REPLACE FUNCTION assign_tables_atomic_v2(
    p_booking_id uuid,
    p_table_ids uuid[],
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL,
    p_start_at timestamptz DEFAULT NULL,
    p_end_at timestamptz DEFAULT NULL
) RETURNS TABLE(table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_b bookings;
    v_start timestamptz;
    v_end timestamptz;
    v_window tstzrange;
    v_lock record;
    v_ledger booking_assignment_idempotency;
    v_field text;
    v_stored text;
    v_given text;
    v_current record;
    v_merge uuid;
    v_unreached uuid[];
BEGIN
    PERFORM require_scope('assign_tables_atomic_v2');
    -- 1. input, before any read or lock
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    v_ids := normalize_table_ids(p_table_ids);
    PERFORM check_window(p_start_at, p_end_at, format('booking_id=%s', p_booking_id));
    PERFORM check_idempotency_key(p_idempotency_key, format('booking_id=%s', p_booking_id));

    -- 2. a key in flight elsewhere is refused at once, never waited for (and never written twice)
    IF p_idempotency_key IS NOT NULL
       AND NOT pg_try_advisory_xact_lock(hashtextextended(
               'tablemend.assign:' || p_booking_id::text || ':' || p_idempotency_key, 0)) THEN
        RAISE EXCEPTION 'idempotency key % for booking % is in use by another transaction', p_idempotency_key,
            p_booking_id
            USING ERRCODE = 'TAC04',
                  DETAIL = format('booking_id=%s idempotency_key=%s', p_booking_id, p_idempotency_key),
                  HINT = 'Retry after the other call finishes; it will return the same result.';
    END IF;

    -- 3. lock order: booking row, then tables by id
    v_b := lock_booking(p_booking_id);
    v_start := COALESCE(p_start_at, v_b.start_at);
    v_end := COALESCE(p_end_at, v_b.end_at);
    IF p_start_at IS NULL THEN
        -- the booking's own window, written directly to the table, is held to the same bounds
        PERFORM check_window_bounds(v_start, v_end, format('booking_id=%s', p_booking_id));
    END IF;
    v_window := tstzrange(v_start, v_end, '[)');

    -- 4. replay: the same key and request return the booking's current assignment, which the ledger row describes
    --    exactly (any change to the assignment deletes the ledger rows, a deferred check refuses stale ones)
    IF p_idempotency_key IS NOT NULL THEN
        SELECT l.* INTO v_ledger FROM booking_assignment_idempotency l
        WHERE l.restaurant_id = v_b.restaurant_id AND l.booking_id = p_booking_id
          AND l.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            SELECT f.name, f.stored, f.given INTO v_field, v_stored, v_given
            FROM (VALUES (1, 'table_ids', array_to_string(v_ledger.table_ids, ','), array_to_string(v_ids, ',')),
                         (2, 'start_at', iso(v_ledger.request_start_at), iso(p_start_at)),
                         (3, 'end_at', iso(v_ledger.request_end_at), iso(p_end_at)),
                         (4, 'require_adjacency', v_ledger.require_adjacency::text,
                          COALESCE(p_require_adjacency, false)::text),
                         (5, 'assigned_by', v_ledger.assigned_by::text, p_assigned_by::text))
                 AS f(pos, name, stored, given)
            WHERE f.stored IS DISTINCT FROM f.given
            ORDER BY f.pos LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'idempotency key % of booking % was used for a different request (%)',
                    p_idempotency_key, p_booking_id, v_field
                    USING ERRCODE = 'TAC03',
                          DETAIL = format('booking_id=%s idempotency_key=%s field=%s stored=%s given=%s',
                                          p_booking_id, p_idempotency_key, v_field, COALESCE(v_stored, 'NULL'),
                                          COALESCE(v_given, 'NULL')),
                          HINT = 'Use a new idempotency key for a different request.';
            END IF;
            RETURN QUERY
                SELECT a.table_id, a.start_at, a.end_at, a.merge_group_id
                FROM booking_table_assignments a
                WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id
                ORDER BY a.table_id;
            RETURN;
        END IF;
    END IF;

    -- the booking's current rows (stable: the booking row is locked, and only its holder writes them)
    SELECT array_agg(a.table_id ORDER BY a.table_id) AS ids, min(a.start_at) AS s, max(a.end_at) AS e,
           bool_and(a.start_at = v_start AND a.end_at = v_end) AS same_window, min(a.merge_group_id::text) AS mg
    INTO v_current
    FROM booking_table_assignments a
    WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id;
    -- a replacement deletes rows on its old tables: those are locked too, in the same id order, or two
    -- replacements could each wait in the exclusion check for the other's uncommitted delete (deadlock)
    IF v_current.ids IS NOT NULL AND NOT v_current.ids <@ v_ids THEN
        PERFORM 1 FROM table_inventory t
        WHERE t.restaurant_id = v_b.restaurant_id AND t.id = ANY (v_current.ids || v_ids)
        ORDER BY t.id
        FOR NO KEY UPDATE OF t;
    END IF;

    -- 5. tables: locked, same restaurant, active, one zone, movable when combined
    v_lock := lock_assignable_tables(v_b.restaurant_id, p_booking_id, v_ids);

    -- 6. adjacency: the chosen tables must form one connected group
    IF COALESCE(p_require_adjacency, false) AND cardinality(v_ids) > 1 THEN
        WITH RECURSIVE reach(id) AS (
            SELECT v_ids[1]
            UNION
            SELECT CASE WHEN e.table_a = r.id THEN e.table_b ELSE e.table_a END
            FROM reach r
            JOIN table_adjacencies e ON e.restaurant_id = v_b.restaurant_id
                 AND (e.table_a = r.id OR e.table_b = r.id)
            WHERE e.table_a = ANY (v_ids) AND e.table_b = ANY (v_ids)
        )
        SELECT array_agg(x ORDER BY x) INTO v_unreached
        FROM unnest(v_ids) AS x WHERE x NOT IN (SELECT reach.id FROM reach);
        IF v_unreached IS NOT NULL THEN
            RAISE EXCEPTION 'tables % are not connected to table % by adjacency', v_unreached, v_ids[1]
                USING ERRCODE = 'TAV08',
                      DETAIL = format('booking_id=%s table_id=%s unreachable_table_ids=%s', p_booking_id, v_ids[1],
                                      array_to_string(v_unreached, ',')),
                      HINT = 'Choose tables that form one connected group, or do not require adjacency.';
        END IF;
    END IF;

    -- 7. capacity: the tables must seat the party
    IF v_lock.seats < v_b.party_size THEN
        RAISE EXCEPTION 'tables seat %, booking % has a party of %', v_lock.seats, p_booking_id, v_b.party_size
            USING ERRCODE = 'TAC05',
                  DETAIL = format('booking_id=%s table_ids=%s seats=%s party_size=%s', p_booking_id,
                                  array_to_string(v_ids, ','), v_lock.seats, v_b.party_size),
                  HINT = 'Add tables or choose larger ones.';
    END IF;

    -- 8. holds of other bookings (or unowned) block until they expire; expired holds never block
    PERFORM raise_if_held(v_b.restaurant_id, p_booking_id, v_ids, v_window);

    -- 9. occupancy, checked before anything is written: a refusal then never aborts a transaction that already
    --    deleted the booking's previous rows (on PostgreSQL 18.6 aborted deletes were followed by lost GiST entries,
    --    docs/allocator.md §7). The exclusion constraint stays the guarantee (see the handler below).
    PERFORM raise_if_table_occupied(v_b.restaurant_id, p_booking_id, v_ids, v_window);

    -- 10. write: the same tables and window are kept as they are; anything else replaces the previous set
    IF v_current.ids IS NOT NULL AND v_current.ids = v_ids AND v_current.same_window THEN
        v_merge := v_current.mg::uuid;
    ELSE
        IF v_current.ids IS NOT NULL THEN
            PERFORM set_config('tablemend.release_reason', 'replaced', true);
            DELETE FROM booking_table_assignments a
            WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id;
            PERFORM set_config('tablemend.release_reason', '', true);
        END IF;
        UPDATE bookings b SET assigned_zone_id = v_lock.zone_id, updated_at = now()
        WHERE b.restaurant_id = v_b.restaurant_id AND b.id = p_booking_id
          AND b.assigned_zone_id IS DISTINCT FROM v_lock.zone_id;
        v_merge := CASE WHEN cardinality(v_ids) > 1 THEN gen_random_uuid() END;
        BEGIN
            INSERT INTO booking_table_assignments AS a (
                restaurant_id, booking_id, table_id, zone_id, start_at, end_at, merge_group_id, idempotency_key,
                assigned_by)
            SELECT v_b.restaurant_id, p_booking_id, x, v_lock.zone_id, v_start, v_end, v_merge, p_idempotency_key,
                   p_assigned_by
            FROM unnest(v_ids) AS x;
        EXCEPTION WHEN exclusion_violation THEN
            -- a writer that bypassed the table locks won the race: name the blocker the same way
            PERFORM raise_if_table_occupied(v_b.restaurant_id, p_booking_id, v_ids, v_window);
            RAISE;
        END;
    END IF;
    PERFORM consume_booking_holds(v_b.restaurant_id, p_booking_id, 'confirmed');

    -- 11. ledger: written after the rows it describes, checked again at commit
    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO booking_assignment_idempotency (
            restaurant_id, booking_id, idempotency_key, table_ids, request_start_at, request_end_at,
            require_adjacency, assigned_by, request_fingerprint, start_at, end_at, merge_group_id)
        VALUES (v_b.restaurant_id, p_booking_id, p_idempotency_key, v_ids, p_start_at, p_end_at,
                COALESCE(p_require_adjacency, false), p_assigned_by,
                md5(concat_ws('|', array_to_string(v_ids, ','), p_start_at, p_end_at,
                              COALESCE(p_require_adjacency, false), p_assigned_by)),
                v_start, v_end, v_merge);
    END IF;

    RETURN QUERY
        SELECT x, v_start, v_end, v_merge FROM unnest(v_ids) AS x ORDER BY x;
END
$$;

CREATE OR REPLACE FUNCTION unassign_tables_atomic(p_booking_id uuid, p_table_ids uuid[] DEFAULT NULL)
RETURNS TABLE(table_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_restaurant uuid;
    v_left integer;
    v_scope uuid;
BEGIN
    v_scope := require_scope('unassign_tables_atomic');
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    IF p_table_ids IS NOT NULL THEN
        v_ids := normalize_table_ids(p_table_ids);
    END IF;
    -- terminal bookings hold nothing, so only existence is required here (not lock_booking's liveness)
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b
    WHERE b.id = p_booking_id AND (v_scope IS NULL OR b.restaurant_id = v_scope)
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     COALESCE(v_scope::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    -- lock the tables whose rows go (id order), so a concurrent assign never waits on our delete while holding one
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = v_restaurant
      AND t.id IN (SELECT a.table_id FROM booking_table_assignments a
                   WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id
                     AND (v_ids IS NULL OR a.table_id = ANY (v_ids)))
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    PERFORM set_config('tablemend.release_reason', 'unassigned', true);
    RETURN QUERY
        WITH gone AS (
            DELETE FROM booking_table_assignments a
            WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id
              AND (v_ids IS NULL OR a.table_id = ANY (v_ids))
            RETURNING a.table_id
        )
        SELECT gone.table_id FROM gone ORDER BY gone.table_id;
    PERFORM set_config('tablemend.release_reason', '', true);
    -- a single table left over is no longer a merge group
    SELECT count(*) INTO v_left FROM booking_table_assignments a
    WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id;
    IF v_left = 1 THEN
        UPDATE booking_table_assignments a SET merge_group_id = NULL, updated_at = now()
        WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id AND a.merge_group_id IS NOT NULL;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION create_table_hold(
    p_restaurant_id uuid,
    p_table_ids uuid[],
    p_start_at timestamptz,
    p_end_at timestamptz,
    p_expires_at timestamptz,
    p_booking_id uuid DEFAULT NULL,
    p_created_by uuid DEFAULT NULL,
    p_metadata jsonb DEFAULT '{}'::jsonb
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_lock record;
    v_window tstzrange;
    v_stale uuid[];
    v_id uuid;
    v_scope uuid;
BEGIN
    v_scope := require_scope('create_table_hold');
    IF p_restaurant_id IS NULL THEN
        PERFORM invalid_argument('a restaurant id is required', 'restaurant_id=NULL', 'Pass p_restaurant_id.');
    END IF;
    IF v_scope IS NOT NULL AND p_restaurant_id <> v_scope THEN
        RAISE EXCEPTION 'restaurant % is outside the caller''s scope', p_restaurant_id
            USING ERRCODE = 'TAF03',
                  DETAIL = format('restaurant_id=%s scope_restaurant_id=%s', p_restaurant_id, v_scope),
                  HINT = 'Set tablemend.restaurant_id to the restaurant you act for.';
    END IF;
    v_ids := normalize_table_ids(p_table_ids);
    IF p_start_at IS NULL OR p_end_at IS NULL THEN
        PERFORM invalid_argument('a hold needs a window',
                                 format('restaurant_id=%s start_at=%s end_at=%s', p_restaurant_id,
                                        iso(p_start_at), iso(p_end_at)),
                                 'Pass p_start_at and p_end_at.');
    END IF;
    PERFORM check_window(p_start_at, p_end_at, format('restaurant_id=%s', p_restaurant_id));
    PERFORM check_hold_expiry(p_expires_at, format('restaurant_id=%s', p_restaurant_id));
    v_window := tstzrange(p_start_at, p_end_at, '[)');
    IF p_booking_id IS NOT NULL THEN
        PERFORM lock_booking(p_booking_id, p_restaurant_id);
    END IF;
    v_lock := lock_assignable_tables(p_restaurant_id, p_booking_id, v_ids);

    -- expired holds on these tables are retired now, so they never block (their members would trip the constraint)
    WITH stale AS (
        UPDATE table_holds h SET status = 'expired', last_touched_at = now()
        WHERE h.restaurant_id = p_restaurant_id AND h.status = 'active' AND h.expires_at <= now()
          AND h.id IN (SELECT m.hold_id FROM table_hold_members m
                       WHERE m.restaurant_id = p_restaurant_id AND m.table_id = ANY (v_ids))
        RETURNING h.id
    )
    SELECT array_agg(stale.id) INTO v_stale FROM stale;
    IF v_stale IS NOT NULL THEN
        DELETE FROM table_hold_members m WHERE m.restaurant_id = p_restaurant_id AND m.hold_id = ANY (v_stale);
    END IF;
    -- a booking's new hold replaces its earlier ones (a re-quote)
    IF p_booking_id IS NOT NULL THEN
        PERFORM consume_booking_holds(p_restaurant_id, p_booking_id, 'cancelled');
    END IF;

    PERFORM raise_if_held(p_restaurant_id, p_booking_id, v_ids, v_window);
    PERFORM raise_if_table_occupied(p_restaurant_id, p_booking_id, v_ids, v_window);

    INSERT INTO table_holds (restaurant_id, booking_id, zone_id, start_at, end_at, expires_at, created_by, metadata)
    VALUES (p_restaurant_id, p_booking_id, v_lock.zone_id, p_start_at, p_end_at, p_expires_at, p_created_by,
            COALESCE(p_metadata, '{}'::jsonb))
    RETURNING id INTO v_id;
    INSERT INTO table_hold_members (restaurant_id, hold_id, table_id, start_at, end_at)
    SELECT p_restaurant_id, v_id, x, p_start_at, p_end_at FROM unnest(v_ids) AS x;
    RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION lock_hold(p_hold_id uuid) RETURNS table_holds
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_h table_holds;
    v_scope uuid := tenant_scope();
BEGIN
    IF p_hold_id IS NULL THEN
        PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
    END IF;
    SELECT h.* INTO v_h FROM table_holds h
    WHERE h.id = p_hold_id AND (v_scope IS NULL OR h.restaurant_id = v_scope)
    FOR UPDATE OF h;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    RETURN v_h;
END
$$;

CREATE OR REPLACE FUNCTION extend_table_hold(p_hold_id uuid, p_expires_at timestamptz) RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
DECLARE
    v_h table_holds;
BEGIN
    PERFORM require_scope('extend_table_hold');
    PERFORM check_hold_expiry(p_expires_at, format('hold_id=%s', p_hold_id));  -- input first, as the Allocator does
    v_h := lock_hold(p_hold_id);
    -- an expired hold stopped blocking when it expired, so someone may have the tables now: it cannot come back
    IF v_h.status <> 'active' OR v_h.expires_at <= now() THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    UPDATE table_holds h SET expires_at = p_expires_at, last_touched_at = now()
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    RETURN p_expires_at;
END
$$;

CREATE OR REPLACE FUNCTION release_table_hold(p_hold_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
DECLARE
    v_h table_holds;
BEGIN
    PERFORM require_scope('release_table_hold');
    v_h := lock_hold(p_hold_id);
    IF v_h.status <> 'active' THEN
        RETURN false;
    END IF;
    UPDATE table_holds h
    SET status = CASE WHEN h.expires_at <= now() THEN 'expired'::table_hold_status ELSE 'cancelled' END,
        last_touched_at = now()
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    DELETE FROM table_hold_members m WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id;
    RETURN v_h.expires_at > now();
END
$$;

CREATE OR REPLACE FUNCTION confirm_hold_assignment(
    p_hold_id uuid,
    p_booking_id uuid DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL
) RETURNS TABLE(table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_h table_holds;
    v_booking uuid;
    v_ids uuid[];
    v_current uuid[];
    v_scope uuid;
BEGIN
    v_scope := require_scope('confirm_hold_assignment');
    IF p_hold_id IS NULL THEN
        PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
    END IF;
    -- before any write (the claim below): the key goes to assign_tables_atomic_v2, which checks it again
    PERFORM check_idempotency_key(p_idempotency_key, format('hold_id=%s', p_hold_id));
    -- read without a lock to learn the booking: the lock order is booking, then hold, then tables
    SELECT h.* INTO v_h FROM table_holds h WHERE h.id = p_hold_id AND (v_scope IS NULL OR h.restaurant_id = v_scope);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    IF v_h.booking_id IS NOT NULL AND p_booking_id IS NOT NULL AND v_h.booking_id <> p_booking_id THEN
        RAISE EXCEPTION 'hold % belongs to booking %, not %', p_hold_id, v_h.booking_id, p_booking_id
            USING ERRCODE = 'TAC08',
                  DETAIL = format('hold_id=%s hold_booking_id=%s booking_id=%s', p_hold_id, v_h.booking_id,
                                  p_booking_id),
                  HINT = 'Confirm the hold for its own booking.';
    END IF;
    v_booking := COALESCE(v_h.booking_id, p_booking_id);
    IF v_booking IS NULL THEN
        PERFORM invalid_argument('hold has no booking; pass p_booking_id', format('hold_id=%s booking_id=NULL',
                                 p_hold_id), 'Pass the booking the hold is for.');
    END IF;
    PERFORM lock_booking(v_booking, v_h.restaurant_id);
    -- every writer's lock order is booking, tables by id, then hold rows (create_table_hold retires expired holds
    -- while holding the tables): lock the hold's tables before the hold itself
    -- (all of them at once: the hold's tables and the booking's current ones, which the assignment will replace)
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = v_h.restaurant_id
      AND t.id IN (SELECT m.table_id FROM table_hold_members m
                   WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id
                   UNION ALL
                   SELECT a.table_id FROM booking_table_assignments a
                   WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking)
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    v_h := lock_hold(p_hold_id);
    IF v_h.booking_id IS NOT NULL AND v_h.booking_id <> v_booking THEN  -- claimed meanwhile
        RAISE EXCEPTION 'hold % belongs to booking %, not %', p_hold_id, v_h.booking_id, v_booking
            USING ERRCODE = 'TAC08',
                  DETAIL = format('hold_id=%s hold_booking_id=%s booking_id=%s', p_hold_id, v_h.booking_id,
                                  v_booking),
                  HINT = 'Confirm the hold for its own booking.';
    END IF;
    IF v_h.status = 'confirmed' THEN
        -- a retried confirm: answer with the assignment it made, if that is still the booking's assignment
        SELECT array_agg(a.table_id ORDER BY a.table_id) INTO v_current
        FROM booking_table_assignments a
        WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking
          AND a.start_at = v_h.start_at AND a.end_at = v_h.end_at;
        IF v_current IS NOT NULL AND v_h.metadata ? 'confirmed_table_ids'
           AND v_current = ARRAY(SELECT jsonb_array_elements_text(v_h.metadata -> 'confirmed_table_ids')::uuid
                                 ORDER BY 1) THEN
            RETURN QUERY
                SELECT a.table_id, a.start_at, a.end_at, a.merge_group_id FROM booking_table_assignments a
                WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking ORDER BY a.table_id;
            RETURN;
        END IF;
        PERFORM raise_hold_not_active(v_h);
    END IF;
    IF v_h.status <> 'active' OR v_h.expires_at <= now() THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    SELECT array_agg(m.table_id ORDER BY m.table_id) INTO v_ids FROM table_hold_members m
    WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id;
    IF v_ids IS NULL THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    -- claim an unowned hold so the allocator treats it as the booking's own (and consumes it)
    UPDATE table_holds h
    SET booking_id = v_booking,
        metadata = h.metadata || jsonb_build_object('confirmed_table_ids', to_jsonb(v_ids))
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    RETURN QUERY
        SELECT r.table_id, r.start_at, r.end_at, r.merge_group_id
        FROM assign_tables_atomic_v2(v_booking, v_ids, p_idempotency_key, p_require_adjacency, p_assigned_by,
                                     v_h.start_at, v_h.end_at) AS r;
END
$$;

CREATE OR REPLACE FUNCTION set_booking_status(p_booking_id uuid, p_status booking_status) RETURNS booking_status
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_indexscan = off
AS $$
DECLARE
    v_old booking_status;
    v_restaurant uuid;
    v_scope uuid;
BEGIN
    v_scope := require_scope('set_booking_status');
    IF p_booking_id IS NULL OR p_status IS NULL THEN
        PERFORM invalid_argument('a booking id and a status are required',
                                 format('booking_id=%s status=%s', COALESCE(p_booking_id::text, 'NULL'),
                                        COALESCE(p_status::text, 'NULL')),
                                 'Pass p_booking_id and p_status.');
    END IF;
    SELECT b.status, b.restaurant_id INTO v_old, v_restaurant FROM bookings b
    WHERE b.id = p_booking_id AND (v_scope IS NULL OR b.restaurant_id = v_scope)
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     COALESCE(v_scope::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    UPDATE bookings b SET status = p_status, updated_at = now()
    WHERE b.restaurant_id = v_restaurant AND b.id = p_booking_id AND b.status IS DISTINCT FROM p_status;
    RETURN v_old;
END
$$;

-- Move a booking to [p_start_at, p_end_at): its assignments move with it (the bookings trigger), or TAC01 names the
-- blocker and nothing changes. Takes the allocator's lock order first: the booking row, then its tables by id.
CREATE FUNCTION move_booking(p_booking_id uuid, p_start_at timestamptz, p_end_at timestamptz)
RETURNS TABLE(booking_id uuid, restaurant_id uuid, start_at timestamptz, end_at timestamptz, status booking_status)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET plan_cache_mode = force_generic_plan SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_scope uuid;
    v_restaurant uuid;
BEGIN
    v_scope := require_scope('move_booking');
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    IF p_start_at IS NULL OR p_end_at IS NULL THEN
        RAISE EXCEPTION 'start and end must be given together'
            USING ERRCODE = 'TAV02',
                  DETAIL = format('booking_id=%s start_at=%s end_at=%s', p_booking_id, iso(p_start_at),
                                  iso(p_end_at)),
                  HINT = 'Pass both bounds of the new window.';
    END IF;
    PERFORM check_window(p_start_at, p_end_at, format('booking_id=%s', p_booking_id));
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b
    WHERE b.id = p_booking_id AND (v_scope IS NULL OR b.restaurant_id = v_scope)
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     COALESCE(v_scope::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = v_restaurant
      AND t.id IN (SELECT a.table_id FROM booking_table_assignments a
                   WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id)
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    RETURN QUERY
        UPDATE bookings b SET start_at = p_start_at, end_at = p_end_at, updated_at = now()
        WHERE b.restaurant_id = v_restaurant AND b.id = p_booking_id
        RETURNING b.id, b.restaurant_id, b.start_at, b.end_at, b.status;
END
$$;

-- The ledger's deferred check fires at COMMIT, after the definer function returned: before PostgreSQL 17 it then runs
-- as the calling role, which (a service) may not read the ledger. As the owner it checks the same rows for everyone.
ALTER FUNCTION booking_assignment_idempotency_check() SECURITY DEFINER;

-- --- row-level security -------------------------------------------------------------------------------------------------
-- Every tenant table answers only for the restaurant in tablemend.restaurant_id, for reads and writes alike (FOR ALL:
-- SELECT, INSERT, UPDATE, DELETE; USING and WITH CHECK). No scope: no rows. The owner role (and so the definer
-- functions, which run as it) and superusers are not subject to it; (SELECT tenant_scope()) is evaluated once.

ALTER TABLE restaurants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON restaurants FOR ALL
    USING (id = (SELECT tenant_scope())) WITH CHECK (id = (SELECT tenant_scope()));
ALTER TABLE zones ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON zones FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE table_inventory ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON table_inventory FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE table_adjacencies ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON table_adjacencies FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bookings FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE table_holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON table_holds FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE table_hold_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON table_hold_members FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE booking_table_assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON booking_table_assignments FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE booking_table_assignments_archive ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON booking_table_assignments_archive FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE booking_assignment_idempotency ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON booking_assignment_idempotency FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));
ALTER TABLE observability_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON observability_events FOR ALL
    USING (restaurant_id = (SELECT tenant_scope())) WITH CHECK (restaurant_id = (SELECT tenant_scope()));

-- A view runs with its owner's rights by default, which would read past the policies above.
ALTER VIEW allocations SET (security_invoker = true);

-- --- search_path and EXECUTE of every function ----------------------------------------------------------------------
-- Without pg_temp named last, PostgreSQL searches the caller's temporary schema first for relations, so a temporary
-- table could stand in for one of tablemend's. Nothing is executable by PUBLIC; tablemend.security grants the roles.
DO $$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace IN ('public'::regnamespace, 'tablemend'::regnamespace)
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        ORDER BY p.oid
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', v_fn);
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', v_fn);
    END LOOP;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- 0004_server_integrity: the GiST rescan self-test's verdict, cached per server build and probe text.
CREATE TABLE tablemend.server_checks (
    server_version text NOT NULL,           -- version(): the exact server build
    probe          text NOT NULL,           -- checksum of the probe's SQL: a changed probe never reuses a verdict
    verdict        text NOT NULL CHECK (verdict IN ('affected', 'fixed')),
    heap_rows      integer NOT NULL,        -- rows the probe's table holds
    index_rows     integer NOT NULL,        -- rows its GiST index still returned (fewer: affected)
    checked_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_version, probe)
);

-- Auto-assign (docs/auto-assign.md): rank the table sets that can seat a party over a window (quote_tables), hold the
-- best free one race-free (hold_best_tables), and re-pack a window: the state a re-pack plan reads and its fingerprint
-- (repack_state), and applying a plan in one journalled transaction (apply_repack_plan).
-- Error codes: TAV20-TAV24 (validation), TAC20-TAC23 (no tables, stale plan; TAC24 "no re-pack plan" is raised by the
-- client search); docs/auto-assign.md lists them.

-- --- candidate sets ---------------------------------------------------------------------------------------------------

-- The caller's restaurant scope (migration 0003): unscoped service logins are refused (TAF01), another restaurant than
-- the scope is TAF03. Every public function of this file starts with it.
CREATE FUNCTION autoassign_require_scope(p_function text, p_restaurant_id uuid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_scope uuid := require_scope(p_function);
BEGIN
    IF v_scope IS NOT NULL AND p_restaurant_id IS NOT NULL AND p_restaurant_id <> v_scope THEN
        RAISE EXCEPTION 'restaurant % is outside the caller''s scope', p_restaurant_id
            USING ERRCODE = 'TAF03',
                  DETAIL = format('restaurant_id=%s scope_restaurant_id=%s', p_restaurant_id, v_scope),
                  HINT = 'Set tablemend.restaurant_id to the restaurant you act for.';
    END IF;
END
$$;

-- Request checks shared by quote_tables, hold_best_tables and repack_state; raises, changes nothing.
CREATE FUNCTION autoassign_check_request(p_restaurant_id uuid, p_party_size integer, p_start_at timestamptz,
                                         p_end_at timestamptz, p_zone_id uuid, p_seating_type text)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_restaurant_id IS NULL THEN
        PERFORM invalid_argument('a restaurant id is required', 'restaurant_id=NULL', 'Pass p_restaurant_id.');
    END IF;
    IF p_party_size IS NULL OR p_party_size < 1 OR p_party_size > 1000 THEN
        RAISE EXCEPTION 'invalid party size %', COALESCE(p_party_size::text, 'NULL')
            USING ERRCODE = 'TAV20',
                  DETAIL = format('restaurant_id=%s party_size=%s', p_restaurant_id,
                                  COALESCE(p_party_size::text, 'NULL')),
                  HINT = 'Pass a party size from 1 to 1000.';
    END IF;
    IF p_start_at IS NULL OR p_end_at IS NULL THEN
        RAISE EXCEPTION 'a window is required'
            USING ERRCODE = 'TAV02',
                  DETAIL = format('restaurant_id=%s start_at=%s end_at=%s', p_restaurant_id, iso(p_start_at),
                                  iso(p_end_at)),
                  HINT = 'Pass p_start_at and p_end_at (or a booking, whose window is used).';
    END IF;
    PERFORM check_window(p_start_at, p_end_at, format('restaurant_id=%s', p_restaurant_id));
    IF p_seating_type IS NOT NULL AND btrim(p_seating_type) = '' THEN
        PERFORM invalid_argument('a seating preference must not be blank',
                                 format('restaurant_id=%s seating=''%s''', p_restaurant_id, p_seating_type),
                                 'Pass NULL for any seating.');
    END IF;
    PERFORM 1 FROM restaurants r WHERE r.id = p_restaurant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'restaurant % does not exist', p_restaurant_id
            USING ERRCODE = 'TAV23', DETAIL = format('restaurant_id=%s', p_restaurant_id),
                  HINT = 'Check the restaurant id.';
    END IF;
    IF p_zone_id IS NOT NULL THEN
        PERFORM 1 FROM zones z WHERE z.restaurant_id = p_restaurant_id AND z.id = p_zone_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'zone % is not a zone of restaurant %', p_zone_id, p_restaurant_id
                USING ERRCODE = 'TAV22', DETAIL = format('restaurant_id=%s zone_id=%s', p_restaurant_id, p_zone_id),
                      HINT = 'Check the zone id, or pass NULL for any zone.';
        END IF;
    END IF;
END
$$;

-- No candidate is free: raise the typed error naming the constraint that failed, checked in this order.
--   TAC22 zone closed: the requested zone has no assignable table (none active and in service, or none of the seating)
--   TAC20 party too large (or too small): no table or connected group fits the party even with every table free
--   TAC21 everything taken: sets that fit exist, but each has a table occupied or held over the window
CREATE FUNCTION autoassign_raise_no_tables(p_restaurant_id uuid, p_party_size integer, p_window tstzrange,
                                           p_zone_id uuid, p_seating_type text, p_booking_id uuid,
                                           p_lost integer DEFAULT 0)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_tables integer;
    v_fitting integer;
    v_max integer;
    v_min integer;
    v_where text := format('restaurant_id=%s party_size=%s zone_id=%s seating=%s window=%s', p_restaurant_id,
                           p_party_size, COALESCE(p_zone_id::text, 'any'), COALESCE(p_seating_type, 'any'),
                           iso_window(p_window));
BEGIN
    SELECT count(*), max(LEAST(t.capacity, COALESCE(t.max_party_size, t.capacity))), min(t.min_party_size)
    INTO v_tables, v_max, v_min
    FROM table_inventory t
    WHERE t.restaurant_id = p_restaurant_id AND t.active AND t.status <> 'out_of_service'
      AND (p_zone_id IS NULL OR t.zone_id = p_zone_id)
      AND (p_seating_type IS NULL OR t.seating_type = p_seating_type);
    IF v_tables = 0 AND p_zone_id IS NOT NULL THEN
        RAISE EXCEPTION 'zone % is closed: it has no assignable table', p_zone_id
            USING ERRCODE = 'TAC22', DETAIL = v_where || ' reason=zone_closed assignable_tables=0',
                  HINT = 'Choose another zone, or bring its tables back into service.';
    END IF;
    SELECT count(*) INTO v_fitting
    FROM autoassign_candidates(p_restaurant_id, p_party_size, p_window, p_zone_id, p_seating_type, p_booking_id, NULL,
                               false);
    IF v_fitting = 0 THEN
        IF v_min IS NOT NULL AND p_party_size < v_min THEN
            RAISE EXCEPTION 'no table seats a party as small as %', p_party_size
                USING ERRCODE = 'TAC20',
                      DETAIL = format('%s reason=party_too_small assignable_tables=%s smallest_min_party_size=%s',
                                      v_where, v_tables, v_min),
                      HINT = 'Lower the tables'' min_party_size, or seat the party by hand.';
        END IF;
        RAISE EXCEPTION 'no table or connected group of up to 4 tables seats a party of %', p_party_size
            USING ERRCODE = 'TAC20',
                  DETAIL = format('%s reason=party_too_large assignable_tables=%s largest_table_seats=%s', v_where,
                                  v_tables, COALESCE(v_max, 0)),
                  HINT = 'Split the party, add adjacency between movable tables, or seat it by hand.';
    END IF;
    RAISE EXCEPTION 'every table set that seats a party of % is taken over %', p_party_size, iso_window(p_window)
        USING ERRCODE = 'TAC21',
              DETAIL = format('%s reason=everything_taken fitting_sets=%s lost_to_concurrent_holds=%s', v_where,
                              v_fitting, p_lost),
              HINT = 'Try another window or zone, or ask for a re-pack (tablemend repack propose).';
END
$$;

-- The ranked, minimal candidates for p_party_size over p_window (all of them when p_limit is NULL).
-- A set is one assignable table (active, in service, in p_zone_id / with p_seating_type when given), or a connected
-- group of 2-4 movable tables of one zone (edges in either direction, connectivity only through members). It admits
-- the party when the party can be split over its tables with every table inside its own limits:
--     sum(min_party_size) <= party <= sum(LEAST(capacity, COALESCE(max_party_size, capacity))).
-- With p_free_only, tables occupied over the window by another live booking, or covered by an active, unexpired hold
-- of another booking (any hold when p_booking_id is NULL), are left out.
-- Sets are grown by the ESU rule (Wernicke 2006): from each root, extend only with neighbours of higher position that
-- are not already adjacent to the set, so each connected set is produced exactly once; a set that already seats the
-- party (its maximum reaches the party) or whose minimums exceed it is not grown further. The floor is read once into
-- arrays indexed by position, so the recursion joins nothing.
-- Rank: spare seats, then table count, then members' positions, where a table's position orders zones by
-- (sort_order, name in byte order, id) and tables within a zone by table_number, shorter first, then in byte order
-- (T2 before T10):
-- i.e. zone order, then table numbers. A set is dropped when it contains a better-ranked candidate (which always
-- ranks earlier: fewer seats and fewer tables), so no candidate is a fitting set plus tables it does not need.
CREATE FUNCTION autoassign_candidates(p_restaurant_id uuid, p_party_size integer, p_window tstzrange, p_zone_id uuid,
                                      p_seating_type text, p_booking_id uuid, p_limit integer,
                                      p_free_only boolean DEFAULT true)
RETURNS TABLE(rank integer, table_ids uuid[], table_numbers text[], zone_id uuid, zone_name text,
              zone_order smallint, seats integer, spare_seats integer, table_count integer, reason text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_numbers text[];
    v_zones uuid[];
    v_zone_names text[];
    v_zone_orders smallint[];
    v_cap integer[];
    v_lo integer[];
    v_hi integer[];
    v_movable boolean[];
    v_nb text[];
    v_set record;
    v_kept text[] := '{}';
    v_k text;
    v_u integer;
    v_skip boolean;
    v_prev_spare integer;
    v_prev_count integer;
    v_prev_order smallint;
    v_prev_zone text;
BEGIN
    SELECT array_agg(f.id), array_agg(f.table_number), array_agg(f.zone_id), array_agg(f.zone_name),
           array_agg(f.sort_order), array_agg(f.capacity), array_agg(f.lo), array_agg(f.hi), array_agg(f.movable)
    INTO v_ids, v_numbers, v_zones, v_zone_names, v_zone_orders, v_cap, v_lo, v_hi, v_movable
    FROM (SELECT t.id, t.table_number, t.zone_id, z.name AS zone_name, z.sort_order, t.capacity,
                 t.min_party_size AS lo, LEAST(t.capacity, COALESCE(t.max_party_size, t.capacity)) AS hi,
                 t.mobility = 'movable' AS movable
          FROM table_inventory t
          JOIN zones z ON z.restaurant_id = t.restaurant_id AND z.id = t.zone_id
          WHERE t.restaurant_id = p_restaurant_id AND t.active AND t.status <> 'out_of_service'
            AND (p_zone_id IS NULL OR t.zone_id = p_zone_id)
            AND (p_seating_type IS NULL OR t.seating_type = p_seating_type)
            AND NOT (p_free_only AND EXISTS (
                SELECT 1 FROM booking_table_assignments a
                WHERE a.restaurant_id = p_restaurant_id AND a.assignment_window && p_window
                  AND a.booking_id IS DISTINCT FROM p_booking_id AND a.table_id = t.id))
            AND NOT (p_free_only AND EXISTS (
                SELECT 1 FROM table_hold_members m
                JOIN table_holds h ON h.restaurant_id = m.restaurant_id AND h.id = m.hold_id
                WHERE m.restaurant_id = p_restaurant_id AND m.hold_window && p_window AND m.table_id = t.id
                  AND h.status = 'active' AND h.expires_at > now()
                  AND (p_booking_id IS NULL OR h.booking_id IS DISTINCT FROM p_booking_id)))
          ORDER BY z.sort_order, z.name COLLATE "C", z.id, length(t.table_number), t.table_number COLLATE "C",
                   t.id) f;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    -- neighbours by position: movable tables of one zone, each edge read in both directions (the restaurant's edges
    -- are read once and hash-joined to the positions; a generic plan otherwise probes the edges per pair of tables)
    WITH p AS MATERIALIZED (
        SELECT u.id, u.i::integer AS i FROM unnest(v_ids) WITH ORDINALITY AS u(id, i)
    ), e AS MATERIALIZED (
        SELECT x.table_a, x.table_b FROM table_adjacencies x WHERE x.restaurant_id = p_restaurant_id
    ), pairs AS (
        SELECT pa.i, pb.i AS j
        FROM e JOIN p pa ON pa.id = e.table_a JOIN p pb ON pb.id = e.table_b
        WHERE v_zones[pa.i] = v_zones[pb.i] AND v_movable[pa.i] AND v_movable[pb.i]
    )
    SELECT array_agg(COALESCE(n.nb, '{}')::text ORDER BY g.i) INTO v_nb
    FROM generate_series(1, cardinality(v_ids)) AS g(i)
    LEFT JOIN (
        SELECT s.i, array_agg(DISTINCT s.j ORDER BY s.j) AS nb
        FROM (SELECT pairs.i, pairs.j FROM pairs UNION ALL SELECT pairs.j, pairs.i FROM pairs) s
        GROUP BY s.i
    ) n ON n.i = g.i;

    rank := 0;
    FOR v_set IN
        WITH RECURSIVE grow(members, ext, closed, root, n, seats, lo, hi) AS (
            SELECT ARRAY[g.i], ARRAY(SELECT u FROM unnest(v_nb[g.i]::integer[]) AS u WHERE u > g.i ORDER BY u),
                   g.i || v_nb[g.i]::integer[], g.i, 1, v_cap[g.i], v_lo[g.i], v_hi[g.i]
            FROM generate_series(1, cardinality(v_ids)) AS g(i)
            WHERE v_lo[g.i] <= p_party_size
            UNION ALL
            SELECT g.members || x.w,
                   g.ext[(x.k + 1)::integer:]
                       || ARRAY(SELECT u FROM unnest(v_nb[x.w]::integer[]) AS u
                                WHERE u > g.root AND u <> ALL (g.closed)),
                   g.closed || v_nb[x.w]::integer[], g.root, g.n + 1, g.seats + v_cap[x.w], g.lo + v_lo[x.w],
                   g.hi + v_hi[x.w]
            FROM grow g
            CROSS JOIN LATERAL unnest(g.ext) WITH ORDINALITY AS x(w, k)
            WHERE g.n < 4 AND g.hi < p_party_size AND g.lo + v_lo[x.w] <= p_party_size
        )
        SELECT ARRAY(SELECT u FROM unnest(g.members) AS u ORDER BY u) AS members, g.root, g.n, g.seats
        FROM grow g
        WHERE g.hi >= p_party_size
        ORDER BY g.seats, g.n, 1
    LOOP
        v_skip := false;
        IF v_set.n > 1 THEN
            FOREACH v_k IN ARRAY v_kept LOOP
                IF v_set.members @> v_k::integer[] THEN
                    v_skip := true;
                    EXIT;
                END IF;
            END LOOP;
        END IF;
        CONTINUE WHEN v_skip;
        v_kept := v_kept || v_set.members::text;
        rank := rank + 1;
        table_ids := '{}';
        table_numbers := '{}';
        FOREACH v_u IN ARRAY v_set.members LOOP  -- plain expressions: no query per candidate
            table_ids := table_ids || v_ids[v_u];
            table_numbers := table_numbers || v_numbers[v_u];
        END LOOP;
        zone_id := v_zones[v_set.root];
        zone_name := v_zone_names[v_set.root];
        zone_order := v_zone_orders[v_set.root];
        seats := v_set.seats;
        spare_seats := v_set.seats - p_party_size;
        table_count := v_set.n;
        -- why it ranks here: its key, and the first key on which it loses to the candidate before it
        reason := format('%s seats for %s (%s spare), %s table%s, zone %s (order %s), tables %s: ', seats,
                         p_party_size, spare_seats, table_count, CASE WHEN table_count = 1 THEN '' ELSE 's' END,
                         zone_name, zone_order, array_to_string(table_numbers, '+'))
                  || CASE
                         WHEN rank = 1
                             THEN 'best: fewest spare seats, then fewest tables, then zone order, then table number'
                         WHEN spare_seats > v_prev_spare
                             THEN format('after #%s: more spare seats (%s > %s)', rank - 1, spare_seats,
                                         v_prev_spare)
                         WHEN table_count > v_prev_count
                             THEN format('after #%s: same spare seats, more tables (%s > %s)', rank - 1,
                                         table_count, v_prev_count)
                         WHEN zone_order > v_prev_order OR zone_name IS DISTINCT FROM v_prev_zone
                             THEN format('after #%s: same spare seats and tables, later zone (%s after %s)',
                                         rank - 1, zone_name, v_prev_zone)
                         ELSE format('after #%s: same spare seats, tables and zone, later table numbers', rank - 1)
                     END;
        RETURN NEXT;
        v_prev_spare := spare_seats;
        v_prev_count := table_count;
        v_prev_order := zone_order;
        v_prev_zone := zone_name;
        EXIT WHEN p_limit IS NOT NULL AND rank >= p_limit;
    END LOOP;
END
$$;

-- --- public: quote ------------------------------------------------------------------------------------------------

-- Ranked candidate table sets free over [p_start_at, p_end_at) for a party (docs/auto-assign.md). Reads only.
-- With p_booking_id, that booking's own assignment and holds do not block (a re-quote). No free candidate raises
-- TAC20 / TAC21 / TAC22 naming why. SECURITY DEFINER like the allocator's other public functions: callers get
-- EXECUTE on the functions, not the tables.
CREATE FUNCTION quote_tables(
    p_restaurant_id uuid,
    p_party_size integer,
    p_start_at timestamptz,
    p_end_at timestamptz,
    p_zone_id uuid DEFAULT NULL,
    p_seating_type text DEFAULT NULL,
    p_limit integer DEFAULT 5,
    p_booking_id uuid DEFAULT NULL
) RETURNS TABLE(rank integer, table_ids uuid[], table_numbers text[], zone_id uuid, zone_name text,
                zone_order smallint, seats integer, spare_seats integer, table_count integer, reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET plan_cache_mode = force_generic_plan SET enable_indexscan = off
AS $$
DECLARE
    v_window tstzrange;
    v_found bigint;
BEGIN
    PERFORM autoassign_require_scope('quote_tables', p_restaurant_id);
    PERFORM autoassign_check_request(p_restaurant_id, p_party_size, p_start_at, p_end_at, p_zone_id, p_seating_type);
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 100 THEN
        RAISE EXCEPTION 'invalid limit %', COALESCE(p_limit::text, 'NULL')
            USING ERRCODE = 'TAV21',
                  DETAIL = format('restaurant_id=%s limit=%s', p_restaurant_id, COALESCE(p_limit::text, 'NULL')),
                  HINT = 'Pass a limit from 1 to 100.';
    END IF;
    v_window := tstzrange(p_start_at, p_end_at, '[)');
    RETURN QUERY
        SELECT * FROM autoassign_candidates(p_restaurant_id, p_party_size, v_window, p_zone_id, p_seating_type,
                                            p_booking_id, p_limit);
    GET DIAGNOSTICS v_found = ROW_COUNT;
    IF v_found = 0 THEN
        PERFORM autoassign_raise_no_tables(p_restaurant_id, p_party_size, v_window, p_zone_id, p_seating_type,
                                           p_booking_id);
    END IF;
END
$$;

-- --- public: hold the best free candidate ---------------------------------------------------------------------------

-- Hold the best free candidate in this transaction. Each candidate, in rank order, is tried with create_table_hold
-- inside a savepoint: it locks the set's tables in id order (the allocator's lock order, after the booking row), so a
-- concurrent call for an overlapping set waits, then sees the winner's hold (TAC02) or assignment (TAC01), rolls the
-- savepoint back (releasing its locks) and tries the next candidate. Two calls never hold one table over overlapping
-- windows: the locks serialise them, and the hold members' exclusion constraint is the backstop. When every candidate
-- is lost (or none exists) the typed "no tables" error names why (TAC20 / TAC21 / TAC22).
CREATE FUNCTION hold_best_tables(
    p_restaurant_id uuid,
    p_party_size integer,
    p_start_at timestamptz,
    p_end_at timestamptz,
    p_expires_at timestamptz,
    p_booking_id uuid DEFAULT NULL,
    p_zone_id uuid DEFAULT NULL,
    p_seating_type text DEFAULT NULL,
    p_created_by uuid DEFAULT NULL
) RETURNS TABLE(hold_id uuid, rank integer, table_ids uuid[], table_numbers text[], zone_id uuid, seats integer,
                spare_seats integer, reason text, start_at timestamptz, end_at timestamptz, expires_at timestamptz,
                lost_to_others integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET plan_cache_mode = force_generic_plan SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_b bookings;
    v_party integer := p_party_size;
    v_start timestamptz := p_start_at;
    v_end timestamptz := p_end_at;
    v_window tstzrange;
    v_c record;
    v_lost integer := 0;
BEGIN
    PERFORM autoassign_require_scope('hold_best_tables', p_restaurant_id);
    IF p_booking_id IS NOT NULL THEN
        IF p_restaurant_id IS NULL THEN
            PERFORM invalid_argument('a restaurant id is required', 'restaurant_id=NULL', 'Pass p_restaurant_id.');
        END IF;
        -- lock order: booking row first (create_table_hold takes it again, already ours)
        v_b := lock_booking(p_booking_id, p_restaurant_id);
        v_party := COALESCE(p_party_size, v_b.party_size);
        IF p_start_at IS NULL AND p_end_at IS NULL THEN
            v_start := v_b.start_at;
            v_end := v_b.end_at;
        END IF;
    END IF;
    PERFORM autoassign_check_request(p_restaurant_id, v_party, v_start, v_end, p_zone_id, p_seating_type);
    PERFORM check_hold_expiry(p_expires_at, format('restaurant_id=%s', p_restaurant_id));  -- 0003's bounds
    v_window := tstzrange(v_start, v_end, '[)');
    FOR v_c IN
        SELECT c.* FROM autoassign_candidates(p_restaurant_id, v_party, v_window, p_zone_id, p_seating_type,
                                              p_booking_id, NULL) AS c
    LOOP
        BEGIN
            hold_id := create_table_hold(p_restaurant_id, v_c.table_ids, v_start, v_end, p_expires_at, p_booking_id,
                                         p_created_by,
                                         jsonb_build_object('source', 'hold_best_tables', 'rank', v_c.rank,
                                                            'party_size', v_party, 'reason', v_c.reason));
        EXCEPTION
            WHEN SQLSTATE 'TAC01' OR SQLSTATE 'TAC02' OR exclusion_violation
                 OR SQLSTATE 'TAV03' OR SQLSTATE 'TAV05' THEN
                -- taken (or deleted / taken out of service) since our snapshot: the savepoint is gone, with its locks
                v_lost := v_lost + 1;
                CONTINUE;
        END;
        rank := v_c.rank;
        table_ids := v_c.table_ids;
        table_numbers := v_c.table_numbers;
        zone_id := v_c.zone_id;
        seats := v_c.seats;
        spare_seats := v_c.spare_seats;
        reason := v_c.reason;
        start_at := v_start;
        end_at := v_end;
        expires_at := p_expires_at;
        lost_to_others := v_lost;
        RETURN NEXT;
        RETURN;
    END LOOP;
    PERFORM autoassign_raise_no_tables(p_restaurant_id, v_party, v_window, p_zone_id, p_seating_type, p_booking_id,
                                       v_lost);
END
$$;

-- --- re-pack --------------------------------------------------------------------------------------------------------

-- A digest of every row a re-pack plan reads for one restaurant over [p_span_start, p_span_end): the floor (zones,
-- tables, adjacency), the live assignments and their bookings, and the active holds overlapping the span. The plan
-- carries it; apply_repack_plan recomputes it under its locks and refuses the plan when it differs.
CREATE FUNCTION repack_fingerprint(p_restaurant_id uuid, p_span_start timestamptz, p_span_end timestamptz)
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp
BEGIN ATOMIC
    SELECT md5(concat_ws('|',
        COALESCE((SELECT string_agg(concat_ws(',', z.id, z.sort_order, z.name), ';' ORDER BY z.id)
                  FROM zones z WHERE z.restaurant_id = p_restaurant_id), ''),
        COALESCE((SELECT string_agg(concat_ws(',', t.id, t.zone_id, t.table_number, t.capacity, t.min_party_size,
                                              t.max_party_size, t.mobility, t.active, t.status, t.seating_type),
                                    ';' ORDER BY t.id)
                  FROM table_inventory t WHERE t.restaurant_id = p_restaurant_id), ''),
        COALESCE((SELECT string_agg(concat_ws(',', LEAST(x.table_a, x.table_b), GREATEST(x.table_a, x.table_b)), ';'
                                    ORDER BY LEAST(x.table_a, x.table_b), GREATEST(x.table_a, x.table_b))
                  FROM table_adjacencies x WHERE x.restaurant_id = p_restaurant_id), ''),
        COALESCE((SELECT string_agg(concat_ws(',', a.booking_id, a.table_id, a.start_at, a.end_at, b.status,
                                              b.party_size, b.start_at, b.end_at), ';' ORDER BY a.booking_id, a.table_id)
                  FROM booking_table_assignments a
                  JOIN bookings b ON b.restaurant_id = a.restaurant_id AND b.id = a.booking_id
                  WHERE a.restaurant_id = p_restaurant_id
                    AND a.assignment_window && tstzrange(p_span_start, p_span_end, '[)')), ''),
        COALESCE((SELECT string_agg(concat_ws(',', h.id, h.booking_id, m.table_id, m.start_at, m.end_at,
                                              h.expires_at), ';' ORDER BY h.id, m.table_id)
                  FROM table_hold_members m
                  JOIN table_holds h ON h.restaurant_id = m.restaurant_id AND h.id = m.hold_id
                  WHERE m.restaurant_id = p_restaurant_id AND h.status = 'active' AND h.expires_at > now()
                    AND m.hold_window && tstzrange(p_span_start, p_span_end, '[)')), '')));
END;

-- What a re-pack search reads, in one snapshot: the span (the window widened to the windows of the live bookings
-- that overlap it, since a moved booking keeps its own window), the floor, the live assignments and the active holds
-- over the span, and the fingerprint of exactly those rows. The search itself runs in the client (tablemend.autoassign).
CREATE FUNCTION repack_state(
    p_restaurant_id uuid,
    p_party_size integer,
    p_start_at timestamptz,
    p_end_at timestamptz,
    p_zone_id uuid DEFAULT NULL,
    p_seating_type text DEFAULT NULL,
    p_booking_id uuid DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET plan_cache_mode = force_generic_plan SET enable_indexscan = off
AS $$
DECLARE
    v_window tstzrange;
    v_span_start timestamptz;
    v_span_end timestamptz;
BEGIN
    PERFORM autoassign_require_scope('repack_state', p_restaurant_id);
    PERFORM autoassign_check_request(p_restaurant_id, p_party_size, p_start_at, p_end_at, p_zone_id, p_seating_type);
    v_window := tstzrange(p_start_at, p_end_at, '[)');
    SELECT LEAST(p_start_at, min(a.start_at)), GREATEST(p_end_at, max(a.end_at)) INTO v_span_start, v_span_end
    FROM booking_table_assignments a
    WHERE a.restaurant_id = p_restaurant_id AND a.assignment_window && v_window;
    v_span_start := COALESCE(v_span_start, p_start_at);
    v_span_end := COALESCE(v_span_end, p_end_at);
    RETURN jsonb_build_object(
        'restaurant_id', p_restaurant_id,
        'party_size', p_party_size,
        'start_at', p_start_at,
        'end_at', p_end_at,
        'zone_id', p_zone_id,
        'seating_type', p_seating_type,
        'booking_id', p_booking_id,
        'span_start', v_span_start,
        'span_end', v_span_end,
        'fingerprint', repack_fingerprint(p_restaurant_id, v_span_start, v_span_end),
        'zones', COALESCE((SELECT jsonb_agg(jsonb_build_object('id', z.id, 'name', z.name, 'sort_order', z.sort_order)
                                            ORDER BY z.sort_order, z.name, z.id)
                           FROM zones z WHERE z.restaurant_id = p_restaurant_id), '[]'),
        'tables', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                                'id', t.id, 'number', t.table_number, 'zone_id', t.zone_id, 'capacity', t.capacity,
                                'min_party_size', t.min_party_size, 'max_party_size', t.max_party_size,
                                'movable', t.mobility = 'movable',
                                'assignable', t.active AND t.status <> 'out_of_service',
                                'seating_type', t.seating_type) ORDER BY t.id)
                            FROM table_inventory t WHERE t.restaurant_id = p_restaurant_id), '[]'),
        'adjacency', COALESCE((SELECT jsonb_agg(jsonb_build_array(x.table_a, x.table_b)
                                                ORDER BY x.table_a, x.table_b)
                               FROM table_adjacencies x WHERE x.restaurant_id = p_restaurant_id), '[]'),
        'assignments', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                                     'booking_id', a.booking_id, 'table_id', a.table_id, 'start_at', a.start_at,
                                     'end_at', a.end_at, 'status', b.status, 'party_size', b.party_size)
                                     ORDER BY a.booking_id, a.table_id)
                                 FROM booking_table_assignments a
                                 JOIN bookings b ON b.restaurant_id = a.restaurant_id AND b.id = a.booking_id
                                 WHERE a.restaurant_id = p_restaurant_id
                                   AND a.assignment_window && tstzrange(v_span_start, v_span_end, '[)')), '[]'),
        'holds', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                               'hold_id', h.id, 'booking_id', h.booking_id, 'table_id', m.table_id,
                               'start_at', m.start_at, 'end_at', m.end_at) ORDER BY h.id, m.table_id)
                           FROM table_hold_members m
                           JOIN table_holds h ON h.restaurant_id = m.restaurant_id AND h.id = m.hold_id
                           WHERE m.restaurant_id = p_restaurant_id AND h.status = 'active' AND h.expires_at > now()
                             AND m.hold_window && tstzrange(v_span_start, v_span_end, '[)')), '[]'));
END
$$;

-- Apply a re-pack plan (as proposed by tablemend.autoassign.propose_repack) in this transaction: lock the moved
-- bookings and the party's booking (id order), then every table the plan touches (id order), recompute the
-- fingerprint and refuse the plan (TAC23) when anything it read has changed; then move each booking with the
-- allocator's own assign_tables_atomic_v2 (adjacency required), hold the freed set for the party until p_expires_at,
-- and journal the plan in observability_events (source autoassign.repack). Returns the hold.
CREATE FUNCTION apply_repack_plan(
    p_restaurant_id uuid,
    p_plan jsonb,
    p_expires_at timestamptz,
    p_assigned_by uuid DEFAULT NULL
) RETURNS TABLE(hold_id uuid, table_ids uuid[], moved_bookings integer, fingerprint text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET plan_cache_mode = force_generic_plan SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_target uuid[];
    v_booking uuid;
    v_span_start timestamptz;
    v_span_end timestamptz;
    v_start timestamptz;
    v_end timestamptz;
    v_given text;
    v_now_fp text;
    v_move jsonb;
    v_movers uuid[];
    v_touched uuid[];
    v_n integer := 0;
    v_mover uuid;
    v_mb bookings;
    v_to uuid[];
    v_problem text;
BEGIN
    PERFORM autoassign_require_scope('apply_repack_plan', p_restaurant_id);
    IF p_restaurant_id IS NULL THEN
        PERFORM invalid_argument('a restaurant id is required', 'restaurant_id=NULL', 'Pass p_restaurant_id.');
    END IF;
    -- shape first, before any lock
    BEGIN
        IF jsonb_typeof(p_plan) IS DISTINCT FROM 'object' OR jsonb_typeof(p_plan -> 'moves') IS DISTINCT FROM 'array'
           OR jsonb_typeof(p_plan -> 'table_ids') IS DISTINCT FROM 'array'
           OR (p_plan ->> 'restaurant_id')::uuid IS DISTINCT FROM p_restaurant_id THEN
            RAISE EXCEPTION USING ERRCODE = '22023';
        END IF;
        v_target := ARRAY(SELECT x::uuid FROM jsonb_array_elements_text(p_plan -> 'table_ids') AS x);
        v_booking := (p_plan ->> 'booking_id')::uuid;
        v_span_start := (p_plan ->> 'span_start')::timestamptz;
        v_span_end := (p_plan ->> 'span_end')::timestamptz;
        v_start := (p_plan ->> 'start_at')::timestamptz;
        v_end := (p_plan ->> 'end_at')::timestamptz;
        v_given := p_plan ->> 'fingerprint';
        v_movers := ARRAY(SELECT (m ->> 'booking_id')::uuid FROM jsonb_array_elements(p_plan -> 'moves') AS m);
        v_touched := ARRAY(SELECT x::uuid FROM jsonb_array_elements(p_plan -> 'moves') AS m,
                           jsonb_array_elements_text(m -> 'from_table_ids') AS x
                           UNION
                           SELECT x::uuid FROM jsonb_array_elements(p_plan -> 'moves') AS m,
                           jsonb_array_elements_text(m -> 'to_table_ids') AS x);
        IF cardinality(v_target) = 0 OR array_position(v_target, NULL) IS NOT NULL
           OR array_position(v_movers, NULL) IS NOT NULL OR array_position(v_touched, NULL) IS NOT NULL
           OR v_span_start IS NULL OR v_span_end IS NULL OR v_start IS NULL OR v_end IS NULL
           OR NOT (v_span_start <= v_start AND v_start < v_end AND v_end <= v_span_end) OR v_given IS NULL
           OR (SELECT count(DISTINCT x) FROM unnest(v_movers) AS x) <> cardinality(v_movers)
           OR v_booking = ANY (v_movers) THEN
            RAISE EXCEPTION USING ERRCODE = '22023';
        END IF;
    EXCEPTION WHEN invalid_parameter_value OR invalid_text_representation OR invalid_datetime_format
                   OR datetime_field_overflow OR null_value_not_allowed THEN
        RAISE EXCEPTION 'the re-pack plan is malformed'
            USING ERRCODE = 'TAV24',
                  DETAIL = format('restaurant_id=%s plan_restaurant_id=%s', p_restaurant_id,
                                  COALESCE(p_plan ->> 'restaurant_id', 'NULL')),
                  HINT = 'Pass a plan as proposed by tablemend repack (its JSON unchanged).';
    END;
    PERFORM check_hold_expiry(p_expires_at, format('restaurant_id=%s', p_restaurant_id));  -- 0003's bounds
    -- lock order: bookings (id order), then every table the plan touches (id order)
    PERFORM 1 FROM bookings b
    WHERE b.restaurant_id = p_restaurant_id AND (b.id = ANY (v_movers) OR b.id = v_booking)
    ORDER BY b.id
    FOR UPDATE OF b;
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = p_restaurant_id AND (t.id = ANY (v_touched) OR t.id = ANY (v_target))
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    v_now_fp := repack_fingerprint(p_restaurant_id, v_span_start, v_span_end);
    IF v_now_fp IS DISTINCT FROM v_given THEN
        RAISE EXCEPTION 're-pack plan is stale: the rows it read have changed since it was proposed'
            USING ERRCODE = 'TAC23',
                  DETAIL = format('restaurant_id=%s fingerprint=%s current_fingerprint=%s span=%s', p_restaurant_id,
                                  v_given, v_now_fp, iso_window(tstzrange(v_span_start, v_span_end, '[)'))),
                  HINT = 'Propose a new plan and review it.';
    END IF;
    -- the database is as the plan read it; the plan itself must still be one the search could have made (an edited
    -- plan is refused, so apply never moves a booking where a proposal would not)
    FOR v_move IN SELECT m FROM jsonb_array_elements(p_plan -> 'moves') AS m LOOP
        v_mover := (v_move ->> 'booking_id')::uuid;
        v_to := ARRAY(SELECT DISTINCT x::uuid FROM jsonb_array_elements_text(v_move -> 'to_table_ids') AS x ORDER BY 1);
        v_problem := NULL;
        SELECT b.* INTO v_mb FROM bookings b WHERE b.restaurant_id = p_restaurant_id AND b.id = v_mover;
        IF NOT FOUND OR v_mb.status NOT IN ('pending', 'pending_allocation', 'confirmed') THEN
            v_problem := 'booking_not_movable';
        ELSIF ARRAY(SELECT DISTINCT x::uuid FROM jsonb_array_elements_text(v_move -> 'from_table_ids') AS x ORDER BY 1)
              IS DISTINCT FROM ARRAY(SELECT a.table_id FROM booking_table_assignments a
                                     WHERE a.restaurant_id = p_restaurant_id AND a.booking_id = v_mover ORDER BY 1) THEN
            v_problem := 'from_tables_differ';
        ELSIF cardinality(v_to) = 0 OR v_to && v_target THEN
            v_problem := 'destination_overlaps_target';
        ELSIF NOT (SELECT count(*) = cardinality(v_to) AND count(DISTINCT t.zone_id) = 1
                          AND min(t.zone_id::text)::uuid = v_mb.assigned_zone_id
                          AND bool_and(t.active AND t.status <> 'out_of_service')
                          AND (cardinality(v_to) = 1 OR bool_and(t.mobility = 'movable'))
                          AND sum(t.min_party_size) <= v_mb.party_size
                          AND v_mb.party_size <= sum(LEAST(t.capacity, COALESCE(t.max_party_size, t.capacity)))
                   FROM table_inventory t WHERE t.restaurant_id = p_restaurant_id AND t.id = ANY (v_to)) THEN
            v_problem := 'destination_does_not_fit';
        END IF;
        IF v_problem IS NOT NULL THEN
            RAISE EXCEPTION 're-pack plan moves booking % where no proposal would (%)', v_mover, v_problem
                USING ERRCODE = 'TAV24',
                      DETAIL = format('restaurant_id=%s booking_id=%s reason=%s to_table_ids=%s', p_restaurant_id,
                                      v_mover, v_problem, array_to_string(v_to, ',')),
                      HINT = 'Pass a plan as proposed by tablemend repack (its JSON unchanged).';
        END IF;
    END LOOP;
    FOR v_move IN SELECT m FROM jsonb_array_elements(p_plan -> 'moves') AS m LOOP
        PERFORM 1 FROM assign_tables_atomic_v2(
            (v_move ->> 'booking_id')::uuid,
            ARRAY(SELECT x::uuid FROM jsonb_array_elements_text(v_move -> 'to_table_ids') AS x),
            NULL, true, p_assigned_by, NULL, NULL);
        v_n := v_n + 1;
    END LOOP;
    hold_id := create_table_hold(p_restaurant_id, v_target, v_start, v_end, p_expires_at, v_booking, p_assigned_by,
                                 jsonb_build_object('source', 'apply_repack_plan', 'fingerprint', v_given));
    INSERT INTO observability_events (restaurant_id, source, event_type, severity, context, booking_id)
    VALUES (p_restaurant_id, 'autoassign.repack', 'autoassign.repack.applied', 'info',
            jsonb_build_object('plan', p_plan, 'hold_id', hold_id, 'assigned_by', p_assigned_by), v_booking);
    table_ids := ARRAY(SELECT x FROM unnest(v_target) AS x ORDER BY x);
    moved_bookings := v_n;
    fingerprint := v_given;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION autoassign_require_scope(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION autoassign_check_request(uuid, integer, timestamptz, timestamptz, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION autoassign_raise_no_tables(uuid, integer, tstzrange, uuid, text, uuid, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION autoassign_candidates(uuid, integer, tstzrange, uuid, text, uuid, integer, boolean)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION quote_tables(uuid, integer, timestamptz, timestamptz, uuid, text, integer, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION hold_best_tables(uuid, integer, timestamptz, timestamptz, timestamptz, uuid, uuid, text, uuid)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION repack_fingerprint(uuid, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION repack_state(uuid, integer, timestamptz, timestamptz, uuid, text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION apply_repack_plan(uuid, jsonb, timestamptz, uuid) FROM PUBLIC;

-- 0005: API keys of the HTTP service (`tablemend serve`), kept in tablemend's bookkeeping schema. Only a SHA-256 of
-- each key is stored (keys are 32 random bytes, so a fast hash is enough and a leaked table yields no key); the
-- prefix is the key's first characters, shown by `tablemend keys list` so an operator can tell keys apart. A key is
-- scoped to restaurants (all_restaurants for an operator key) and to scopes: read, assign, repair.
CREATE TABLE tablemend.api_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL CHECK (btrim(name) <> ''),
    prefix          text NOT NULL,
    key_hash        bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    all_restaurants boolean NOT NULL DEFAULT false,
    restaurant_ids  uuid[] NOT NULL DEFAULT '{}',
    scopes          text[] NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL DEFAULT current_user,
    revoked_at      timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0
                                            AND scopes <@ ARRAY['read', 'assign', 'repair']::text[]),
    CONSTRAINT api_keys_restaurants_check CHECK (all_restaurants OR cardinality(restaurant_ids) > 0),
    CONSTRAINT api_keys_restaurant_ids_not_null CHECK (array_position(restaurant_ids, NULL) IS NULL)
);
REVOKE ALL ON tablemend.api_keys FROM PUBLIC;

-- === 0007_distributable ===
-- The schema distributes on Citus by restaurant (docs/scale.md, tablemend.distribution checks it): every trigger is
-- row-level and reads only its own restaurant's rows (statement-level triggers over transition tables fail on
-- shards); only foreign-key actions Citus supports; no forced generic plans (Citus cannot route them); every public
-- function has a restaurant-keyed variant that takes the restaurant first and names it in every statement, and the
-- origin's booking- or hold-keyed entries resolve the restaurant once and call it.

-- --- triggers: row-level, tenant-local -----------------------------------------------------------------------------

DROP TRIGGER booking_table_assignments_live_insert ON booking_table_assignments;
DROP TRIGGER booking_table_assignments_live_update ON booking_table_assignments;
DROP TRIGGER booking_table_assignments_ledger_update ON booking_table_assignments;
DROP TRIGGER booking_table_assignments_after_delete ON booking_table_assignments;

-- Only live bookings occupy tables. FOR SHARE waits for a concurrent status change and then reads its result, so a
-- cancel and an insert racing on one booking cannot leave a row behind.
CREATE OR REPLACE FUNCTION booking_table_assignments_require_live() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_status booking_status;
BEGIN
    SELECT b.status INTO v_status FROM bookings b
    WHERE b.restaurant_id = NEW.restaurant_id AND b.id = NEW.booking_id
    FOR SHARE OF b;
    IF booking_status_is_terminal(v_status) THEN
        RAISE EXCEPTION 'booking % is %, it cannot hold tables', NEW.booking_id, v_status
            USING ERRCODE = 'TAC06',
                  DETAIL = format('booking_id=%s restaurant_id=%s status=%s', NEW.booking_id, NEW.restaurant_id,
                                  v_status),
                  HINT = 'Only live bookings can be assigned; change the status first.';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER booking_table_assignments_live_insert
    AFTER INSERT ON booking_table_assignments
    FOR EACH ROW EXECUTE FUNCTION booking_table_assignments_require_live();
CREATE TRIGGER booking_table_assignments_live_update
    AFTER UPDATE ON booking_table_assignments
    FOR EACH ROW EXECUTE FUNCTION booking_table_assignments_require_live();

-- A changed assignment invalidates its booking's ledger rows (their stored result no longer describes it).
CREATE OR REPLACE FUNCTION booking_table_assignments_after_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM booking_assignment_idempotency l
    WHERE l.restaurant_id = OLD.restaurant_id AND l.booking_id = OLD.booking_id;
    IF (NEW.restaurant_id, NEW.booking_id) IS DISTINCT FROM (OLD.restaurant_id, OLD.booking_id) THEN
        DELETE FROM booking_assignment_idempotency l
        WHERE l.restaurant_id = NEW.restaurant_id AND l.booking_id = NEW.booking_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER booking_table_assignments_ledger_update
    AFTER UPDATE ON booking_table_assignments
    FOR EACH ROW EXECUTE FUNCTION booking_table_assignments_after_update();

-- Every deleted assignment goes to the archive; the booking's ledger rows go; a booking left without tables loses
-- its zone lock. This runs for the allocator's deletes, cascades and direct DELETEs alike. (Row triggers of one
-- statement fire after all its rows are gone, so the first one of a booking already sees it without tables.)
CREATE OR REPLACE FUNCTION booking_table_assignments_after_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- a cascade from a deleted booking has nothing left to attach history to
    IF NOT EXISTS (SELECT 1 FROM bookings b WHERE b.restaurant_id = OLD.restaurant_id AND b.id = OLD.booking_id) THEN
        RETURN NULL;
    END IF;
    INSERT INTO booking_table_assignments_archive (
        restaurant_id, id, booking_id, table_id, zone_id, start_at, end_at, merge_group_id, idempotency_key,
        assigned_by, assigned_at, release_reason)
    VALUES (OLD.restaurant_id, OLD.id, OLD.booking_id, OLD.table_id, OLD.zone_id, OLD.start_at, OLD.end_at,
            OLD.merge_group_id, OLD.idempotency_key, OLD.assigned_by, OLD.assigned_at,
            COALESCE(NULLIF(current_setting('tablemend.release_reason', true), ''), 'deleted'))
    ON CONFLICT (restaurant_id, id) DO UPDATE
        SET released_at = EXCLUDED.released_at, release_reason = EXCLUDED.release_reason;
    DELETE FROM booking_assignment_idempotency l
    WHERE l.restaurant_id = OLD.restaurant_id AND l.booking_id = OLD.booking_id;
    UPDATE bookings b SET assigned_zone_id = NULL, updated_at = now()
    WHERE b.restaurant_id = OLD.restaurant_id AND b.id = OLD.booking_id AND b.assigned_zone_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM booking_table_assignments a
                      WHERE a.restaurant_id = OLD.restaurant_id AND a.booking_id = OLD.booking_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER booking_table_assignments_after_delete
    AFTER DELETE ON booking_table_assignments
    FOR EACH ROW EXECUTE FUNCTION booking_table_assignments_after_delete();

-- --- foreign-key actions Citus supports -------------------------------------------------------------------------------

-- A booking's zone lock names a zone that has its assigned tables, and a zone with tables cannot be deleted: the
-- SET NULL action never had a row to act on, and Citus refuses it (the distribution column is in the key).
ALTER TABLE bookings DROP CONSTRAINT bookings_restaurant_id_assigned_zone_id_fkey;
ALTER TABLE bookings ADD CONSTRAINT bookings_restaurant_id_assigned_zone_id_fkey
    FOREIGN KEY (restaurant_id, assigned_zone_id) REFERENCES zones (restaurant_id, id);

-- Members copy their hold's window (their exclusion constraint needs it on the row). A foreign key with ON UPDATE
-- CASCADE kept the copy, which Citus refuses; two row-level, tenant-local triggers keep it now: a member written takes
-- its hold's window, and a hold's new window is written to its members.
ALTER TABLE table_hold_members DROP CONSTRAINT table_hold_members_restaurant_id_hold_id_start_at_end_at_fkey;
ALTER TABLE table_holds DROP CONSTRAINT table_holds_window_key;
ALTER TABLE table_hold_members ADD CONSTRAINT table_hold_members_restaurant_id_hold_id_fkey
    FOREIGN KEY (restaurant_id, hold_id) REFERENCES table_holds (restaurant_id, id) ON DELETE CASCADE;

CREATE FUNCTION table_hold_members_copy_window() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- no hold: the row keeps what it was given, and the foreign key refuses it
    SELECT h.start_at, h.end_at INTO NEW.start_at, NEW.end_at FROM table_holds h
    WHERE h.restaurant_id = NEW.restaurant_id AND h.id = NEW.hold_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER table_hold_members_copy_window
    BEFORE INSERT OR UPDATE OF restaurant_id, hold_id, start_at, end_at ON table_hold_members
    FOR EACH ROW EXECUTE FUNCTION table_hold_members_copy_window();

CREATE FUNCTION table_holds_window_to_members() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    UPDATE table_hold_members m SET start_at = NEW.start_at, end_at = NEW.end_at
    WHERE m.restaurant_id = NEW.restaurant_id AND m.hold_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER table_holds_window_to_members
    AFTER UPDATE OF start_at, end_at ON table_holds
    FOR EACH ROW WHEN ((OLD.start_at, OLD.end_at) IS DISTINCT FROM (NEW.start_at, NEW.end_at))
    EXECUTE FUNCTION table_holds_window_to_members();

-- --- row-level security without subqueries ------------------------------------------------------------------------------
-- Citus refuses subqueries in the policies of distributed tables. tenant_scope() is STABLE, so an index scan still
-- evaluates it once per scan; the owner role (and so every definer function) is not subject to the policies at all.
ALTER POLICY tenant_isolation ON restaurants USING (id = tenant_scope()) WITH CHECK (id = tenant_scope());
ALTER POLICY tenant_isolation ON zones
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON table_inventory
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON table_adjacencies
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON bookings
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON table_holds
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON table_hold_members
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON booking_table_assignments
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON booking_table_assignments_archive
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON booking_assignment_idempotency
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());
ALTER POLICY tenant_isolation ON observability_events
    USING (restaurant_id = tenant_scope()) WITH CHECK (restaurant_id = tenant_scope());

-- --- no forced generic plans ----------------------------------------------------------------------------------------
-- Citus cannot plan a generic plan's parameterised multi-shard queries nor delegate the call (0A000). PostgreSQL picks
-- generic plans by itself once they cost no more than custom ones.

ALTER FUNCTION create_table_hold(uuid, uuid[], timestamptz, timestamptz, timestamptz, uuid, uuid, jsonb)
    RESET plan_cache_mode;
ALTER FUNCTION quote_tables(uuid, integer, timestamptz, timestamptz, uuid, text, integer, uuid) RESET plan_cache_mode;
ALTER FUNCTION hold_best_tables(uuid, integer, timestamptz, timestamptz, timestamptz, uuid, uuid, text, uuid)
    RESET plan_cache_mode;
ALTER FUNCTION repack_state(uuid, integer, timestamptz, timestamptz, uuid, text, uuid) RESET plan_cache_mode;

-- --- restaurant-keyed functions -------------------------------------------------------------------------------------

-- The restaurant a restaurant-keyed function acts for: required, and the caller's scope (TAF01 / TAF03).
CREATE FUNCTION restaurant_scope(p_function text, p_restaurant_id uuid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_restaurant_id IS NULL THEN
        PERFORM invalid_argument('a restaurant id is required', format('function=%s restaurant_id=NULL', p_function),
                                 'Pass p_restaurant_id.');
    END IF;
    PERFORM autoassign_require_scope(p_function, p_restaurant_id);
END
$$;

-- The booking of one restaurant, locked; TAN01 when it is not there, TAC06 when it cannot hold tables.
DROP FUNCTION lock_booking(uuid, uuid);
CREATE FUNCTION lock_booking(p_booking_id uuid, p_restaurant_id uuid) RETURNS bookings
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_b bookings;
BEGIN
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    SELECT b.* INTO v_b FROM bookings b
    WHERE b.restaurant_id = p_restaurant_id AND b.id = p_booking_id
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01',
                  DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id, p_restaurant_id),
                  HINT = 'Check the booking id.';
    END IF;
    IF booking_status_is_terminal(v_b.status) THEN
        RAISE EXCEPTION 'booking % is %, it cannot hold tables', v_b.id, v_b.status
            USING ERRCODE = 'TAC06',
                  DETAIL = format('booking_id=%s restaurant_id=%s status=%s', v_b.id, v_b.restaurant_id, v_b.status),
                  HINT = 'Only live bookings can be assigned; change the status first.';
    END IF;
    RETURN v_b;
END
$$;

DROP FUNCTION lock_hold(uuid);
CREATE FUNCTION restaurant_assign_tables(
    p_restaurant_id uuid,
    p_booking_id uuid,
    p_table_ids uuid[],
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL,
    p_start_at timestamptz DEFAULT NULL,
    p_end_at timestamptz DEFAULT NULL
) RETURNS TABLE(table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_b bookings;
    v_start timestamptz;
    v_end timestamptz;
    v_window tstzrange;
    v_lock record;
    v_ledger booking_assignment_idempotency;
    v_field text;
    v_stored text;
    v_given text;
    v_current record;
    v_merge uuid;
    v_unreached uuid[];
BEGIN
    PERFORM restaurant_scope('restaurant_assign_tables', p_restaurant_id);
    -- 1. input, before any read or lock
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    v_ids := normalize_table_ids(p_table_ids);
    PERFORM check_window(p_start_at, p_end_at, format('booking_id=%s', p_booking_id));
    PERFORM check_idempotency_key(p_idempotency_key, format('booking_id=%s', p_booking_id));

    -- 2. a key in flight elsewhere is refused at once, never waited for (and never written twice)
    IF p_idempotency_key IS NOT NULL
       AND NOT pg_try_advisory_xact_lock(hashtextextended(
               'tablemend.assign:' || p_booking_id::text || ':' || p_idempotency_key, 0)) THEN
        RAISE EXCEPTION 'idempotency key % for booking % is in use by another transaction', p_idempotency_key,
            p_booking_id
            USING ERRCODE = 'TAC04',
                  DETAIL = format('booking_id=%s idempotency_key=%s', p_booking_id, p_idempotency_key),
                  HINT = 'Retry after the other call finishes; it will return the same result.';
    END IF;

    -- 3. lock order: booking row, then tables by id
    v_b := lock_booking(p_booking_id, p_restaurant_id);
    v_start := COALESCE(p_start_at, v_b.start_at);
    v_end := COALESCE(p_end_at, v_b.end_at);
    IF p_start_at IS NULL THEN
        -- the booking's own window, written directly to the table, is held to the same bounds
        PERFORM check_window_bounds(v_start, v_end, format('booking_id=%s', p_booking_id));
    END IF;
    v_window := tstzrange(v_start, v_end, '[)');

    -- 4. replay: the same key and request return the booking's current assignment, which the ledger row describes
    --    exactly (any change to the assignment deletes the ledger rows, a deferred check refuses stale ones)
    IF p_idempotency_key IS NOT NULL THEN
        SELECT l.* INTO v_ledger FROM booking_assignment_idempotency l
        WHERE l.restaurant_id = v_b.restaurant_id AND l.booking_id = p_booking_id
          AND l.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            SELECT f.name, f.stored, f.given INTO v_field, v_stored, v_given
            FROM (VALUES (1, 'table_ids', array_to_string(v_ledger.table_ids, ','), array_to_string(v_ids, ',')),
                         (2, 'start_at', iso(v_ledger.request_start_at), iso(p_start_at)),
                         (3, 'end_at', iso(v_ledger.request_end_at), iso(p_end_at)),
                         (4, 'require_adjacency', v_ledger.require_adjacency::text,
                          COALESCE(p_require_adjacency, false)::text),
                         (5, 'assigned_by', v_ledger.assigned_by::text, p_assigned_by::text))
                 AS f(pos, name, stored, given)
            WHERE f.stored IS DISTINCT FROM f.given
            ORDER BY f.pos LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'idempotency key % of booking % was used for a different request (%)',
                    p_idempotency_key, p_booking_id, v_field
                    USING ERRCODE = 'TAC03',
                          DETAIL = format('booking_id=%s idempotency_key=%s field=%s stored=%s given=%s',
                                          p_booking_id, p_idempotency_key, v_field, COALESCE(v_stored, 'NULL'),
                                          COALESCE(v_given, 'NULL')),
                          HINT = 'Use a new idempotency key for a different request.';
            END IF;
            RETURN QUERY
                SELECT a.table_id, a.start_at, a.end_at, a.merge_group_id
                FROM booking_table_assignments a
                WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id
                ORDER BY a.table_id;
            RETURN;
        END IF;
    END IF;

    -- the booking's current rows (stable: the booking row is locked, and only its holder writes them)
    SELECT array_agg(a.table_id ORDER BY a.table_id) AS ids, min(a.start_at) AS s, max(a.end_at) AS e,
           bool_and(a.start_at = v_start AND a.end_at = v_end) AS same_window, min(a.merge_group_id::text) AS mg
    INTO v_current
    FROM booking_table_assignments a
    WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id;
    -- a replacement deletes rows on its old tables: those are locked too, in the same id order, or two
    -- replacements could each wait in the exclusion check for the other's uncommitted delete (deadlock)
    IF v_current.ids IS NOT NULL AND NOT v_current.ids <@ v_ids THEN
        PERFORM 1 FROM table_inventory t
        WHERE t.restaurant_id = v_b.restaurant_id AND t.id = ANY (v_current.ids || v_ids)
        ORDER BY t.id
        FOR NO KEY UPDATE OF t;
    END IF;

    -- 5. tables: locked, same restaurant, active, one zone, movable when combined
    v_lock := lock_assignable_tables(v_b.restaurant_id, p_booking_id, v_ids);

    -- 6. adjacency: the chosen tables must form one connected group
    IF COALESCE(p_require_adjacency, false) AND cardinality(v_ids) > 1 THEN
        WITH RECURSIVE reach(id) AS (
            SELECT v_ids[1]
            UNION
            SELECT CASE WHEN e.table_a = r.id THEN e.table_b ELSE e.table_a END
            FROM reach r
            JOIN table_adjacencies e ON e.restaurant_id = v_b.restaurant_id
                 AND (e.table_a = r.id OR e.table_b = r.id)
            WHERE e.table_a = ANY (v_ids) AND e.table_b = ANY (v_ids)
        )
        SELECT array_agg(x ORDER BY x) INTO v_unreached
        FROM unnest(v_ids) AS x WHERE x NOT IN (SELECT reach.id FROM reach);
        IF v_unreached IS NOT NULL THEN
            RAISE EXCEPTION 'tables % are not connected to table % by adjacency', v_unreached, v_ids[1]
                USING ERRCODE = 'TAV08',
                      DETAIL = format('booking_id=%s table_id=%s unreachable_table_ids=%s', p_booking_id, v_ids[1],
                                      array_to_string(v_unreached, ',')),
                      HINT = 'Choose tables that form one connected group, or do not require adjacency.';
        END IF;
    END IF;

    -- 7. capacity: the tables must seat the party
    IF v_lock.seats < v_b.party_size THEN
        RAISE EXCEPTION 'tables seat %, booking % has a party of %', v_lock.seats, p_booking_id, v_b.party_size
            USING ERRCODE = 'TAC05',
                  DETAIL = format('booking_id=%s table_ids=%s seats=%s party_size=%s', p_booking_id,
                                  array_to_string(v_ids, ','), v_lock.seats, v_b.party_size),
                  HINT = 'Add tables or choose larger ones.';
    END IF;

    -- 8. holds of other bookings (or unowned) block until they expire; expired holds never block
    PERFORM raise_if_held(v_b.restaurant_id, p_booking_id, v_ids, v_window);

    -- 9. occupancy, checked before anything is written: a refusal then never aborts a transaction that already
    --    deleted the booking's previous rows (on PostgreSQL 18.6 aborted deletes were followed by lost GiST entries,
    --    docs/allocator.md §7). The exclusion constraint stays the guarantee (see the handler below).
    PERFORM raise_if_table_occupied(v_b.restaurant_id, p_booking_id, v_ids, v_window);

    -- 10. write: the same tables and window are kept as they are; anything else replaces the previous set
    IF v_current.ids IS NOT NULL AND v_current.ids = v_ids AND v_current.same_window THEN
        v_merge := v_current.mg::uuid;
    ELSE
        IF v_current.ids IS NOT NULL THEN
            PERFORM set_config('tablemend.release_reason', 'replaced', true);
            DELETE FROM booking_table_assignments a
            WHERE a.restaurant_id = v_b.restaurant_id AND a.booking_id = p_booking_id;
            PERFORM set_config('tablemend.release_reason', '', true);
        END IF;
        UPDATE bookings b SET assigned_zone_id = v_lock.zone_id, updated_at = now()
        WHERE b.restaurant_id = v_b.restaurant_id AND b.id = p_booking_id
          AND b.assigned_zone_id IS DISTINCT FROM v_lock.zone_id;
        v_merge := CASE WHEN cardinality(v_ids) > 1 THEN gen_random_uuid() END;
        BEGIN
            INSERT INTO booking_table_assignments AS a (
                restaurant_id, booking_id, table_id, zone_id, start_at, end_at, merge_group_id, idempotency_key,
                assigned_by)
            SELECT v_b.restaurant_id, p_booking_id, x, v_lock.zone_id, v_start, v_end, v_merge, p_idempotency_key,
                   p_assigned_by
            FROM unnest(v_ids) AS x;
        EXCEPTION WHEN exclusion_violation OR internal_error THEN
            -- Citus can pass a shard's exclusion violation on as XX000; any other internal error goes up as it is
            IF SQLSTATE = 'XX000' AND SQLERRM NOT LIKE '%violates exclusion constraint%' THEN
                RAISE;
            END IF;
            -- a writer that bypassed the table locks won the race: name the blocker the same way
            PERFORM raise_if_table_occupied(v_b.restaurant_id, p_booking_id, v_ids, v_window);
            RAISE;
        END;
    END IF;
    PERFORM consume_booking_holds(v_b.restaurant_id, p_booking_id, 'confirmed');

    -- 11. ledger: written after the rows it describes, checked again at commit
    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO booking_assignment_idempotency (
            restaurant_id, booking_id, idempotency_key, table_ids, request_start_at, request_end_at,
            require_adjacency, assigned_by, request_fingerprint, start_at, end_at, merge_group_id)
        VALUES (v_b.restaurant_id, p_booking_id, p_idempotency_key, v_ids, p_start_at, p_end_at,
                COALESCE(p_require_adjacency, false), p_assigned_by,
                md5(concat_ws('|', array_to_string(v_ids, ','), p_start_at, p_end_at,
                              COALESCE(p_require_adjacency, false), p_assigned_by)),
                v_start, v_end, v_merge);
    END IF;

    RETURN QUERY
        SELECT x, v_start, v_end, v_merge FROM unnest(v_ids) AS x ORDER BY x;
END
$$;

CREATE FUNCTION restaurant_unassign_tables(p_restaurant_id uuid, p_booking_id uuid,
                                           p_table_ids uuid[] DEFAULT NULL)
RETURNS TABLE(table_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_ids uuid[];
    v_restaurant uuid;
    v_left integer;
BEGIN
    PERFORM restaurant_scope('restaurant_unassign_tables', p_restaurant_id);
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    IF p_table_ids IS NOT NULL THEN
        v_ids := normalize_table_ids(p_table_ids);
    END IF;
    -- terminal bookings hold nothing, so only existence is required here (not lock_booking's liveness)
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b
    WHERE b.restaurant_id = p_restaurant_id AND b.id = p_booking_id
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     p_restaurant_id),
                  HINT = 'Check the booking id.';
    END IF;
    -- lock the tables whose rows go (id order), so a concurrent assign never waits on our delete while holding one
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = v_restaurant
      AND t.id IN (SELECT a.table_id FROM booking_table_assignments a
                   WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id
                     AND (v_ids IS NULL OR a.table_id = ANY (v_ids)))
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    PERFORM set_config('tablemend.release_reason', 'unassigned', true);
    RETURN QUERY
        WITH gone AS (
            DELETE FROM booking_table_assignments a
            WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id
              AND (v_ids IS NULL OR a.table_id = ANY (v_ids))
            RETURNING a.table_id
        )
        SELECT gone.table_id FROM gone ORDER BY gone.table_id;
    PERFORM set_config('tablemend.release_reason', '', true);
    -- a single table left over is no longer a merge group
    SELECT count(*) INTO v_left FROM booking_table_assignments a
    WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id;
    IF v_left = 1 THEN
        UPDATE booking_table_assignments a SET merge_group_id = NULL, updated_at = now()
        WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id AND a.merge_group_id IS NOT NULL;
    END IF;
END
$$;

CREATE FUNCTION lock_hold(p_restaurant_id uuid, p_hold_id uuid) RETURNS table_holds
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_h table_holds;
BEGIN
    IF p_hold_id IS NULL THEN
        PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
    END IF;
    SELECT h.* INTO v_h FROM table_holds h
    WHERE h.restaurant_id = p_restaurant_id AND h.id = p_hold_id
    FOR UPDATE OF h;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    RETURN v_h;
END
$$;

CREATE FUNCTION restaurant_extend_table_hold(p_restaurant_id uuid, p_hold_id uuid, p_expires_at timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET enable_indexscan = off
AS $$
DECLARE
    v_h table_holds;
BEGIN
    PERFORM restaurant_scope('restaurant_extend_table_hold', p_restaurant_id);
    PERFORM check_hold_expiry(p_expires_at, format('hold_id=%s', p_hold_id));  -- input first, as the Allocator does
    v_h := lock_hold(p_restaurant_id, p_hold_id);
    -- an expired hold stopped blocking when it expired, so someone may have the tables now: it cannot come back
    IF v_h.status <> 'active' OR v_h.expires_at <= now() THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    UPDATE table_holds h SET expires_at = p_expires_at, last_touched_at = now()
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    RETURN p_expires_at;
END
$$;

CREATE FUNCTION restaurant_release_table_hold(p_restaurant_id uuid, p_hold_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET enable_indexscan = off
AS $$
DECLARE
    v_h table_holds;
BEGIN
    PERFORM restaurant_scope('restaurant_release_table_hold', p_restaurant_id);
    v_h := lock_hold(p_restaurant_id, p_hold_id);
    IF v_h.status <> 'active' THEN
        RETURN false;
    END IF;
    UPDATE table_holds h
    SET status = CASE WHEN h.expires_at <= now() THEN 'expired'::table_hold_status ELSE 'cancelled' END,
        last_touched_at = now()
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    DELETE FROM table_hold_members m WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id;
    RETURN v_h.expires_at > now();
END
$$;

CREATE FUNCTION restaurant_confirm_hold_assignment(
    p_restaurant_id uuid,
    p_hold_id uuid,
    p_booking_id uuid DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL
) RETURNS TABLE(table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_h table_holds;
    v_booking uuid;
    v_ids uuid[];
    v_current uuid[];
BEGIN
    PERFORM restaurant_scope('restaurant_confirm_hold_assignment', p_restaurant_id);
    IF p_hold_id IS NULL THEN
        PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
    END IF;
    -- before any write (the claim below): the key goes to restaurant_assign_tables, which checks it again
    PERFORM check_idempotency_key(p_idempotency_key, format('hold_id=%s', p_hold_id));
    -- read without a lock to learn the booking: the lock order is booking, then hold, then tables
    SELECT h.* INTO v_h FROM table_holds h WHERE h.restaurant_id = p_restaurant_id AND h.id = p_hold_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    IF v_h.booking_id IS NOT NULL AND p_booking_id IS NOT NULL AND v_h.booking_id <> p_booking_id THEN
        RAISE EXCEPTION 'hold % belongs to booking %, not %', p_hold_id, v_h.booking_id, p_booking_id
            USING ERRCODE = 'TAC08',
                  DETAIL = format('hold_id=%s hold_booking_id=%s booking_id=%s', p_hold_id, v_h.booking_id,
                                  p_booking_id),
                  HINT = 'Confirm the hold for its own booking.';
    END IF;
    v_booking := COALESCE(v_h.booking_id, p_booking_id);
    IF v_booking IS NULL THEN
        PERFORM invalid_argument('hold has no booking; pass p_booking_id', format('hold_id=%s booking_id=NULL',
                                 p_hold_id), 'Pass the booking the hold is for.');
    END IF;
    PERFORM lock_booking(v_booking, v_h.restaurant_id);
    -- every writer's lock order is booking, tables by id, then hold rows (create_table_hold retires expired holds
    -- while holding the tables): lock the hold's tables before the hold itself
    -- (all of them at once: the hold's tables and the booking's current ones, which the assignment will replace)
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = v_h.restaurant_id
      AND t.id IN (SELECT m.table_id FROM table_hold_members m
                   WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id
                   UNION ALL
                   SELECT a.table_id FROM booking_table_assignments a
                   WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking)
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    v_h := lock_hold(p_restaurant_id, p_hold_id);
    IF v_h.booking_id IS NOT NULL AND v_h.booking_id <> v_booking THEN  -- claimed meanwhile
        RAISE EXCEPTION 'hold % belongs to booking %, not %', p_hold_id, v_h.booking_id, v_booking
            USING ERRCODE = 'TAC08',
                  DETAIL = format('hold_id=%s hold_booking_id=%s booking_id=%s', p_hold_id, v_h.booking_id,
                                  v_booking),
                  HINT = 'Confirm the hold for its own booking.';
    END IF;
    IF v_h.status = 'confirmed' THEN
        -- a retried confirm: answer with the assignment it made, if that is still the booking's assignment
        SELECT array_agg(a.table_id ORDER BY a.table_id) INTO v_current
        FROM booking_table_assignments a
        WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking
          AND a.start_at = v_h.start_at AND a.end_at = v_h.end_at;
        IF v_current IS NOT NULL AND v_h.metadata ? 'confirmed_table_ids'
           AND v_current = ARRAY(SELECT jsonb_array_elements_text(v_h.metadata -> 'confirmed_table_ids')::uuid
                                 ORDER BY 1) THEN
            RETURN QUERY
                SELECT a.table_id, a.start_at, a.end_at, a.merge_group_id FROM booking_table_assignments a
                WHERE a.restaurant_id = v_h.restaurant_id AND a.booking_id = v_booking ORDER BY a.table_id;
            RETURN;
        END IF;
        PERFORM raise_hold_not_active(v_h);
    END IF;
    IF v_h.status <> 'active' OR v_h.expires_at <= now() THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    SELECT array_agg(m.table_id ORDER BY m.table_id) INTO v_ids FROM table_hold_members m
    WHERE m.restaurant_id = v_h.restaurant_id AND m.hold_id = v_h.id;
    IF v_ids IS NULL THEN
        PERFORM raise_hold_not_active(v_h);
    END IF;
    -- claim an unowned hold so the allocator treats it as the booking's own (and consumes it)
    UPDATE table_holds h
    SET booking_id = v_booking,
        metadata = h.metadata || jsonb_build_object('confirmed_table_ids', to_jsonb(v_ids))
    WHERE h.restaurant_id = v_h.restaurant_id AND h.id = v_h.id;
    RETURN QUERY
        SELECT r.table_id, r.start_at, r.end_at, r.merge_group_id
        FROM restaurant_assign_tables(v_h.restaurant_id, v_booking, v_ids, p_idempotency_key, p_require_adjacency,
                                      p_assigned_by, v_h.start_at, v_h.end_at) AS r;
END
$$;

CREATE FUNCTION restaurant_set_booking_status(p_restaurant_id uuid, p_booking_id uuid, p_status booking_status)
RETURNS booking_status
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET enable_indexscan = off
AS $$
DECLARE
    v_old booking_status;
    v_restaurant uuid;
BEGIN
    PERFORM restaurant_scope('restaurant_set_booking_status', p_restaurant_id);
    IF p_booking_id IS NULL OR p_status IS NULL THEN
        PERFORM invalid_argument('a booking id and a status are required',
                                 format('booking_id=%s status=%s', COALESCE(p_booking_id::text, 'NULL'),
                                        COALESCE(p_status::text, 'NULL')),
                                 'Pass p_booking_id and p_status.');
    END IF;
    SELECT b.status, b.restaurant_id INTO v_old, v_restaurant FROM bookings b
    WHERE b.restaurant_id = p_restaurant_id AND b.id = p_booking_id
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     p_restaurant_id),
                  HINT = 'Check the booking id.';
    END IF;
    UPDATE bookings b SET status = p_status, updated_at = now()
    WHERE b.restaurant_id = v_restaurant AND b.id = p_booking_id AND b.status IS DISTINCT FROM p_status;
    RETURN v_old;
END
$$;

CREATE FUNCTION restaurant_move_booking(p_restaurant_id uuid, p_booking_id uuid, p_start_at timestamptz,
                                        p_end_at timestamptz)
RETURNS TABLE(booking_id uuid, restaurant_id uuid, start_at timestamptz, end_at timestamptz, status booking_status)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_restaurant uuid;
BEGIN
    PERFORM restaurant_scope('restaurant_move_booking', p_restaurant_id);
    IF p_booking_id IS NULL THEN
        PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
    END IF;
    IF p_start_at IS NULL OR p_end_at IS NULL THEN
        RAISE EXCEPTION 'start and end must be given together'
            USING ERRCODE = 'TAV02',
                  DETAIL = format('booking_id=%s start_at=%s end_at=%s', p_booking_id, iso(p_start_at),
                                  iso(p_end_at)),
                  HINT = 'Pass both bounds of the new window.';
    END IF;
    PERFORM check_window(p_start_at, p_end_at, format('booking_id=%s', p_booking_id));
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b
    WHERE b.restaurant_id = p_restaurant_id AND b.id = p_booking_id
    FOR UPDATE OF b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     p_restaurant_id),
                  HINT = 'Check the booking id.';
    END IF;
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = v_restaurant
      AND t.id IN (SELECT a.table_id FROM booking_table_assignments a
                   WHERE a.restaurant_id = v_restaurant AND a.booking_id = p_booking_id)
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    RETURN QUERY
        UPDATE bookings b SET start_at = p_start_at, end_at = p_end_at, updated_at = now()
        WHERE b.restaurant_id = v_restaurant AND b.id = p_booking_id
        RETURNING b.id, b.restaurant_id, b.start_at, b.end_at, b.status;
END
$$;

CREATE OR REPLACE FUNCTION apply_repack_plan(
    p_restaurant_id uuid,
    p_plan jsonb,
    p_expires_at timestamptz,
    p_assigned_by uuid DEFAULT NULL
) RETURNS TABLE(hold_id uuid, table_ids uuid[], moved_bookings integer, fingerprint text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
    v_target uuid[];
    v_booking uuid;
    v_span_start timestamptz;
    v_span_end timestamptz;
    v_start timestamptz;
    v_end timestamptz;
    v_given text;
    v_now_fp text;
    v_move jsonb;
    v_movers uuid[];
    v_touched uuid[];
    v_n integer := 0;
    v_mover uuid;
    v_mb bookings;
    v_to uuid[];
    v_problem text;
BEGIN
    PERFORM autoassign_require_scope('apply_repack_plan', p_restaurant_id);
    IF p_restaurant_id IS NULL THEN
        PERFORM invalid_argument('a restaurant id is required', 'restaurant_id=NULL', 'Pass p_restaurant_id.');
    END IF;
    -- shape first, before any lock
    BEGIN
        IF jsonb_typeof(p_plan) IS DISTINCT FROM 'object' OR jsonb_typeof(p_plan -> 'moves') IS DISTINCT FROM 'array'
           OR jsonb_typeof(p_plan -> 'table_ids') IS DISTINCT FROM 'array'
           OR (p_plan ->> 'restaurant_id')::uuid IS DISTINCT FROM p_restaurant_id THEN
            RAISE EXCEPTION USING ERRCODE = '22023';
        END IF;
        v_target := ARRAY(SELECT x::uuid FROM jsonb_array_elements_text(p_plan -> 'table_ids') AS x);
        v_booking := (p_plan ->> 'booking_id')::uuid;
        v_span_start := (p_plan ->> 'span_start')::timestamptz;
        v_span_end := (p_plan ->> 'span_end')::timestamptz;
        v_start := (p_plan ->> 'start_at')::timestamptz;
        v_end := (p_plan ->> 'end_at')::timestamptz;
        v_given := p_plan ->> 'fingerprint';
        v_movers := ARRAY(SELECT (m ->> 'booking_id')::uuid FROM jsonb_array_elements(p_plan -> 'moves') AS m);
        v_touched := ARRAY(SELECT x::uuid FROM jsonb_array_elements(p_plan -> 'moves') AS m,
                           jsonb_array_elements_text(m -> 'from_table_ids') AS x
                           UNION
                           SELECT x::uuid FROM jsonb_array_elements(p_plan -> 'moves') AS m,
                           jsonb_array_elements_text(m -> 'to_table_ids') AS x);
        IF cardinality(v_target) = 0 OR array_position(v_target, NULL) IS NOT NULL
           OR array_position(v_movers, NULL) IS NOT NULL OR array_position(v_touched, NULL) IS NOT NULL
           OR v_span_start IS NULL OR v_span_end IS NULL OR v_start IS NULL OR v_end IS NULL
           OR NOT (v_span_start <= v_start AND v_start < v_end AND v_end <= v_span_end) OR v_given IS NULL
           OR (SELECT count(DISTINCT x) FROM unnest(v_movers) AS x) <> cardinality(v_movers)
           OR v_booking = ANY (v_movers) THEN
            RAISE EXCEPTION USING ERRCODE = '22023';
        END IF;
    EXCEPTION WHEN invalid_parameter_value OR invalid_text_representation OR invalid_datetime_format
                   OR datetime_field_overflow OR null_value_not_allowed THEN
        RAISE EXCEPTION 'the re-pack plan is malformed'
            USING ERRCODE = 'TAV24',
                  DETAIL = format('restaurant_id=%s plan_restaurant_id=%s', p_restaurant_id,
                                  COALESCE(p_plan ->> 'restaurant_id', 'NULL')),
                  HINT = 'Pass a plan as proposed by tablemend repack (its JSON unchanged).';
    END;
    PERFORM check_hold_expiry(p_expires_at, format('restaurant_id=%s', p_restaurant_id));  -- 0003's bounds
    -- lock order: bookings (id order), then every table the plan touches (id order)
    PERFORM 1 FROM bookings b
    WHERE b.restaurant_id = p_restaurant_id AND (b.id = ANY (v_movers) OR b.id = v_booking)
    ORDER BY b.id
    FOR UPDATE OF b;
    PERFORM 1 FROM table_inventory t
    WHERE t.restaurant_id = p_restaurant_id AND (t.id = ANY (v_touched) OR t.id = ANY (v_target))
    ORDER BY t.id
    FOR NO KEY UPDATE OF t;
    v_now_fp := repack_fingerprint(p_restaurant_id, v_span_start, v_span_end);
    IF v_now_fp IS DISTINCT FROM v_given THEN
        RAISE EXCEPTION 're-pack plan is stale: the rows it read have changed since it was proposed'
            USING ERRCODE = 'TAC23',
                  DETAIL = format('restaurant_id=%s fingerprint=%s current_fingerprint=%s span=%s', p_restaurant_id,
                                  v_given, v_now_fp, iso_window(tstzrange(v_span_start, v_span_end, '[)'))),
                  HINT = 'Propose a new plan and review it.';
    END IF;
    -- the database is as the plan read it; the plan itself must still be one the search could have made (an edited
    -- plan is refused, so apply never moves a booking where a proposal would not)
    FOR v_move IN SELECT m FROM jsonb_array_elements(p_plan -> 'moves') AS m LOOP
        v_mover := (v_move ->> 'booking_id')::uuid;
        v_to := ARRAY(SELECT DISTINCT x::uuid FROM jsonb_array_elements_text(v_move -> 'to_table_ids') AS x ORDER BY 1);
        v_problem := NULL;
        SELECT b.* INTO v_mb FROM bookings b WHERE b.restaurant_id = p_restaurant_id AND b.id = v_mover;
        IF NOT FOUND OR v_mb.status NOT IN ('pending', 'pending_allocation', 'confirmed') THEN
            v_problem := 'booking_not_movable';
        ELSIF ARRAY(SELECT DISTINCT x::uuid FROM jsonb_array_elements_text(v_move -> 'from_table_ids') AS x ORDER BY 1)
              IS DISTINCT FROM ARRAY(SELECT a.table_id FROM booking_table_assignments a
                                     WHERE a.restaurant_id = p_restaurant_id AND a.booking_id = v_mover ORDER BY 1) THEN
            v_problem := 'from_tables_differ';
        ELSIF cardinality(v_to) = 0 OR v_to && v_target THEN
            v_problem := 'destination_overlaps_target';
        ELSIF NOT (SELECT count(*) = cardinality(v_to) AND count(DISTINCT t.zone_id) = 1
                          AND min(t.zone_id::text)::uuid = v_mb.assigned_zone_id
                          AND bool_and(t.active AND t.status <> 'out_of_service')
                          AND (cardinality(v_to) = 1 OR bool_and(t.mobility = 'movable'))
                          AND sum(t.min_party_size) <= v_mb.party_size
                          AND v_mb.party_size <= sum(LEAST(t.capacity, COALESCE(t.max_party_size, t.capacity)))
                   FROM table_inventory t WHERE t.restaurant_id = p_restaurant_id AND t.id = ANY (v_to)) THEN
            v_problem := 'destination_does_not_fit';
        END IF;
        IF v_problem IS NOT NULL THEN
            RAISE EXCEPTION 're-pack plan moves booking % where no proposal would (%)', v_mover, v_problem
                USING ERRCODE = 'TAV24',
                      DETAIL = format('restaurant_id=%s booking_id=%s reason=%s to_table_ids=%s', p_restaurant_id,
                                      v_mover, v_problem, array_to_string(v_to, ',')),
                      HINT = 'Pass a plan as proposed by tablemend repack (its JSON unchanged).';
        END IF;
    END LOOP;
    FOR v_move IN SELECT m FROM jsonb_array_elements(p_plan -> 'moves') AS m LOOP
        PERFORM 1 FROM restaurant_assign_tables(
            p_restaurant_id, (v_move ->> 'booking_id')::uuid,
            ARRAY(SELECT x::uuid FROM jsonb_array_elements_text(v_move -> 'to_table_ids') AS x),
            NULL, true, p_assigned_by, NULL, NULL);
        v_n := v_n + 1;
    END LOOP;
    hold_id := create_table_hold(p_restaurant_id, v_target, v_start, v_end, p_expires_at, v_booking, p_assigned_by,
                                 jsonb_build_object('source', 'apply_repack_plan', 'fingerprint', v_given));
    INSERT INTO observability_events (restaurant_id, source, event_type, severity, context, booking_id)
    VALUES (p_restaurant_id, 'autoassign.repack', 'autoassign.repack.applied', 'info',
            jsonb_build_object('plan', p_plan, 'hold_id', hold_id, 'assigned_by', p_assigned_by), v_booking);
    table_ids := ARRAY(SELECT x FROM unnest(v_target) AS x ORDER BY x);
    moved_bookings := v_n;
    fingerprint := v_given;
    RETURN NEXT;
END
$$;

-- --- the origin's entries: resolve the restaurant once, then the restaurant-keyed variant does the work -------------
-- On Citus the resolving lookup by id alone is the one statement that visits every shard (docs/scale.md); callers that
-- know the restaurant call the variants directly. A missing booking or hold is reported after the input checks, in
-- the order the variant would report them.

CREATE OR REPLACE FUNCTION assign_tables_atomic_v2(
    p_booking_id uuid,
    p_table_ids uuid[],
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL,
    p_start_at timestamptz DEFAULT NULL,
    p_end_at timestamptz DEFAULT NULL
) RETURNS TABLE(table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_indexscan = off
AS $$
DECLARE
    v_scope uuid := require_scope('assign_tables_atomic_v2');
    v_restaurant uuid;
BEGIN
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b
    WHERE b.id = p_booking_id AND (v_scope IS NULL OR b.restaurant_id = v_scope);
    IF NOT FOUND THEN
        IF p_booking_id IS NULL THEN
            PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
        END IF;
        PERFORM normalize_table_ids(p_table_ids);
        PERFORM check_window(p_start_at, p_end_at, format('booking_id=%s', p_booking_id));
        PERFORM check_idempotency_key(p_idempotency_key, format('booking_id=%s', p_booking_id));
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01',
                  DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id, COALESCE(v_scope::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    RETURN QUERY
        SELECT r.table_id, r.start_at, r.end_at, r.merge_group_id
        FROM restaurant_assign_tables(v_restaurant, p_booking_id, p_table_ids, p_idempotency_key,
                                      p_require_adjacency, p_assigned_by, p_start_at, p_end_at) AS r;
END
$$;

CREATE OR REPLACE FUNCTION unassign_tables_atomic(p_booking_id uuid, p_table_ids uuid[] DEFAULT NULL)
RETURNS TABLE(table_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_indexscan = off
AS $$
DECLARE
    v_scope uuid := require_scope('unassign_tables_atomic');
    v_restaurant uuid;
BEGIN
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b
    WHERE b.id = p_booking_id AND (v_scope IS NULL OR b.restaurant_id = v_scope);
    IF NOT FOUND THEN
        IF p_booking_id IS NULL THEN
            PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
        END IF;
        IF p_table_ids IS NOT NULL THEN
            PERFORM normalize_table_ids(p_table_ids);
        END IF;
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     COALESCE(v_scope::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    RETURN QUERY SELECT r.table_id FROM restaurant_unassign_tables(v_restaurant, p_booking_id, p_table_ids) AS r;
END
$$;

CREATE OR REPLACE FUNCTION extend_table_hold(p_hold_id uuid, p_expires_at timestamptz) RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_indexscan = off
AS $$
DECLARE
    v_scope uuid := require_scope('extend_table_hold');
    v_restaurant uuid;
BEGIN
    PERFORM check_hold_expiry(p_expires_at, format('hold_id=%s', p_hold_id));  -- input first, as the Allocator does
    SELECT h.restaurant_id INTO v_restaurant FROM table_holds h
    WHERE h.id = p_hold_id AND (v_scope IS NULL OR h.restaurant_id = v_scope);
    IF NOT FOUND THEN
        IF p_hold_id IS NULL THEN
            PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
        END IF;
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    RETURN restaurant_extend_table_hold(v_restaurant, p_hold_id, p_expires_at);
END
$$;

CREATE OR REPLACE FUNCTION release_table_hold(p_hold_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_indexscan = off
AS $$
DECLARE
    v_scope uuid := require_scope('release_table_hold');
    v_restaurant uuid;
BEGIN
    SELECT h.restaurant_id INTO v_restaurant FROM table_holds h
    WHERE h.id = p_hold_id AND (v_scope IS NULL OR h.restaurant_id = v_scope);
    IF NOT FOUND THEN
        IF p_hold_id IS NULL THEN
            PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
        END IF;
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    RETURN restaurant_release_table_hold(v_restaurant, p_hold_id);
END
$$;

CREATE OR REPLACE FUNCTION confirm_hold_assignment(
    p_hold_id uuid,
    p_booking_id uuid DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_require_adjacency boolean DEFAULT false,
    p_assigned_by uuid DEFAULT NULL
) RETURNS TABLE(table_id uuid, start_at timestamptz, end_at timestamptz, merge_group_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_indexscan = off
AS $$
DECLARE
    v_scope uuid := require_scope('confirm_hold_assignment');
    v_restaurant uuid;
BEGIN
    IF p_hold_id IS NULL THEN
        PERFORM invalid_argument('a hold id is required', 'hold_id=NULL', 'Pass p_hold_id.');
    END IF;
    PERFORM check_idempotency_key(p_idempotency_key, format('hold_id=%s', p_hold_id));
    SELECT h.restaurant_id INTO v_restaurant FROM table_holds h
    WHERE h.id = p_hold_id AND (v_scope IS NULL OR h.restaurant_id = v_scope);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold % not found', p_hold_id
            USING ERRCODE = 'TAN02', DETAIL = format('hold_id=%s', p_hold_id), HINT = 'Check the hold id.';
    END IF;
    RETURN QUERY
        SELECT r.table_id, r.start_at, r.end_at, r.merge_group_id
        FROM restaurant_confirm_hold_assignment(v_restaurant, p_hold_id, p_booking_id, p_idempotency_key,
                                                p_require_adjacency, p_assigned_by) AS r;
END
$$;

CREATE OR REPLACE FUNCTION set_booking_status(p_booking_id uuid, p_status booking_status) RETURNS booking_status
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_indexscan = off
AS $$
DECLARE
    v_scope uuid := require_scope('set_booking_status');
    v_restaurant uuid;
BEGIN
    IF p_booking_id IS NULL OR p_status IS NULL THEN
        PERFORM invalid_argument('a booking id and a status are required',
                                 format('booking_id=%s status=%s', COALESCE(p_booking_id::text, 'NULL'),
                                        COALESCE(p_status::text, 'NULL')),
                                 'Pass p_booking_id and p_status.');
    END IF;
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b
    WHERE b.id = p_booking_id AND (v_scope IS NULL OR b.restaurant_id = v_scope);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     COALESCE(v_scope::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    RETURN restaurant_set_booking_status(v_restaurant, p_booking_id, p_status);
END
$$;

CREATE OR REPLACE FUNCTION move_booking(p_booking_id uuid, p_start_at timestamptz, p_end_at timestamptz)
RETURNS TABLE(booking_id uuid, restaurant_id uuid, start_at timestamptz, end_at timestamptz, status booking_status)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET enable_indexscan = off
AS $$
DECLARE
    v_scope uuid := require_scope('move_booking');
    v_restaurant uuid;
BEGIN
    SELECT b.restaurant_id INTO v_restaurant FROM bookings b
    WHERE b.id = p_booking_id AND (v_scope IS NULL OR b.restaurant_id = v_scope);
    IF NOT FOUND THEN
        IF p_booking_id IS NULL THEN
            PERFORM invalid_argument('a booking id is required', 'booking_id=NULL', 'Pass p_booking_id.');
        END IF;
        IF p_start_at IS NULL OR p_end_at IS NULL THEN
            RAISE EXCEPTION 'start and end must be given together'
                USING ERRCODE = 'TAV02',
                      DETAIL = format('booking_id=%s start_at=%s end_at=%s', p_booking_id, iso(p_start_at),
                                      iso(p_end_at)),
                      HINT = 'Pass both bounds of the new window.';
        END IF;
        PERFORM check_window(p_start_at, p_end_at, format('booking_id=%s', p_booking_id));
        RAISE EXCEPTION 'booking % not found', p_booking_id
            USING ERRCODE = 'TAN01', DETAIL = format('booking_id=%s restaurant_id=%s', p_booking_id,
                                                     COALESCE(v_scope::text, 'any')),
                  HINT = 'Check the booking id.';
    END IF;
    RETURN QUERY
        SELECT r.booking_id, r.restaurant_id, r.start_at, r.end_at, r.status
        FROM restaurant_move_booking(v_restaurant, p_booking_id, p_start_at, p_end_at) AS r;
END
$$;

-- New functions, like every other, are executable only by the roles tablemend.security grants.
REVOKE ALL ON FUNCTION table_hold_members_copy_window() FROM PUBLIC;
REVOKE ALL ON FUNCTION table_holds_window_to_members() FROM PUBLIC;
REVOKE ALL ON FUNCTION restaurant_scope(text, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION lock_booking(uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION lock_hold(uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION restaurant_assign_tables(uuid, uuid, uuid[], text, boolean, uuid, timestamptz, timestamptz)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION restaurant_unassign_tables(uuid, uuid, uuid[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION restaurant_extend_table_hold(uuid, uuid, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION restaurant_release_table_hold(uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION restaurant_confirm_hold_assignment(uuid, uuid, uuid, text, boolean, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION restaurant_set_booking_status(uuid, uuid, booking_status) FROM PUBLIC;
REVOKE ALL ON FUNCTION restaurant_move_booking(uuid, uuid, timestamptz, timestamptz) FROM PUBLIC;
