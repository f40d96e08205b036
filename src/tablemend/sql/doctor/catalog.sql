-- Catalog facts the doctor's profile detection and checks depend on.

-- name: relations
SELECT n.nspname || '.' || c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname IN ('public', 'tablemend', 'tablemend_doctor');

-- name: functions
SELECT n.nspname || '.' || p.proname AS name, count(*) AS overloads
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('public', 'tablemend')
GROUP BY 1;

-- name: columns
-- Columns of the doctor's relations, as schema.relation.column (live databases sit at different migration points).
SELECT n.nspname || '.' || c.relname || '.' || a.attname AS name
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname IN ('public', 'tablemend') AND a.attnum > 0
  AND NOT a.attisdropped;

-- name: constraints
-- Constraints as schema.relation:name, with whether they are checked at commit (DEFERRABLE INITIALLY DEFERRED).
SELECT n.nspname || '.' || c.relname || ':' || k.conname AS name, k.condeferred AS deferred
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('public', 'tablemend');

-- name: primary_key
SELECT a.attname AS column_name
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = to_regclass(%(relation)s) AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum);

-- name: writable_columns
SELECT a.attname AS column_name
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%(relation)s) AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attgenerated = '' AND a.attidentity <> 'a'
ORDER BY a.attnum;

-- name: begin_snapshot
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY;

-- name: scan_settings
-- Every check reads whole tables: plan for all rows, not the first 10%% (cursor_tuple_fraction, for a caller's
-- cursor), and keep the hash joins of bookings with assignment rows and the shared pass's ordered pass (a sort of
-- every assignment row: about 210 MB at 1M bookings) in memory, not spilled to temporary files (this transaction
-- only: is_local; one scan's sorts and hashes run one after another); UTC as the origin's function assumes.
SELECT set_config('cursor_tuple_fraction', '1', true), set_config('work_mem', '256MB', true),
       set_config('TimeZone', 'UTC', true);

-- name: booking_context
SELECT b.id, b.restaurant_id, b.start_at, b.end_at, b.booking_date, b.start_time, b.status::text AS status,
       (SELECT s.id FROM public.booking_slots s
         WHERE s.restaurant_id = b.restaurant_id AND s.slot_date = b.booking_date AND s.slot_time = b.start_time
         LIMIT 1) AS slot_id
FROM public.bookings b
WHERE b.id = %(booking_id)s;

-- name: booking_last_tables
-- P's current or last requested table set: its assignments, else its newest ledger row.
SELECT coalesce(
    (SELECT array_agg(DISTINCT bta.table_id ORDER BY bta.table_id) FROM public.booking_table_assignments bta
      WHERE bta.booking_id = %(booking_id)s),
    (SELECT l.table_ids FROM public.booking_assignment_idempotency l
      WHERE l.booking_id = %(booking_id)s ORDER BY l.created_at DESC LIMIT 1)
) AS table_ids;

-- name: set_timeouts
-- This transaction only (a transaction-mode pooler keeps no session settings): the timeouts, and UTC for the origin's
-- function, which computes its zone x hour advisory key with date_trunc in the session's TimeZone.
SELECT set_config('lock_timeout', %(lock_timeout)s, true), set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('TimeZone', 'UTC', true);

-- name: lock_bookings
SELECT id FROM public.bookings WHERE id = ANY (%(ids)s::uuid[]) ORDER BY id FOR UPDATE;

-- name: lock_tables
SELECT id FROM public.table_inventory WHERE id = ANY (%(ids)s::uuid[]) ORDER BY id FOR UPDATE;

-- name: advisory_lock
-- The origin allocator's zone × start-hour key (session TimeZone is UTC on doctor connections).
SELECT pg_advisory_xact_lock(hashtext(z.zone_id::text),
                             (extract(epoch FROM date_trunc('hour', %(start_at)s::timestamptz)) / 60)::int)
FROM (SELECT DISTINCT t.zone_id FROM public.table_inventory t WHERE t.id = ANY (%(ids)s::uuid[])
      ORDER BY t.zone_id) z;

-- name: call_allocator
-- The database's own allocator, all 7 arguments named (a shorter call is ambiguous while the old overload exists).
SELECT table_id, start_at, end_at, merge_group_id
FROM public.assign_tables_atomic_v2(
    p_booking_id => %(p_booking_id)s::uuid,
    p_table_ids => %(p_table_ids)s::uuid[],
    p_idempotency_key => %(p_idempotency_key)s::text,
    p_require_adjacency => %(p_require_adjacency)s::boolean,
    p_assigned_by => %(p_assigned_by)s::uuid,
    p_start_at => %(p_start_at)s::timestamptz,
    p_end_at => %(p_end_at)s::timestamptz);

-- name: test_pause
SELECT pg_sleep(%(seconds)s::float8);

-- name: replica_role
SET LOCAL session_replication_role = replica;

-- name: origin_role
SET LOCAL session_replication_role = origin;

-- name: booking_context_tablemend
-- tablemend's schema has no slot table: occupancy is the window alone.
SELECT b.id, b.restaurant_id, b.start_at, b.end_at, b.booking_date, b.start_time, b.status::text AS status,
       NULL::uuid AS slot_id
FROM public.bookings b
WHERE b.id = %(booking_id)s;

-- name: foreign_keys
-- The foreign keys of one relation, columns in key order (undo checks them for rows it restores).
SELECT c.conname AS name, pn.nspname AS parent_schema, pc.relname AS parent_table,
       array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns,
       array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_columns
FROM pg_constraint c
JOIN pg_class pc ON pc.oid = c.confrelid
JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE c.conrelid = to_regclass(%(relation)s) AND c.contype = 'f'
ORDER BY c.conname;

-- name: check_deferred
-- What COMMIT would do: a DEFERRABLE INITIALLY DEFERRED constraint (allocations_resource_window_excl, before
-- M/20251113203000) reports its violation only at commit; checking now makes a rolled-back call see that error.
SET CONSTRAINTS ALL IMMEDIATE;
