"""Server integrity: does the connected PostgreSQL have the GiST rescan bug, and where tablemend works around it.

The bug (docs/allocator.md §7, reproduced by ``spec/gist-rescan-kill.sql``): a plain GiST index scan that stops early
and is rescanned in the same statement marks a *live* entry dead, after which every index search, the exclusion
constraint's own check included, misses that row, so an overlapping row can commit. Measured: PostgreSQL 15.18 and
18.6 are affected, 15.20 is fixed.

:func:`probe` is a self-test derived from that reproduction: one transaction that is always rolled back, temporary
objects only, no extension (a range-only exclusion constraint), and no pageinspect: it counts the rows sequentially and
through the index (a bitmap scan) after provoking the bug, and says ``affected`` when the index misses one. The
verdict is cached per server build (``version()``) and probe text: in this process, and in
``tablemend.server_checks`` where ``migrate`` / ``tablemend db check`` recorded it.

The workaround is ``enable_indexscan = off`` (bitmap scans stay) in the public allocator functions' ``SET`` clauses;
:func:`apply_workaround` turns it on exactly when the verdict is not ``fixed``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.sql import Composable

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.errors import ServerProbeFailed, TablemendError

_SQL = "integrity.sql"
#: minor releases measured fixed (the probe is what decides; this is for messages)
KNOWN_FIXED = "15.20"
KNOWN_AFFECTED = ("15.18", "18.6")


class Verdict(str, enum.Enum):
    affected = "affected"
    fixed = "fixed"
    unknown = "unknown"  # the probe could not run (no TEMP privilege, read-only transaction, unexpected plan)


@dataclass(frozen=True)
class ServerCheck:
    """The probe's verdict for one server build, with the counts it is based on."""

    verdict: Verdict
    server_version: str
    version: str
    heap_rows: int | None = None
    index_rows: int | None = None
    reason: str = ""
    cached: bool = False
    checked_at: dt.datetime | None = None

    @property
    def workaround(self) -> bool:
        """True unless the server is known fixed (an unknown server keeps the workaround)."""
        return self.verdict is not Verdict.fixed

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "server_version": self.server_version,
                "heap_rows": self.heap_rows, "index_rows": self.index_rows, "reason": self.reason,
                "cached": self.cached, "workaround": self.workaround,
                "checked_at": None if self.checked_at is None else self.checked_at.astimezone(dt.UTC).isoformat()}

    def summary(self) -> str:
        if self.verdict is Verdict.affected:
            return (f"affected: PostgreSQL {self.server_version} lost {self.heap_rows - (self.index_rows or 0)} "
                    f"live GiST entry(ies) in the self-test (docs/allocator.md §7); upgrade to a fixed minor "
                    f"release (measured fixed: {KNOWN_FIXED})") if self.heap_rows is not None else "affected"
        if self.verdict is Verdict.fixed:
            return f"fixed: PostgreSQL {self.server_version} passed the GiST rescan self-test"
        return f"unknown: {self.reason}"


def probe_checksum() -> str:
    """Identifies the probe's SQL: a changed probe never trusts a verdict cached by another one."""
    names = ("probe_table", "probe_dead_row", "probe_live_row", "probe_fill_function", "probe_rescan", "probe_count")
    text = "\n".join(sqlfiles.query(n, _SQL) for n in names)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_cache: dict[tuple[str, str], ServerCheck] = {}
_cache_lock = threading.Lock()


def _q(name: str) -> LiteralString:
    return sqlfiles.query(name, _SQL)


def _plan_nodes(plan: Any) -> list[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, depth first, each with its parent's node type."""
    out: list[dict[str, Any]] = []

    def walk(node: dict[str, Any], parent: str | None) -> None:
        out.append({**node, "_parent": parent})
        for child in node.get("Plans", ()):
            walk(child, node.get("Node Type"))

    root = plan[0]["Plan"] if isinstance(plan, list) else plan["Plan"]
    walk(root, None)
    return out


def _explain(conn: Connection, name: str) -> list[dict[str, Any]]:
    row = conn.execute(_q(name)).fetchone()
    assert row is not None
    value = next(iter(row.values()))
    return _plan_nodes(json.loads(value) if isinstance(value, str) else value)


def _uses_index(nodes: list[dict[str, Any]], node_type: str, index: str) -> bool:
    return any(n.get("Node Type") == node_type and n.get("Index Name") == index for n in nodes)


def _version(conn: Connection) -> dict[str, Any]:
    with translated():
        row = conn.execute(_q("server_version")).fetchone()
    assert row is not None
    return dict(row)


def probe(conn: Connection) -> ServerCheck:
    """Run the self-test now (no cache). A probe that cannot run returns ``unknown`` with the reason."""
    info = _version(conn)
    base = ServerCheck(Verdict.unknown, info["server_version"], info["version"])
    if info["read_only"]:
        return dataclasses.replace(base, reason="the transaction is read-only (the probe needs a temporary table)")
    try:
        with translated(), conn.transaction(force_rollback=True):
            conn.execute(_q("probe_table"))
            with conn.transaction() as dead:  # an aborted insert: a heap row dead to everyone, its entry first
                conn.execute(_q("probe_dead_row"))
                raise psycopg.Rollback(dead)
            conn.execute(_q("probe_live_row"))
            conn.execute(_q("probe_fill_function"))
            conn.execute(_q("probe_plain_index_scans"))
            rescan = _explain(conn, "probe_rescan_plan")
            inner = [n for n in rescan if n.get("Node Type") == "Index Scan"
                     and n.get("Index Name") == "tm_gist_probe_excl"]
            if not inner or not any(n.get("Node Type") == "Nested Loop" for n in rescan):
                return dataclasses.replace(base, reason="the planner did not choose the rescanned plain index scan")
            conn.execute(_q("probe_rescan")).fetchall()
            conn.execute(_q("heap_only"))
            heap = _count(conn)
            conn.execute(_q("bitmap_only"))
            if not _uses_index(_explain(conn, "probe_count_plan"), "Bitmap Index Scan", "tm_gist_probe_excl"):
                return dataclasses.replace(base, reason="the planner did not count through the probe's index")
            index = _count(conn)
    except TablemendError as exc:
        return dataclasses.replace(base, reason=f"the probe could not run: [{exc.sqlstate}] {exc.message}")
    verdict = Verdict.affected if index < heap else Verdict.fixed
    return dataclasses.replace(base, verdict=verdict, heap_rows=heap, index_rows=index,
                               checked_at=dt.datetime.now(dt.UTC))


def _count(conn: Connection) -> int:
    row = conn.execute(_q("probe_count")).fetchone()
    assert row is not None
    return int(row["n"])


def server_check(conn: Connection, *, refresh: bool = False, record: bool = False) -> ServerCheck:
    """The verdict for the connected server: cached per build and probe, else probed (``refresh`` always probes).

    ``record`` also stores a definite verdict in ``tablemend.server_checks`` (``migrate`` and ``db check`` do; it
    needs that table, so tablemend's schema at 0004 or later).
    """
    info = _version(conn)
    key = (str(info["version"]), probe_checksum())
    if not refresh:
        with _cache_lock:
            hit = _cache.get(key)
        if hit is None:
            hit = _from_table(conn, key, str(info["server_version"]))
        if hit is not None:
            if record:
                _record(conn, key, hit)
            return hit
    result = probe(conn)
    if result.verdict is not Verdict.unknown:
        with _cache_lock:
            _cache[key] = dataclasses.replace(result, cached=True)
        if record:
            _record(conn, key, result)
    return result


def _from_table(conn: Connection, key: tuple[str, str], server_version: str) -> ServerCheck | None:
    """The verdict ``migrate`` / ``db check`` recorded, when the table exists and may be read."""
    try:
        with translated(), conn.transaction():  # a savepoint inside a caller's transaction: a refusal stays here
            present = conn.execute(_q("cache_present")).fetchone()
            if not present or not present["present"]:
                return None
            row = conn.execute(_q("cache_get"), {"version": key[0], "probe": key[1]}).fetchone()
    except TablemendError:
        return None
    if row is None:
        return None
    found = ServerCheck(Verdict(row["verdict"]), server_version, key[0], row["heap_rows"], row["index_rows"],
                        cached=True, checked_at=row["checked_at"])
    with _cache_lock:
        _cache[key] = found
    return found


def _record(conn: Connection, key: tuple[str, str], result: ServerCheck) -> None:
    if result.verdict is Verdict.unknown:
        return
    with translated(), conn.transaction():
        present = conn.execute(_q("cache_present")).fetchone()
        if present and present["present"]:
            conn.execute(_q("cache_put"), {"version": key[0], "probe": key[1], "verdict": result.verdict.value,
                                           "heap_rows": result.heap_rows, "index_rows": result.index_rows})


def cached(conn: Connection) -> ServerCheck | None:
    """The verdict known without probing (this process, or the table), or None; safe in a read-only snapshot."""
    info = _version(conn)
    key = (str(info["version"]), probe_checksum())
    with _cache_lock:
        hit = _cache.get(key)
    return hit if hit is not None else _from_table(conn, key, str(info["server_version"]))


@contextlib.contextmanager
def planner(conn: Connection, mode: str) -> Iterator[None]:
    """Inside the caller's transaction: read only sequentially (``heap``) or only through bitmap index scans
    (``bitmap``), then put the planner settings back as they were."""
    if mode not in ("heap", "bitmap"):
        raise ValueError(mode)
    with translated():
        saved = conn.execute(_q("planner_get")).fetchone()
        conn.execute(_q("heap_only" if mode == "heap" else "bitmap_only"))
    try:
        yield
    finally:
        with translated():
            conn.execute(_q("planner_restore"), saved)


def plan_uses_index(conn: Connection, query: Composable | LiteralString, params: Mapping[str, Any],
                    index: str) -> bool:
    """Whether EXPLAIN of ``query`` reads the index named ``index`` with a bitmap index scan."""
    explain = sql.SQL("EXPLAIN (FORMAT JSON, COSTS OFF) {}").format(
        query if isinstance(query, Composable) else sql.SQL(query))
    with translated():
        row = conn.execute(explain, params).fetchone()
    assert row is not None
    value = next(iter(row.values()))
    return _uses_index(_plan_nodes(json.loads(value) if isinstance(value, str) else value), "Bitmap Index Scan",
                       index)


# --- the workaround -----------------------------------------------------------------------------------------------


def workaround_state(conn: Connection) -> dict[str, bool]:
    """``{function: enable_indexscan is off}`` for the public allocator functions (empty without the schema)."""
    with translated():
        return {str(r["name"]): bool(r["indexscan_off"]) for r in conn.execute(_q("workaround_state")).fetchall()}


def apply_workaround(conn: Connection, check: ServerCheck) -> dict[str, bool]:
    """Set (``affected`` / ``unknown``) or reset (``fixed``) the functions' ``enable_indexscan``, in one transaction.

    Returns the state afterwards. Needs to own the functions (``migrate`` does).
    """
    with translated(), conn.transaction():
        conn.execute(_q("workaround_lock"))
        conn.execute(_q("workaround_on" if check.workaround else "workaround_off"))
        return workaround_state(conn)


def require_probe(conn: Connection) -> ServerCheck:
    """A fresh verdict, or :class:`ServerProbeFailed` when the probe cannot run (``tablemend db check``)."""
    result = server_check(conn, refresh=True, record=True)
    if result.verdict is Verdict.unknown:
        raise ServerProbeFailed(f"cannot tell whether the server has the GiST rescan bug: {result.reason}",
                                details=f"server_version={result.server_version}",
                                hint="run it as the schema owner, with the TEMPORARY privilege on the database")
    return result
