"""schema.sql (fresh install) and the replay of every migration must give the same database."""

from __future__ import annotations

from typing import Any

import pytest

from tablemend import db
from tablemend.migrations import available, migrate
from tests.conftest import TemplateFactory

# Each query returns sorted text rows describing one kind of catalog object in the schemas tablemend owns.
CATALOG_QUERIES: dict[str, str] = {
    "columns": """
        SELECT format('%s.%s.%s %s null=%s default=%s generated=%s identity=%s', c.table_schema, c.table_name,
                      c.column_name, c.udt_name, c.is_nullable, c.column_default, c.generation_expression,
                      c.identity_generation)
        FROM information_schema.columns c
        WHERE c.table_schema IN ('public', 'tablemend') ORDER BY 1""",
    "constraints": """
        SELECT format('%s.%s %s %s', n.nspname, cl.relname, co.conname, pg_get_constraintdef(co.oid))
        FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
        WHERE n.nspname IN ('public', 'tablemend') ORDER BY 1""",
    "indexes": """
        SELECT format('%s %s', schemaname, indexdef) FROM pg_indexes
        WHERE schemaname IN ('public', 'tablemend') ORDER BY 1""",
    "functions": """
        SELECT format('%s.%s(%s) %s', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
                      md5(pg_get_functiondef(p.oid)))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
        WHERE n.nspname IN ('public', 'tablemend') AND d.objid IS NULL ORDER BY 1""",
    "triggers": """
        SELECT format('%s %s', t.tgname, pg_get_triggerdef(t.oid)) FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND n.nspname IN ('public', 'tablemend') ORDER BY 1""",
    "types": """
        SELECT format('%s.%s %s %s', n.nspname, t.typname, t.typtype,
                      (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e
                       WHERE e.enumtypid = t.oid))
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        LEFT JOIN pg_depend d ON d.objid = t.oid AND d.deptype = 'e'
        WHERE n.nspname IN ('public', 'tablemend') AND t.typtype IN ('e', 'd', 'c') AND d.objid IS NULL
          AND NOT EXISTS (SELECT 1 FROM pg_class r WHERE r.reltype = t.oid) ORDER BY 1""",
    "views": """
        SELECT format('%s.%s %s', schemaname, viewname, md5(definition)) FROM pg_views
        WHERE schemaname IN ('public', 'tablemend') ORDER BY 1""",
    "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
    "policies": """
        SELECT format('%s.%s %s %s', schemaname, tablename, policyname, qual) FROM pg_policies
        WHERE schemaname IN ('public', 'tablemend') ORDER BY 1""",
}


def catalog(dsn: str) -> dict[str, list[Any]]:
    with db.connect(dsn) as conn:
        return {
            kind: [next(iter(row.values())) for row in conn.execute(query).fetchall()]  # type: ignore[arg-type]
            for kind, query in CATALOG_QUERIES.items()
        }


@pytest.fixture
def replayed_dsn(templates: TemplateFactory, empty_dsn: str) -> str:
    with db.connect(empty_dsn) as conn:
        result = migrate(conn, use_schema_for_fresh=False)
    assert result.mode == "migrate"
    assert len(result.applied) == len(available())
    return empty_dsn


def test_schema_sql_equals_replay_of_all_migrations(tm_dsn: str, replayed_dsn: str) -> None:
    fresh, replayed = catalog(tm_dsn), catalog(replayed_dsn)
    assert fresh["columns"], "the catalog query found nothing: the comparison would be vacuous"
    for kind in CATALOG_QUERIES:
        assert fresh[kind] == replayed[kind], f"{kind} differ between schema.sql and the migrations"


def test_both_roads_record_every_migration(tm_dsn: str, replayed_dsn: str) -> None:
    expected = [m.version for m in available()]
    for dsn, action in ((tm_dsn, "baseline"), (replayed_dsn, "apply")):
        with db.connect(dsn) as conn:
            rows = conn.execute("SELECT version FROM tablemend.schema_migrations ORDER BY 1").fetchall()
            versions = [r["version"] for r in rows]
            log = conn.execute("SELECT DISTINCT action, operator, host FROM tablemend.migration_log").fetchall()
        assert versions == expected
        assert [r["action"] for r in log] == [action]
        assert log[0]["operator"] and log[0]["host"]


def test_migrate_again_is_a_no_op(tm_dsn: str) -> None:
    with db.connect(tm_dsn) as conn:
        assert migrate(conn).mode == "current"


def test_migration_log_is_append_only(tm_dsn: str) -> None:
    from tablemend.errors import DatabaseError

    with db.connect(tm_dsn) as conn, pytest.raises(DatabaseError) as info, db.translated():
        conn.execute("DELETE FROM tablemend.migration_log")
    assert info.value.sqlstate == "TMU05"
    assert "append-only" in info.value.message


def test_an_edited_applied_migration_is_refused(tm_dsn: str) -> None:
    from tablemend.errors import MigrationError

    with db.connect(tm_dsn, autocommit=True) as conn:
        conn.execute("UPDATE tablemend.schema_migrations SET checksum = 'x' WHERE version = '0001'")
        with pytest.raises(MigrationError, match="was changed after it was applied"):
            migrate(conn)


def test_concurrent_migrate_runs_serialise(empty_dsn: str) -> None:
    import threading

    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with db.connect(empty_dsn) as conn:
                results.append(migrate(conn).mode)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == ["current", "current", "current", "schema"]


def test_migrate_refuses_a_database_with_another_schema_and_changes_nothing(origin_dsn: str) -> None:
    from tablemend.errors import MigrationError

    with db.connect(origin_dsn, autocommit=True) as conn:
        with pytest.raises(MigrationError, match="already has tables named like tablemend's") as info:
            migrate(conn)
        assert info.value.details is not None and "nothing was changed" in info.value.details
        row = conn.execute("SELECT to_regnamespace('tablemend') IS NULL AS absent").fetchone()
        assert row == {"absent": True}
