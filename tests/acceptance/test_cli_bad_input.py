"""Bad input for every command, through the installed CLI: one error line on stderr, a non-zero exit code (2 for usage
and environment errors), no traceback, nothing on stdout, and nothing changed in the database it was pointed at.

Commands × bad inputs: an unknown option, an id that is not a uuid, a well-formed id that does not exist, an unreachable
server, and a --dsn naming a database that does not exist. The databases hold real data (tablemend's sample, the
origin's state D1), and the unknown-option case names real rows: were the option ignored, the command would write.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tablemend import db, sandbox
from tests.acceptance.cli import error_lines, result_of, run
from tests.conftest import TemplateFactory, _build_origin, _build_tablemend, dsn_for

_UNREACHABLE = "postgresql://postgres:x@127.0.0.1:1/nowhere?connect_timeout=2"
_MISSING_DB = f"tm_no_such_db_{os.getpid()}"
_SCRATCH_DB = f"tm_never_created_{os.getpid()}"  # what demo / sandbox origin would create
_UNKNOWN = str(uuid.uuid4())  # well-formed ids that name nothing
_UNKNOWN_2 = str(uuid.uuid4())
_WINDOW = ("--start", "2030-06-01T19:00Z", "--end", "2030-06-01T21:00Z")

# Every table of the database (a relation created by the command shows up as a new key).
_RELATIONS = """
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    #: the database it works on: "tm" (tablemend's schema), "origin", "server" (it creates --database), None
    db: str | None
    #: well-formed arguments naming real rows ({booking}, {tables}, …; filled in at run time)
    real: tuple[str, ...] = ()
    #: the same arguments naming rows that do not exist, and with an id that is not a uuid (None: no id to give)
    unknown: tuple[str, ...] | None = None
    not_uuid: tuple[str, ...] | None = None
    #: exit code for an id that names nothing (allocator "not found" is 4; the doctor's are usage errors, 2)
    unknown_exit: int = 2

    @property
    def name(self) -> str:
        return " ".join(self.words) or "tablemend"


_BAD = "nope"
COMMANDS = (
    Command((), None),
    Command(("db",), None),
    Command(("db", "start"), None),
    Command(("db", "stop"), None),
    Command(("db", "status"), None),
    Command(("db", "url"), None),
    Command(("migrate",), "tm"),
    Command(("demo",), "server"),
    Command(("sandbox",), None),
    Command(("sandbox", "origin"), "server", ("--states", "D1")),
    Command(("doctor",), None),
    Command(("doctor", "scan"), "origin", ("--booking", "{P}", "--tables", "{P_tables}"),
            ("--booking", _UNKNOWN), ("--booking", _BAD), 4),
    Command(("doctor", "explain"), "origin", ("--booking", "{P}", "--tables", "{P_tables}"),
            ("--booking", _UNKNOWN), ("--booking", _BAD), 4),
    Command(("doctor", "plan"), "origin", ("--booking", "{P}", "--tables", "{P_tables}"),
            ("--booking", _UNKNOWN), ("--booking", _BAD), 4),
    Command(("doctor", "repair"), "origin", ("--booking", "{P}", "--tables", "{P_tables}", "--retry", "--yes"),
            ("--booking", _UNKNOWN, "--yes"), ("--booking", _BAD, "--yes"), 4),
    Command(("doctor", "undo"), "origin", (_UNKNOWN,), (_UNKNOWN,), (_BAD,)),
    Command(("doctor", "verify"), "origin", ("--booking", "{P}", "--tables", "{P_tables}"),
            ("--booking", _UNKNOWN), ("--booking", _BAD), 4),
    Command(("doctor", "journal"), "origin"),
    Command(("doctor", "docs"), None, ("--output", "{tmp}/doctor.md")),
    Command(("doctor", "gate"), "origin"),
    Command(("assign",), "tm", ("{booking}", "{tables}"), (_UNKNOWN, _UNKNOWN_2), (_BAD, _UNKNOWN_2), 4),
    Command(("unassign",), "tm", ("{booking}",), (_UNKNOWN,), (_BAD,), 4),
    Command(("hold",), None),
    Command(("hold", "create"), "tm", ("{restaurant}", "{tables}", *_WINDOW, "--booking", "{booking}"),
            (_UNKNOWN, _UNKNOWN_2, *_WINDOW), (_BAD, _UNKNOWN_2, *_WINDOW)),
    Command(("hold", "extend"), "tm", (_UNKNOWN,), (_UNKNOWN,), (_BAD,), 4),
    Command(("hold", "release"), "tm", (_UNKNOWN,), (_UNKNOWN,), (_BAD,), 4),
    Command(("hold", "confirm"), "tm", (_UNKNOWN,), (_UNKNOWN,), (_BAD,), 4),
    Command(("booking",), None),
    Command(("booking", "set-status"), "tm", ("{booking}", "cancelled"), (_UNKNOWN, "cancelled"),
            (_BAD, "cancelled"), 4),
    Command(("booking", "move"), "tm", ("{booking}", *_WINDOW), (_UNKNOWN, *_WINDOW), (_BAD, *_WINDOW), 4),
    Command(("booking", "show"), "tm", ("{booking}",), (_UNKNOWN,), (_BAD,), 4),
    Command(("sample",), "tm", ("--restaurants", "1", "--seed", "2")),
    Command(("serve",), "tm", ("--port", "0")),
    Command(("keys",), None),
    Command(("keys", "create"), "tm", ("--name", "x", "--all-restaurants", "--scope", "read")),
    Command(("keys", "list"), "tm"),
    Command(("keys", "revoke"), "tm", (_UNKNOWN,), (_UNKNOWN,), (_BAD,), 4),
)
_CASES = ("unknown-option", "not-a-uuid", "unknown-id", "unreachable", "missing-database")


def _params() -> Iterator[Any]:
    for command in COMMANDS:
        for case in _CASES:
            if case != "unknown-option" and command.db is None:
                continue  # no database, no id: only the option parser to test
            if case in ("not-a-uuid", "unknown-id") and command.unknown is None:
                continue
            yield pytest.param(command, case, id=f"{command.name}-{case}")


@dataclass(frozen=True)
class World:
    server: str
    dsns: dict[str, str]
    ids: dict[str, str]  # placeholder -> value
    tables: tuple[str, ...]


@pytest.fixture(scope="module")
def world(templates: TemplateFactory, server_dsn: str) -> Iterator[World]:
    """tablemend's schema with sample data, and the origin's schema with state D1: shared by every case (each one
    compares the row counts before and after, and none may change them)."""
    tm_name, tm = templates.fresh("tablemend", _build_tablemend)
    origin_name, origin = templates.fresh("origin", _build_origin)
    try:
        loaded = run("sample", "--restaurants", "1", "--dsn", tm, "-f", "json")
        assert loaded.returncode == 0, loaded.stderr
        restaurant = result_of(loaded.stdout)["restaurant_ids"][0]
        with psycopg.connect(tm) as conn:
            row = conn.execute("SELECT booking_id, array_agg(table_id ORDER BY table_id) FROM booking_table_assignments"
                               " GROUP BY booking_id ORDER BY booking_id LIMIT 1").fetchone()
        assert row is not None
        with db.connect(origin, autocommit=True) as conn:
            d1 = sandbox.seed_state(conn, "D1")
        yield World(server_dsn, {"tm": tm, "origin": origin},
                    {"{restaurant}": restaurant, "{booking}": str(row[0]), "{P}": str(d1.booking_id),
                     "{P_tables}": ",".join(map(str, d1.table_ids))},
                    tuple(str(t) for t in row[1]))
    finally:
        templates.drop(tm_name)
        templates.drop(origin_name)


def _fill(args: tuple[str, ...], world: World, tmp: Path) -> list[str]:
    out: list[str] = []
    for arg in args:
        if arg == "{tables}":
            out += world.tables
        else:
            out.append(world.ids.get(arg, arg).replace("{tmp}", str(tmp)))
    return out


def _counts(dsn: str) -> dict[str, int]:
    """Row count of every table, by relation, in one statement."""
    with psycopg.connect(dsn) as conn:
        relations = conn.execute(_RELATIONS).fetchall()
        per_table = [sql.SQL("SELECT {}, count(*) FROM {}").format(sql.Literal(f"{schema}.{name}"),
                                                                   sql.Identifier(schema, name))
                     for schema, name in relations]
        rows = conn.execute(sql.SQL(" UNION ALL ").join(per_table)).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def _database_exists(server: str, name: str) -> bool:
    with psycopg.connect(server) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _one_error_line(stderr: str) -> str:
    """The error line; only the CLI's indented ``detail:`` / ``hint:`` lines may follow it."""
    assert "Traceback" not in stderr, stderr
    lines = error_lines(stderr)
    assert lines and lines[0].startswith("error ["), stderr
    assert all(ln.startswith(("  detail:", "  hint:")) for ln in lines[1:]), stderr
    return lines[0]


@pytest.mark.parametrize(("command", "case"), list(_params()))
def test_bad_input_is_one_line_and_changes_nothing(command: Command, case: str, world: World,
                                                   tmp_path: Path) -> None:
    target = world.dsns.get(command.db or "")
    if command.db == "server":
        dsn_args = ["--dsn", world.server, "--database", _SCRATCH_DB]
    elif target is not None:
        dsn_args = ["--dsn", target]
    else:
        dsn_args = []
    args = [*command.words, *_fill(command.real, world, tmp_path), *dsn_args]
    expected_exit, needle = 2, ""
    if case == "unknown-option":
        args.append("--bogus")
        needle = "No such option: --bogus"
    elif case in ("not-a-uuid", "unknown-id"):
        assert command.unknown is not None and command.not_uuid is not None
        args = [*command.words, *(command.not_uuid if case == "not-a-uuid" else command.unknown), *dsn_args]
        needle = _BAD if case == "not-a-uuid" else ""
        expected_exit = 2 if case == "not-a-uuid" else command.unknown_exit
    else:
        bad_dsn = _UNREACHABLE if case == "unreachable" else dsn_for(world.server, _MISSING_DB)
        args = [a if a not in (target, world.server) else bad_dsn for a in args]
        needle = "cannot connect"

    before = _counts(target) if target else None
    home = tmp_path / "home"  # db start / url must not create a cluster on bad input
    done = run(*args, env={"TABLEMEND_HOME": str(home)}, timeout=60)

    assert done.returncode == expected_exit, (args, done.returncode, done.stdout, done.stderr)
    line = _one_error_line(done.stderr)
    assert needle in line, line
    if case == "unknown-id":
        assert _UNKNOWN in line or _UNKNOWN_2 in line, line  # names what it could not find
    assert done.stdout.strip() == "", done.stdout
    if target:
        assert _counts(target) == before
    assert not home.exists()
    assert not (tmp_path / "doctor.md").exists()
    if command.db == "server" or case == "missing-database":
        assert not _database_exists(world.server, _SCRATCH_DB)
        assert not _database_exists(world.server, _MISSING_DB)


@pytest.mark.parametrize("words", [("assign",), ("unassign",)])
def test_allocator_commands_refuse_a_database_without_tablemends_schema(words: tuple[str, ...],
                                                                        origin_dsn: str) -> None:
    with db.connect(origin_dsn, autocommit=True) as conn:
        d1 = sandbox.seed_state(conn, "D1")
    # P on its free table (the origin's function would assign it), or the cancelled blocker B (it would release B)
    args = ([str(d1.booking_id), str(d1.table_ids[1])] if words == ("assign",)
            else [str(d1.blocking_booking_ids[0])])
    before = _counts(origin_dsn)
    done = run(*words, *args, "--dsn", origin_dsn, timeout=60)
    assert _counts(origin_dsn) == before
    assert done.returncode == 2, done.stdout
    assert "migrate" in _one_error_line(done.stderr)


def test_db_url_without_a_database_name_starts_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run("db", "url", "--database", "", env={"TABLEMEND_HOME": str(home)})
    assert done.returncode == 2
    assert "--database" in _one_error_line(done.stderr)
    assert not home.exists()


@pytest.mark.parametrize("states", [("--states", "D1"), ("--states", "D4")])
def test_sandbox_origin_on_tablemends_own_schema_says_so(states: tuple[str, ...], tm_dsn: str) -> None:
    # tablemend's schema has tables of the same names as the origin's: it is not an origin sandbox lacking pieces
    before = _counts(tm_dsn)
    done = run("sandbox", "origin", "--dsn", tm_dsn, *states, timeout=60)
    assert done.returncode == 2, done.stdout
    line = _one_error_line(done.stderr)
    assert "tablemend's own schema" in line and "lacks" not in line
    assert _counts(tm_dsn) == before
