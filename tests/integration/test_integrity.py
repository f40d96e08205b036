"""The GiST rescan self-test (tablemend.integrity) and the workaround it switches, on the real server of the run."""

from __future__ import annotations

import dataclasses

import pytest

from tablemend import db, integrity
from tablemend.integrity import Verdict

#: measured with spec/gist-rescan-kill.sql and with the probe (docs/allocator.md §7); a server version missing here
#: fails the pin below until someone measures it and adds it
MEASURED: dict[str, Verdict] = {"15.18": Verdict.affected, "15.20": Verdict.fixed, "18.6": Verdict.affected}


def _minor(conn: db.Connection) -> str:
    row = conn.execute("SELECT current_setting('server_version') AS v").fetchone()
    assert row is not None
    return str(row["v"]).split()[0]


def test_probe_verdict_is_the_measured_one(empty_dsn: str) -> None:
    with db.connect(empty_dsn, autocommit=True) as conn:
        version = _minor(conn)
        assert version in MEASURED, f"PostgreSQL {version}: measure it with spec/gist-rescan-kill.sql and pin it"
        result = integrity.probe(conn)
    assert result.verdict is MEASURED[version], result
    assert result.heap_rows == 2001
    assert (result.index_rows == 2000) if result.verdict is Verdict.affected else (result.index_rows == 2001)
    assert result.workaround is (result.verdict is Verdict.affected)


def test_probe_leaves_nothing_behind_and_needs_no_extension(empty_dsn: str) -> None:
    with db.connect(empty_dsn, autocommit=True) as conn:
        before = conn.execute("SELECT count(*) AS n FROM pg_class").fetchone()
        assert conn.execute("SELECT count(*) AS n FROM pg_extension WHERE extname = 'btree_gist'").fetchone() == {
            "n": 0}
        first = integrity.probe(conn)
        assert first.verdict is not Verdict.unknown, first.reason
        assert conn.execute("SELECT count(*) AS n FROM pg_class").fetchone() == before
        assert conn.execute("SELECT to_regclass('pg_temp.tm_gist_probe') AS t").fetchone() == {"t": None}
        with conn.transaction():  # inside a caller's transaction: a savepoint, rolled back, same verdict
            conn.execute("CREATE TEMP TABLE keep_me (x int)")
            assert integrity.probe(conn).verdict is first.verdict
            assert conn.execute("SELECT current_setting('enable_seqscan') AS s").fetchone() == {"s": "on"}
            assert conn.execute("SELECT count(*) AS n FROM keep_me").fetchone() == {"n": 0}
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            read_only = integrity.probe(conn)
    assert read_only.verdict is Verdict.unknown and "read-only" in read_only.reason
    assert read_only.workaround  # unknown keeps the workaround


def test_migrate_records_the_verdict_and_sets_the_workaround_exactly_where_needed(tm_conn: db.Connection) -> None:
    expected = MEASURED[_minor(tm_conn)]
    state = integrity.workaround_state(tm_conn)
    assert len(state) == 15  # the 8 origin entries and the 7 restaurant-keyed variants of migration 0007
    assert set(state.values()) == {expected is Verdict.affected}, state
    row = tm_conn.execute("SELECT verdict, server_version = version() AS this_build, probe"
                          " FROM tablemend.server_checks").fetchone()
    assert row == {"verdict": expected.value, "this_build": True, "probe": integrity.probe_checksum()}
    cached = integrity.server_check(tm_conn)
    assert cached.cached and cached.verdict is expected


def test_apply_workaround_sets_and_resets_every_public_function(tm_conn: db.Connection) -> None:
    real = integrity.server_check(tm_conn)
    fixed = dataclasses.replace(real, verdict=Verdict.fixed)
    affected = dataclasses.replace(real, verdict=Verdict.affected)
    unknown = dataclasses.replace(real, verdict=Verdict.unknown)
    assert set(integrity.apply_workaround(tm_conn, fixed).values()) == {False}
    search_path = tm_conn.execute(
        "SELECT proconfig FROM pg_proc WHERE proname = 'assign_tables_atomic_v2'").fetchone()
    assert search_path is not None and any(c.startswith("search_path=") for c in search_path["proconfig"])
    assert set(integrity.apply_workaround(tm_conn, unknown).values()) == {True}
    assert set(integrity.apply_workaround(tm_conn, fixed).values()) == {False}
    assert set(integrity.apply_workaround(tm_conn, affected).values()) == {True}


@pytest.mark.parametrize("refresh", [False, True])
def test_server_check_caches_per_build(tm_conn: db.Connection, refresh: bool) -> None:
    first = integrity.server_check(tm_conn)
    again = integrity.server_check(tm_conn, refresh=refresh)
    assert again.verdict is first.verdict and again.cached is not refresh
