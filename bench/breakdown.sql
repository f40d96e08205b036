-- Named queries of bench/breakdown.py: where an allocator call's server time goes.

-- name: preloaded
SELECT current_setting('shared_preload_libraries') AS libs, current_setting('server_version') AS version;

-- name: preload
ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, auto_explain;

-- name: track_all
ALTER SYSTEM SET pg_stat_statements.track = 'all';

-- name: track_planning
ALTER SYSTEM SET pg_stat_statements.track_planning = on;

-- name: track_functions
ALTER SYSTEM SET track_functions = 'all';

-- name: max_statements
ALTER SYSTEM SET pg_stat_statements.max = 10000;

-- name: reload
SELECT pg_reload_conf() AS ok;

-- name: settings
SELECT current_setting('pg_stat_statements.track') AS track,
       current_setting('pg_stat_statements.track_planning') AS track_planning,
       current_setting('track_functions') AS track_functions;

-- name: create_extension
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

-- name: reset
-- statements of every database (the bench's own are filtered by dbid) and this database's function counters
SELECT 1 AS done FROM pg_stat_statements_reset() AS s, pg_stat_reset() AS f;

-- name: flush
-- this backend's pending function counters (the clients' own backends flush when they go idle)
SELECT pg_backend_pid() AS pid FROM pg_stat_force_next_flush() AS f;

-- name: statements
-- Every statement this database ran since the reset, nested ones included (track = all); the breakdown's own
-- catalogue reads are left out by their text.
SELECT s.toplevel, s.calls::bigint AS calls, s.plans::bigint AS plans, s.total_exec_time AS exec_ms,
       s.total_plan_time AS plan_ms, s.rows::bigint AS rows, s.shared_blks_hit::bigint AS hit,
       s.shared_blks_read::bigint AS read, s.wal_bytes::bigint AS wal_bytes,
       regexp_replace(s.query, '\s+', ' ', 'g') AS query
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.query NOT LIKE '%%pg_stat_statements%%' AND s.query NOT LIKE '%%pg_stat_user_functions%%'
  AND s.query NOT LIKE '%%pg_stat_force_next_flush%%' AND s.query NOT LIKE '%%pg_stat_reset%%'
  AND s.query NOT LIKE '%%pg_stat_activity%%'
ORDER BY s.total_exec_time + s.total_plan_time DESC;

-- name: functions
-- PL/pgSQL (and SQL) functions' own time: self_ms excludes the functions they call; trigger functions flagged.
SELECT f.funcname AS name, f.calls::bigint AS calls, f.total_time AS total_ms, f.self_time AS self_ms,
       (p.prorettype = 'trigger'::regtype) AS is_trigger
FROM pg_stat_user_functions f JOIN pg_proc p ON p.oid = f.funcid
ORDER BY f.self_time DESC;

-- name: triggers
-- which trigger runs which function, on which table, and when (for the report's trigger section)
SELECT c.relname AS table_name, t.tgname AS trigger, p.proname AS function,
       CASE WHEN t.tgtype::int & 2 = 2 THEN 'BEFORE' WHEN t.tgtype::int & 64 = 64 THEN 'INSTEAD OF' ELSE 'AFTER' END
           AS timing,
       (t.tgtype::int & 1 = 1) AS for_each_row, t.tgconstraint <> 0 AS constraint_trigger,
       t.tgdeferrable AS deferrable
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
ORDER BY c.relname, t.tgname;

-- name: explain_on
SELECT set_config('auto_explain.log_min_duration', '0', false) AS a,
       set_config('auto_explain.log_nested_statements', 'on', false) AS b,
       set_config('auto_explain.log_analyze', 'on', false) AS c,
       set_config('auto_explain.log_triggers', 'on', false) AS d,
       set_config('auto_explain.log_timing', 'on', false) AS e,
       set_config('auto_explain.log_buffers', 'on', false) AS f,
       set_config('log_min_messages', 'log', false) AS g;

-- name: wait_sample
-- What each of the bench's sessions is doing right now: on CPU ('active' without a wait event), waiting for the
-- client ('idle'), or waiting on a named event (lock, WAL flush, I/O…).
SELECT CASE WHEN a.state = 'idle' THEN 'idle (client, network, pool)'
            WHEN a.wait_event IS NULL THEN 'CPU (running)'
            ELSE a.wait_event_type || ':' || a.wait_event END AS what
FROM pg_stat_activity a
WHERE a.pid = ANY (%(pids)s::int[]);

-- name: walinspect
CREATE EXTENSION IF NOT EXISTS pg_walinspect;

-- name: wal_lsn
SELECT pg_current_wal_insert_lsn()::text AS lsn;

-- name: wal_stats
-- WAL written between two positions by record type (the whole cluster: the breakdown's own cluster runs nothing else
-- but background workers); full-page images apart.
SELECT w."resource_manager/record_type" AS record, w.count::bigint AS n, w.record_size::bigint AS record_bytes,
       w.fpi_size::bigint AS fpi_bytes
FROM pg_get_wal_stats(%(start)s::pg_lsn, %(end)s::pg_lsn, true) AS w
WHERE w.count > 0
ORDER BY w.combined_size DESC;
