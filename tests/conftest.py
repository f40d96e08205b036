"""Real-PostgreSQL test harness.

One server per run: ``TABLEMEND_TEST_DSN`` (any database on the server; we create our own next to it) or, without it,
an embedded PostgreSQL 18 cluster in ``TABLEMEND_TEST_HOME`` (default ``$TMPDIR/tablemend-test-pg-<uid>``; stopped
at the end of the run when the run started it). Each kind of
database (tablemend's schema, the origin sandbox) is built once per run as a template; every test gets a fresh copy.
A server that cannot be reached is an error that fails the run, never a skip.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tablemend import db
from tablemend.embedded import SERVER_USER, EmbeddedCluster
from tests.pgbouncer import PgBouncer

_RUN = f"{os.getpid()}"
_counter = itertools.count()
#: Roles are cluster-wide: each run migrates with its own role names (subprocesses inherit them) and drops them.
RUN_ROLES = {kind: f"tm_{_RUN}_{kind}" for kind in ("owner", "service", "readonly", "doctor", "repair")}
for _kind, _name in RUN_ROLES.items():
    os.environ[f"TABLEMEND_{_kind.upper()}_ROLE"] = _name


def default_test_home() -> Path:
    """The embedded test cluster's home without TABLEMEND_TEST_HOME: the user's own under the temporary directory
    (world-traversable, so the server user needs no permission change), never one path shared by every user."""
    return Path(tempfile.gettempdir()) / f"tablemend-test-pg-{os.geteuid()}"


def _own_uids() -> set[int]:
    """Who may own the test home: us, and as root the embedded server's system user (it is handed the home)."""
    uids = {os.geteuid()}
    if os.geteuid() == 0:
        import pwd

        with contextlib.suppress(KeyError):
            uids.add(pwd.getpwnam(SERVER_USER).pw_uid)
    return uids


def _embedded_cluster() -> EmbeddedCluster:
    home = Path(os.environ["TABLEMEND_TEST_HOME"]) if os.environ.get("TABLEMEND_TEST_HOME") else default_test_home()
    if home.is_symlink() or (home.exists() and home.stat().st_uid not in _own_uids()):
        pytest.fail(f"{home} is a symlink or another user's: set TABLEMEND_TEST_HOME to a directory of yours",
                    pytrace=False)
    return EmbeddedCluster(home, durable=False)


def _admin_dsn() -> str:
    if env := os.environ.get("TABLEMEND_TEST_DSN"):
        return env
    return _embedded_cluster().start()


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """DSN of a maintenance database on the test server (fails the run when unreachable); an embedded cluster the run
    started is stopped when it ends, one it found running is left as it was."""
    cluster = None if os.environ.get("TABLEMEND_TEST_DSN") else _embedded_cluster()
    dsn = cluster.start() if cluster is not None else _admin_dsn()
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(f"test PostgreSQL server unreachable ({db.describe_dsn(dsn)}): {exc}", pytrace=False)
    yield dsn
    if cluster is not None and cluster.started:
        cluster.stop()


@pytest.fixture(scope="session")
def server_version(server_dsn: str) -> int:
    with psycopg.connect(server_dsn) as conn:
        return conn.info.server_version


def dsn_for(server_dsn: str, dbname: str) -> str:
    return make_conninfo(server_dsn, dbname=dbname)


def _create_database(server_dsn: str, name: str, template: str | None = None) -> None:
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(server_dsn: str, name: str) -> None:
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class TemplateFactory:
    """Builds each named template once per run and hands out fresh copies.

    The copying and dropping run beside the tests, on one background connection: after handing out a copy of a
    kind, the next copy of that kind is made while the test runs, and a finished test's database is dropped while
    the next one runs (a copy and a drop cost ~0.2-0.6 s each, ~1,000 times a run). :meth:`close` waits for them."""

    def __init__(self, server_dsn: str) -> None:
        self.server_dsn = server_dsn
        self.templates: dict[str, str] = {}
        self.created: list[str] = []
        #: one database per kind, copied ahead of the test that will take it
        self._spare: dict[str, concurrent.futures.Future[str]] = {}
        self._background = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
        self._drops: list[concurrent.futures.Future[None]] = []

    def template(self, kind: str, build: Callable[[str], None]) -> str:
        if kind not in self.templates:
            name = f"tm_tpl_{kind}_{_RUN}"
            _drop_database(self.server_dsn, name)
            _create_database(self.server_dsn, name)
            self.created.append(name)
            build(dsn_for(self.server_dsn, name))
            self.templates[kind] = name
        return self.templates[kind]

    def _copy(self, template: str, kind: str) -> str:
        name = f"tm_t_{kind}_{_RUN}_{next(_counter)}"
        _create_database(self.server_dsn, name, template)
        return name

    def fresh(self, kind: str, build: Callable[[str], None]) -> tuple[str, str]:
        template = self.template(kind, build)
        spare = self._spare.pop(kind, None)
        name = spare.result() if spare is not None else self._copy(template, kind)
        self._spare[kind] = self._background.submit(self._copy, template, kind)
        return name, dsn_for(self.server_dsn, name)

    def drop(self, name: str, *, wait: bool = False) -> None:
        """Drops ``name`` in the background; ``wait=True`` returns only once it is gone (before dropping a role
        that owns objects in it, say)."""
        self._drops = [f for f in self._drops if not f.done() or f.exception() is not None]
        dropped = self._background.submit(_drop_database, self.server_dsn, name)
        self._drops.append(dropped)
        if wait:
            dropped.result()

    @contextlib.contextmanager
    def database(self, kind: str, build: Callable[[str], None]) -> Iterator[str]:
        """A fresh copy of the ``kind`` template for the duration of the block, dropped afterwards."""
        name, dsn = self.fresh(kind, build)
        try:
            yield dsn
        finally:
            self.drop(name)

    def close(self) -> None:
        for spare in self._spare.values():
            with contextlib.suppress(psycopg.Error):
                self.drop(spare.result())
        self._background.shutdown(wait=True)
        for failed in (f.exception() for f in self._drops):
            if failed is not None:  # the run's role is then left too (run_roles says so): a leftover to see
                print(f"test database not dropped: {failed}", file=sys.stderr)
        for name in self.created:
            _drop_database(self.server_dsn, name)


@pytest.fixture(scope="session")
def pgbouncer(server_dsn: str) -> Iterator[PgBouncer]:
    """A real PgBouncer in transaction mode with stock settings in front of the test server (tests/pgbouncer.py)."""
    bouncer = PgBouncer(server_dsn)
    yield bouncer
    bouncer.close()


@pytest.fixture(scope="session")
def run_roles(server_dsn: str) -> Iterator[dict[str, str]]:
    """This run's role names; dropped at the end, after every database that uses them (see ``templates``)."""
    yield RUN_ROLES
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        for name in RUN_ROLES.values():
            try:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.errors.DependentObjectsStillExist as exc:  # a database of this run outlived it
                print(f"role {name} not dropped: {exc}", file=sys.stderr)


@pytest.fixture(scope="session")
def templates(server_dsn: str, run_roles: dict[str, str]) -> Iterator[TemplateFactory]:
    factory = TemplateFactory(server_dsn)
    yield factory
    factory.close()


def _build_tablemend(dsn: str) -> None:
    from tablemend.migrations import migrate

    with db.connect(dsn) as conn:
        migrate(conn)


def _build_empty(dsn: str) -> None:
    return None


@pytest.fixture
def empty_dsn(templates: TemplateFactory) -> Iterator[str]:
    """A fresh, empty database."""
    with templates.database("empty", _build_empty) as dsn:
        yield dsn


@pytest.fixture
def tm_dsn(templates: TemplateFactory) -> Iterator[str]:
    """A fresh database with tablemend's schema (built from schema.sql once, cloned per test)."""
    with templates.database("tablemend", _build_tablemend) as dsn:
        yield dsn


@pytest.fixture
def tm_conn(tm_dsn: str) -> Iterator[db.Connection]:
    with db.connect(tm_dsn, autocommit=True) as conn:
        yield conn


def fetch_all(conn: db.Connection, query: Any, params: Any = None) -> list[dict[str, Any]]:
    return list(conn.execute(query, params).fetchall())


# --- origin sandbox (helper A) ----------------------------------------------------------------------------------------


def _build_origin(dsn: str, *, legacy: bool = False) -> None:
    from tablemend.sandbox import build_origin

    with db.connect(dsn, autocommit=True) as conn:
        build_origin(conn, legacy_overload=legacy, legacy_idempotency_index=legacy)


def _build_origin_legacy(dsn: str) -> None:
    _build_origin(dsn, legacy=True)


@pytest.fixture
def origin_dsn(templates: TemplateFactory) -> Iterator[str]:
    """A fresh database with the origin sandbox's schema and functions (no legacy pieces)."""
    with templates.database("origin", _build_origin) as dsn:
        yield dsn


@pytest.fixture
def origin_legacy_dsn(templates: TemplateFactory) -> Iterator[str]:
    """A fresh origin database that also has the 5-argument overload and the legacy idempotency index."""
    with templates.database("origin_legacy", _build_origin_legacy) as dsn:
        yield dsn


@pytest.fixture
def origin_conn(origin_dsn: str) -> Iterator[db.Connection]:
    with db.connect(origin_dsn, autocommit=True) as conn:
        yield conn
