-- The doctor's index action (tablemend.doctor.reindex): rebuild a GiST index that lost live entries (TMD023).

-- name: journal_allow_action
-- A journal created before index actions existed only allows 'repair' and 'undo' entries.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint c
               WHERE c.conrelid = 'tablemend_doctor.journal'::regclass AND c.contype = 'c'
                 AND c.conname = 'journal_kind_check' AND pg_get_constraintdef(c.oid) NOT LIKE '%action%') THEN
        ALTER TABLE tablemend_doctor.journal DROP CONSTRAINT journal_kind_check,
            ADD CONSTRAINT journal_kind_check CHECK (kind IN ('repair', 'undo', 'action'));
    END IF;
END
$$;

-- name: begin_snapshot
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;

-- name: is_exclusion
-- PostgreSQL cannot rebuild an exclusion constraint's index concurrently ("not supported")
SELECT i.indisexclusion AS exclusion FROM pg_index i WHERE i.indexrelid = to_regclass(%(index)s);

-- name: lock_timeout
-- a plain REINDEX blocks writes to the table (and reads through the index) while it runs: never queue behind a long
-- transaction holding everyone else up
SELECT set_config('lock_timeout', %(lock_timeout)s, true);
