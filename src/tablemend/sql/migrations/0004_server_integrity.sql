-- 0004: the GiST rescan self-test's verdict (tablemend.integrity), cached per server build and probe text, so the
-- pool and the doctor need not probe on every start. Written by `tablemend migrate` and `tablemend db check` (which
-- also set the allocator functions' enable_indexscan from it); a server upgrade changes version() and so re-probes.
CREATE TABLE tablemend.server_checks (
    server_version text NOT NULL,           -- version(): the exact server build
    probe          text NOT NULL,           -- checksum of the probe's SQL: a changed probe never reuses a verdict
    verdict        text NOT NULL CHECK (verdict IN ('affected', 'fixed')),
    heap_rows      integer NOT NULL,        -- rows the probe's table holds
    index_rows     integer NOT NULL,        -- rows its GiST index still returned (fewer: affected)
    checked_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_version, probe)
);
