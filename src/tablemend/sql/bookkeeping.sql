-- Migration bookkeeping: applied state apart from an append-only log (who, host, when, what).
CREATE SCHEMA IF NOT EXISTS tablemend;

CREATE TABLE IF NOT EXISTS tablemend.schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tablemend.migration_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version    text NOT NULL,
    name       text NOT NULL,
    checksum   text NOT NULL,
    action     text NOT NULL CHECK (action IN ('baseline', 'apply')),
    operator   text NOT NULL,
    host       text NOT NULL,
    db_user    text NOT NULL DEFAULT current_user,
    logged_at  timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION tablemend.forbid_log_rewrite() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'tablemend.migration_log is append-only'
        USING ERRCODE = 'TMU05', DETAIL = format('%s of log row %s refused', TG_OP, OLD.id);
END
$$;

DROP TRIGGER IF EXISTS migration_log_append_only ON tablemend.migration_log;
CREATE TRIGGER migration_log_append_only BEFORE UPDATE OR DELETE ON tablemend.migration_log
    FOR EACH ROW EXECUTE FUNCTION tablemend.forbid_log_rewrite();
