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
