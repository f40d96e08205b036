-- Set-based undo: a repair's journalled changes folded to one net change per row (the first before-image is what
-- to restore, the last after-image is what must still be there), checked and restored per relation with a few
-- statements, whatever the number of rows. Temporary tables of the undo's transaction only.

-- name: load
CREATE TEMPORARY TABLE IF NOT EXISTS tmd_net (
    relation  text NOT NULL,
    pk        jsonb NOT NULL,
    target    jsonb,
    expected  jsonb,
    first_seq integer NOT NULL
) ON COMMIT DROP;
TRUNCATE pg_temp.tmd_net;

-- name: fold
INSERT INTO pg_temp.tmd_net (relation, pk, target, expected, first_seq)
SELECT relation, pk, (array_agg(before ORDER BY seq))[1], (array_agg(after ORDER BY seq DESC))[1], min(seq)
FROM tablemend_doctor.journal_changes
WHERE journal_id = %(journal_id)s
GROUP BY relation, pk;

-- name: relations
SELECT DISTINCT relation FROM pg_temp.tmd_net ORDER BY relation;

-- name: locked_ids
-- the bookings and tables of the repair, locked first in the allocator's order
SELECT array(SELECT DISTINCT (pk ->> 'id')::uuid FROM pg_temp.tmd_net WHERE relation = 'public.bookings'
             ORDER BY 1) AS bookings,
       array(SELECT DISTINCT (pk ->> 'id')::uuid FROM pg_temp.tmd_net WHERE relation = 'public.table_inventory'
             ORDER BY 1) AS tables;

-- name: journal_inverse
-- the undo's journal: every change of the repair inverted, in reverse order, in one statement
INSERT INTO tablemend_doctor.journal_changes (journal_id, seq, relation, op, pk, before, after, finding_ids)
SELECT %(undo_id)s, row_number() OVER (ORDER BY seq DESC), relation,
       CASE op WHEN 'insert' THEN 'delete' WHEN 'delete' THEN 'insert' ELSE 'update' END, pk, after, before,
       ARRAY['undo']
FROM tablemend_doctor.journal_changes WHERE journal_id = %(journal_id)s;

-- name: count
SELECT count(*) AS n FROM tablemend_doctor.journal_changes WHERE journal_id = %(journal_id)s;
