-- name: exists
SELECT to_regclass('tablemend_doctor.journal') IS NOT NULL AS present,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass('tablemend_doctor.journal')
                 AND a.attname = 'plan_sha256' AND NOT a.attisdropped) AS current;

-- name: schema
-- The doctor's own bookkeeping, kept out of the user's public schema. Append-only: undo is a new entry.
CREATE SCHEMA IF NOT EXISTS tablemend_doctor;

CREATE TABLE IF NOT EXISTS tablemend_doctor.journal (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('repair', 'undo', 'action')),  -- action: an index rebuild (no undo)
    undoes      uuid REFERENCES tablemend_doctor.journal (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    operator    text NOT NULL,
    host        text NOT NULL,
    db_user     text NOT NULL DEFAULT current_user,
    profile     text NOT NULL,
    booking_id  uuid,
    findings    jsonb NOT NULL DEFAULT '[]'::jsonb
);
-- the sha256 of the reviewed plan file a repair applied (doctor repair --plan); added to older journals here
ALTER TABLE tablemend_doctor.journal ADD COLUMN IF NOT EXISTS plan_sha256 text;

CREATE UNIQUE INDEX IF NOT EXISTS journal_one_undo ON tablemend_doctor.journal (undoes) WHERE kind = 'undo';

CREATE TABLE IF NOT EXISTS tablemend_doctor.journal_changes (
    journal_id  uuid NOT NULL REFERENCES tablemend_doctor.journal (id),
    seq         integer NOT NULL,
    relation    text NOT NULL,
    op          text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    pk          jsonb NOT NULL,
    before      jsonb,
    after       jsonb,
    finding_ids text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (journal_id, seq)
);

CREATE OR REPLACE FUNCTION tablemend_doctor.forbid_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the doctor journal is append-only'
        USING ERRCODE = 'TMD97', DETAIL = format('%s on %s refused', TG_OP, TG_TABLE_NAME),
              HINT = 'undo a repair with: tablemend doctor undo <repair id>';
END
$$;

DROP TRIGGER IF EXISTS journal_append_only ON tablemend_doctor.journal;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON tablemend_doctor.journal
    FOR EACH ROW EXECUTE FUNCTION tablemend_doctor.forbid_rewrite();
DROP TRIGGER IF EXISTS journal_changes_append_only ON tablemend_doctor.journal_changes;
CREATE TRIGGER journal_changes_append_only BEFORE UPDATE OR DELETE ON tablemend_doctor.journal_changes
    FOR EACH ROW EXECUTE FUNCTION tablemend_doctor.forbid_rewrite();

-- name: schema_lock
SELECT pg_advisory_xact_lock(7261533002);

-- name: insert_entry
INSERT INTO tablemend_doctor.journal (id, kind, undoes, operator, host, profile, booking_id, findings, plan_sha256)
VALUES (%(id)s, %(kind)s, %(undoes)s, %(operator)s, %(host)s, %(profile)s, %(booking_id)s, %(findings)s,
        %(plan_sha256)s);

-- name: insert_change
INSERT INTO tablemend_doctor.journal_changes (journal_id, seq, relation, op, pk, before, after, finding_ids)
VALUES (%(journal_id)s, %(seq)s, %(relation)s, %(op)s, %(pk)s, %(before)s, %(after)s, %(finding_ids)s);

-- name: get_entry
SELECT j.*, (SELECT u.id FROM tablemend_doctor.journal u WHERE u.undoes = j.id AND u.kind = 'undo') AS undone_by
FROM tablemend_doctor.journal j WHERE j.id = %(id)s;

-- name: get_changes
SELECT relation, op, pk, before, after, finding_ids
FROM tablemend_doctor.journal_changes WHERE journal_id = %(id)s ORDER BY seq;

-- name: only_indexes
SELECT coalesce(bool_and(relation = 'tablemend_doctor.index'), false) AS only
FROM tablemend_doctor.journal_changes WHERE journal_id = %(id)s;

-- name: list_entries
SELECT j.id, j.kind, j.undoes, j.created_at, j.operator, j.host, j.booking_id, j.plan_sha256,
       (SELECT count(*) FROM tablemend_doctor.journal_changes c WHERE c.journal_id = j.id) AS changes
FROM tablemend_doctor.journal j ORDER BY j.created_at, j.id;

-- name: observability_event
INSERT INTO public.observability_events (source, event_type, severity, context, restaurant_id, booking_id)
VALUES ('tablemend.doctor', %(event_type)s, 'info', %(context)s, %(restaurant_id)s, %(booking_id)s);
