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
