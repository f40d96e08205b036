-- The set-based change log of one repair transaction: before/after images of the rows in scope and their diff live
-- in temporary tables dropped at the end of the transaction (nothing outlives it, so transaction-mode poolers are
-- fine), so a repair of 10,000 findings journals its changes with one INSERT … SELECT and a plan streams them through
-- a cursor, whatever their number.

-- name: create
CREATE TEMPORARY TABLE IF NOT EXISTS tmd_rows (
    phase text NOT NULL, relation text NOT NULL, pk jsonb NOT NULL, row jsonb NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE IF NOT EXISTS tmd_pk (relation text PRIMARY KEY, cols text[] NOT NULL) ON COMMIT DROP;
CREATE TEMPORARY TABLE IF NOT EXISTS tmd_owners (id text NOT NULL, finding_id text NOT NULL, is_table boolean NOT NULL)
    ON COMMIT DROP;
CREATE INDEX IF NOT EXISTS tmd_owners_id ON tmd_owners (id);
CREATE TEMPORARY TABLE IF NOT EXISTS tmd_changes (
    seq         bigserial PRIMARY KEY,
    relation    text NOT NULL,
    op          text NOT NULL,
    pk          jsonb NOT NULL,
    before      jsonb,
    after       jsonb,
    finding_ids text[] NOT NULL
) ON COMMIT DROP;

-- name: primary_keys
-- each relation's primary-key columns (the diff matches before and after images on them)
INSERT INTO pg_temp.tmd_pk (relation, cols)
SELECT r.relation,
       array(SELECT a.attname::text
             FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
             WHERE i.indrelid = to_regclass(r.relation) AND i.indisprimary
             ORDER BY array_position(i.indkey::int2[], a.attnum))
FROM unnest(%(relations)s::text[]) AS r(relation)
ON CONFLICT (relation) DO NOTHING;

-- name: owners
-- which finding owns a changed row: the ids its scope names (a table id only when no other id matches: many
-- findings share a table)
INSERT INTO pg_temp.tmd_owners (id, finding_id, is_table)
SELECT * FROM unnest(%(ids)s::text[], %(finding_ids)s::text[], %(is_table)s::boolean[]);

-- name: analyze
-- fresh statistics for the diff's joins (temporary tables are never auto-analyzed)
ANALYZE pg_temp.tmd_rows;
ANALYZE pg_temp.tmd_owners;

-- name: diff
-- before vs after on the primary key; one change per row that differs, in a stable order, owned by the findings
-- whose scope names one of the row's ids
WITH b AS (
    SELECT DISTINCT ON (relation, pk) relation, pk, row FROM pg_temp.tmd_rows WHERE phase = 'before'
), a AS (
    SELECT DISTINCT ON (relation, pk) relation, pk, row FROM pg_temp.tmd_rows WHERE phase = 'after'
), d AS (
    SELECT coalesce(b.relation, a.relation) AS relation, coalesce(b.pk, a.pk) AS pk, b.row AS before, a.row AS after
    FROM b FULL JOIN a ON a.relation = b.relation AND a.pk = b.pk
    WHERE b.row IS DISTINCT FROM a.row
), ids AS (
    SELECT d.relation, d.pk, v.value
    FROM d
    CROSS JOIN LATERAL (SELECT e.value FROM jsonb_each_text(d.before) e WHERE e.key = ANY (%(id_columns)s::text[])
                        UNION
                        SELECT e.value FROM jsonb_each_text(d.after) e WHERE e.key = ANY (%(id_columns)s::text[])) v
), by_row AS (
    SELECT ids.relation, ids.pk, array_agg(DISTINCT o.finding_id ORDER BY o.finding_id) AS finding_ids
    FROM ids JOIN pg_temp.tmd_owners o ON o.id = ids.value AND NOT o.is_table
    GROUP BY ids.relation, ids.pk
), unowned AS MATERIALIZED (
    -- (first: a table id is shared by many findings, joining it for every row would multiply the rows)
    SELECT ids.* FROM ids
    WHERE NOT EXISTS (SELECT 1 FROM by_row r WHERE r.relation = ids.relation AND r.pk = ids.pk)
), table_owners AS (
    -- each table's findings, aggregated once (at 500k bookings a table is named by ~500 findings: joining them to
    -- every changed row of the table first, then aggregating, sorted 250,000 rows)
    SELECT o.id, array_agg(DISTINCT o.finding_id ORDER BY o.finding_id) AS finding_ids
    FROM pg_temp.tmd_owners o WHERE o.is_table GROUP BY o.id
), matched AS MATERIALIZED (
    SELECT u.relation, u.pk, t.finding_ids, count(*) OVER (PARTITION BY u.relation, u.pk) AS n
    FROM unowned u JOIN table_owners t ON t.id = u.value
), by_table AS (
    -- a row names one table (almost always): that table's findings; else the union of its tables' findings
    SELECT m.relation, m.pk, m.finding_ids FROM matched m WHERE m.n = 1
    UNION ALL
    SELECT m.relation, m.pk, array_agg(DISTINCT f.id ORDER BY f.id)
    FROM matched m CROSS JOIN LATERAL unnest(m.finding_ids) AS f(id)
    WHERE m.n > 1
    GROUP BY m.relation, m.pk
), owned AS (
    SELECT * FROM by_row UNION ALL SELECT * FROM by_table
)
INSERT INTO pg_temp.tmd_changes (relation, op, pk, before, after, finding_ids)
SELECT d.relation,
       CASE WHEN d.before IS NULL THEN 'insert' WHEN d.after IS NULL THEN 'delete' ELSE 'update' END,
       d.pk, d.before, d.after,
       CASE WHEN %(sole)s::text IS NOT NULL THEN ARRAY[%(sole)s::text] ELSE coalesce(owned.finding_ids, '{}') END
FROM d LEFT JOIN owned ON owned.relation = d.relation AND owned.pk = d.pk
ORDER BY d.relation, d.pk::text;

-- name: reset_round
TRUNCATE pg_temp.tmd_rows, pg_temp.tmd_owners;

-- name: count
SELECT count(*) AS n FROM pg_temp.tmd_changes;

-- name: changes
SELECT relation, op, pk, before, after, finding_ids FROM pg_temp.tmd_changes ORDER BY seq;

-- name: changes_json
-- the same, each change as one JSON object made by the database (a plan streams these lines as they are)
SELECT jsonb_build_object(
           'relation', relation, 'op', op, 'pk', pk,
           'changed', CASE WHEN before IS NOT NULL AND after IS NOT NULL
                           THEN to_jsonb(array(SELECT a.key FROM jsonb_each(after) a
                                               WHERE before -> a.key IS DISTINCT FROM a.value ORDER BY a.key))
                           ELSE '[]'::jsonb END,
           'before', before, 'after', after, 'findings', to_jsonb(finding_ids))::text AS line
FROM pg_temp.tmd_changes ORDER BY seq;

-- name: journal
-- the whole change log into the journal in one statement
INSERT INTO tablemend_doctor.journal_changes (journal_id, seq, relation, op, pk, before, after, finding_ids)
SELECT %(journal_id)s, row_number() OVER (ORDER BY seq), relation, op, pk, before, after, finding_ids
FROM pg_temp.tmd_changes;

-- name: deleted_by_relation
-- what a repair deletes, by relation (the cost estimate multiplies it by the unindexed foreign keys' table sizes)
SELECT relation, count(*) AS n FROM pg_temp.tmd_changes WHERE op = 'delete' GROUP BY relation ORDER BY relation;
