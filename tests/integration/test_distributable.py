"""The schema stays distributable on Citus by restaurant_id (docs/scale.md), checked from the catalog.

Every table in ``public`` has the tenant column (``restaurant_id``; the root ``restaurants`` is keyed by its own
``id``), every primary / unique / exclusion constraint and every unique index contains it, and every foreign key between
tenant tables carries it on both sides.
"""

from __future__ import annotations

from tablemend.db import Connection

TABLES = """
SELECT c.relname AS table_name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY 1
"""

TENANT_COLUMN = """
SELECT c.relname AS table_name,
       CASE WHEN c.relname = 'restaurants' THEN 'id' ELSE 'restaurant_id' END AS column_name,
       a.attnum, a.attnotnull
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped
     AND a.attname = CASE WHEN c.relname = 'restaurants' THEN 'id' ELSE 'restaurant_id' END
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY 1
"""

# Unique indexes cover primary keys, unique constraints and bare unique indexes; exclusion constraints are listed too.
KEYS_WITHOUT_TENANT = """
SELECT c.relname AS table_name, i.relname AS key_name
FROM pg_index x
JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint co ON co.conindid = x.indexrelid
WHERE n.nspname = 'public' AND (x.indisunique OR co.contype = 'x')
  AND NOT EXISTS (
      SELECT 1 FROM pg_attribute a
      WHERE a.attrelid = c.oid AND a.attnum = ANY (x.indkey)
        AND a.attname = CASE WHEN c.relname = 'restaurants' THEN 'id' ELSE 'restaurant_id' END)
ORDER BY 1, 2
"""

FOREIGN_KEYS = """
SELECT co.conname, src.relname AS source, dst.relname AS target,
       ARRAY(SELECT a.attname::text FROM unnest(co.conkey) k JOIN pg_attribute a
             ON a.attrelid = co.conrelid AND a.attnum = k) AS source_columns,
       ARRAY(SELECT a.attname::text FROM unnest(co.confkey) k JOIN pg_attribute a
             ON a.attrelid = co.confrelid AND a.attnum = k) AS target_columns,
       array_position(co.conkey, (SELECT a.attnum FROM pg_attribute a
                                  WHERE a.attrelid = co.conrelid AND a.attname = 'restaurant_id')) AS src_pos,
       array_position(co.confkey, (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = co.confrelid
                                   AND a.attname = CASE WHEN dst.relname = 'restaurants' THEN 'id'
                                                        ELSE 'restaurant_id' END)) AS dst_pos
FROM pg_constraint co
JOIN pg_class src ON src.oid = co.conrelid JOIN pg_namespace n ON n.oid = src.relnamespace
JOIN pg_class dst ON dst.oid = co.confrelid
WHERE co.contype = 'f' AND n.nspname = 'public'
ORDER BY 1
"""


def test_allocator_tables_exist(tm_conn: Connection) -> None:
    names = {r["table_name"] for r in tm_conn.execute(TABLES).fetchall()}
    expected = {
        "restaurants", "zones", "table_inventory", "table_adjacencies", "bookings", "table_holds",
        "table_hold_members", "booking_table_assignments", "booking_table_assignments_archive",
        "booking_assignment_idempotency", "observability_events",
    }
    assert expected <= names


def test_every_table_has_a_not_null_tenant_column(tm_conn: Connection) -> None:
    rows = tm_conn.execute(TENANT_COLUMN).fetchall()
    assert rows, "no tables in public"
    missing = [r["table_name"] for r in rows if r["attnum"] is None or not r["attnotnull"]]
    assert missing == []


def test_every_unique_and_exclusion_key_contains_the_tenant_column(tm_conn: Connection) -> None:
    assert tm_conn.execute(KEYS_WITHOUT_TENANT).fetchall() == []


def test_every_foreign_key_pairs_the_tenant_columns(tm_conn: Connection) -> None:
    rows = tm_conn.execute(FOREIGN_KEYS).fetchall()
    assert rows, "no foreign keys found"
    bad = [
        (r["conname"], r["source_columns"], r["target_columns"])
        for r in rows
        if r["src_pos"] is None or r["dst_pos"] is None or r["src_pos"] != r["dst_pos"]
    ]
    assert bad == []
