"""The one translation boundary, on a real server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from psycopg import sql

from tablemend import db
from tablemend.errors import DatabaseError, UsageError


def test_timestamps_are_utc_without_session_settings_or_prepared_statements(tm_dsn: str) -> None:
    """A pooler keeps no session settings, so none is sent (no startup options); timestamps load as UTC anyway."""
    with db.connect(tm_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET TimeZone = 'Asia/Kolkata'").format(
            sql.Identifier(admin.info.dbname)))
    with db.connect(tm_dsn) as conn:
        row = conn.execute("SELECT current_setting('TimeZone') AS tz, current_setting('application_name') AS app,"
                           " '2030-06-01 19:00:00+00'::timestamptz AS at").fetchone()
        assert row is not None and (row["tz"], row["app"]) == ("Asia/Kolkata", "tablemend")
        assert row["at"] == datetime(2030, 6, 1, 19, tzinfo=UTC) and row["at"].tzname() == "UTC"
        assert conn.prepare_threshold is None
    with db.connect(tm_dsn, application_name="someone-else") as named:
        assert named.execute("SELECT current_setting('application_name') AS app").fetchone() == {"app": "someone-else"}


def test_unknown_sqlstate_is_kept_verbatim(tm_dsn: str) -> None:
    with db.connect(tm_dsn) as conn, pytest.raises(DatabaseError) as info, db.translated():
        conn.execute("SELECT 1/0")
    assert info.value.sqlstate == "22012"
    assert info.value.message == "division by zero"
    assert info.value.__cause__ is not None


def test_project_sqlstate_maps_to_its_class(tm_dsn: str) -> None:
    with db.connect(tm_dsn) as conn, pytest.raises(UsageError) as info, db.translated():
        conn.execute("DO $$ BEGIN RAISE EXCEPTION 'nope' USING ERRCODE = 'TMU01', DETAIL = 'x=1'; END $$")
    assert info.value.details == "x=1"


def test_dsn_resolution_prefers_argument_then_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env/db")
    assert db.resolve_dsn("postgresql://arg/db") == "postgresql://arg/db"
    assert db.resolve_dsn(None) == "postgresql://env/db"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("PGHOST", "somewhere")
    assert db.resolve_dsn(None) == ""


def test_describe_dsn_hides_the_password() -> None:
    assert db.describe_dsn("postgresql://u:secret@h:6543/d") == "h:6543/d"


def test_permission_denied_says_what_to_do(tm_dsn: str) -> None:
    """Issue 12: a raw 42501 had no hint; the one translation boundary adds one."""
    import os

    from psycopg import sql

    from tablemend.errors import PermissionDenied

    role = f"tm_{os.getpid()}_nopriv"
    with db.connect(tm_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        try:
            with pytest.raises(PermissionDenied) as info, db.translated(), conn.transaction():
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                conn.execute("SELECT 1 FROM tablemend.schema_migrations")
        finally:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert info.value.sqlstate == "42501" and info.value.hint and "privilege" in info.value.hint


def test_what_the_embedded_cluster_changes_as_root_is_said(tmp_path: Path) -> None:
    """Issue 12: as root, starting the cluster made a parent of TABLEMEND_HOME traversable and could add a system
    user without a word; each such change is now a message (`db start` prints them, every command's database line
    carries them)."""
    import os

    from tablemend.embedded import EmbeddedCluster

    parent = tmp_path / "private"
    parent.mkdir(mode=0o700)
    home = parent / "home"
    home.mkdir()
    cluster = EmbeddedCluster(home)
    cluster._prepare_for_server_user()
    if os.geteuid() == 0:
        assert parent.stat().st_mode & 0o001
        assert any(str(parent) in m and "o+x" in m for m in cluster.messages), cluster.messages
    else:  # nothing is changed, so nothing is said
        assert not parent.stat().st_mode & 0o001 and cluster.messages == []
