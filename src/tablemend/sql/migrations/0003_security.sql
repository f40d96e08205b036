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
