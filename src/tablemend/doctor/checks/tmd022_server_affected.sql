-- name: detect
-- The verdict itself comes from tablemend.integrity (a rolled-back probe run before the scan's read-only snapshot,
-- or the one `migrate` / `tablemend db check` recorded); this query only shapes it into a finding.
SELECT NULL::uuid AS booking_id, NULL::uuid AS table_id, NULL::uuid AS restaurant_id,
       format('PostgreSQL %%s has the GiST rescan bug: its self-test lost %%s of %%s live index entries',
              %(server_version)s::text, %(heap_rows)s::integer - %(index_rows)s::integer, %(heap_rows)s::integer)
           AS detail,
       jsonb_build_object('server_version', %(server_version)s::text) AS key,
       jsonb_build_object('verdict', 'affected', 'heap_rows', %(heap_rows)s::integer,
                          'index_rows', %(index_rows)s::integer, 'cached', %(cached)s::boolean) AS metadata;
