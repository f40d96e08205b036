"""GiST indexes that lost live entries (TMD023): find them by comparing rows with the index, rebuild them.

The GiST rescan bug (docs/allocator.md §7) marks live entries of an exclusion index dead; the table still has the
rows, the index no longer returns them, and the exclusion constraint no longer sees them. :func:`compare` counts each
occupancy table's rows per restaurant twice with the same query text: sequentially, and forced through the index (a
bitmap scan, which never marks entries dead itself; EXPLAIN confirms the index was used). amcheck is not used: the
servers tablemend runs on have no GiST check in it (18.6 has bt_index_check and gin_index_check only).

The repair is :func:`rebuild`, an *action* outside the repair transaction, journalled as an ``action`` entry that has
no undo (a rebuild changes no row): ``REINDEX INDEX CONCURRENTLY`` for a plain GiST index; for an exclusion
constraint's index, which PostgreSQL cannot rebuild concurrently ("concurrent index creation for exclusion constraints
is not supported"), a plain ``REINDEX INDEX`` in its own short transaction under ``lock_timeout``. Damage may
already have let a double booking in: the live-overlap check runs first (a rebuild of an exclusion index would fail on
it), refusing with the rows named; it runs again afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString

from psycopg import pq, sql

from tablemend import integrity, sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor import journal
from tablemend.doctor import profile as profiles
from tablemend.doctor.rules import Context, Finding
from tablemend.errors import IndexRebuildFailed, IndexRebuildRefused, RepairRefused, TablemendError, UsageError

_CHECK_SQL = "tmd023_gist_index_lost_entries.sql"
_SQL = "doctor/reindex.sql"
#: checks whose repair is an action outside the repair transaction
ACTION_CODES = frozenset({"TMD023"})
ACTION_REASON = "index rebuild: REINDEX INDEX CONCURRENTLY after the repair transaction (journalled; no undo)"
#: missing row ids kept per restaurant in a finding
_KEEP = 50


@dataclass(frozen=True)
class OccupancyIndex:
    """A GiST index of an occupancy table, and the queries (``count_<key>``, ``rows_<key>``) that check it."""

    key: str
    profile: str
    index: str
    relation: str
    overlap_key: str | None  # the live-overlap query of the table's exclusion constraint

    @property
    def qualified(self) -> str:
        return f"public.{self.index}"


INDEXES: tuple[OccupancyIndex, ...] = (
    OccupancyIndex("tm_assignments", "tablemend", "booking_table_assignments_no_overlap",
                   "booking_table_assignments", "tm_assignments"),
    OccupancyIndex("tm_hold_members", "tablemend", "table_hold_members_no_overlap", "table_hold_members",
                   "tm_hold_members"),
    OccupancyIndex("origin_assignments", "origin", "no_overlapping_table_assignments", "booking_table_assignments",
                   "origin_assignments"),
    OccupancyIndex("origin_assignment_windows", "origin", "booking_table_assignments_window_gist",
                   "booking_table_assignments", "origin_assignments"),
    OccupancyIndex("origin_hold_windows", "origin", "table_hold_windows_no_overlap", "table_hold_windows",
                   "origin_hold_windows"),
    OccupancyIndex("origin_allocations", "origin", "allocations_no_overlap", "allocations", "origin_allocations"),
)


def _q(name: str) -> LiteralString:
    return sqlfiles.split_named(sqlfiles.read_package_file("tablemend.doctor.checks", _CHECK_SQL))[name]


@dataclass(frozen=True)
class Comparison:
    """Rows per restaurant read sequentially and through the index; ``checked`` is False when the planner would not
    read through the index (nothing is claimed then)."""

    index: OccupancyIndex
    checked: bool
    heap: dict[uuid.UUID | None, int] = field(default_factory=dict)
    indexed: dict[uuid.UUID | None, int] = field(default_factory=dict)
    missing: dict[uuid.UUID | None, tuple[str, ...]] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return sum(max(n - self.indexed.get(r, 0), 0) for r, n in self.heap.items())

    @property
    def restaurants(self) -> dict[uuid.UUID | None, int]:
        return {r: n - self.indexed.get(r, 0) for r, n in self.heap.items() if n > self.indexed.get(r, 0)}


def present(conn: Connection, profile: str) -> list[OccupancyIndex]:
    """The profile's occupancy indexes that exist (and are valid) in this database."""
    wanted = [i for i in INDEXES if i.profile == profile]
    with translated():
        rows = conn.execute(_q("detect"), {"names": [i.index for i in wanted]}).fetchall()
    found = {(r["index"], r["relation"]) for r in rows if r["valid"]}
    return [i for i in wanted if (i.index, i.relation) in found]


def _counts(conn: Connection, query: LiteralString, restaurant: uuid.UUID | None) -> dict[uuid.UUID | None, int]:
    rows = conn.execute(query, {"restaurant": None if restaurant is None else str(restaurant)}).fetchall()
    return {r["restaurant_id"]: int(r["n"]) for r in rows}


def compare(conn: Connection, idx: OccupancyIndex, restaurant: uuid.UUID | None = None) -> Comparison:
    """Index versus heap, in the caller's transaction (a read-only snapshot will do)."""
    count = _q(f"count_{idx.key}")
    params = {"restaurant": None if restaurant is None else str(restaurant)}
    with translated():
        with integrity.planner(conn, "heap"):
            heap = _counts(conn, count, restaurant)
        with integrity.planner(conn, "bitmap"):
            if not integrity.plan_uses_index(conn, count, params, idx.index):
                return Comparison(idx, checked=False)
            indexed = _counts(conn, count, restaurant)
        missing: dict[uuid.UUID | None, tuple[str, ...]] = {}
        short = [r for r, n in heap.items() if n > indexed.get(r, 0) and r is not None]
        rows = _q(f"rows_{idx.key}")
        for rid in short:
            args = {"restaurant": str(rid)}
            with integrity.planner(conn, "heap"):
                all_rows = {r["row_id"] for r in conn.execute(rows, args).fetchall()}
            with integrity.planner(conn, "bitmap"):
                if not integrity.plan_uses_index(conn, rows, args, idx.index):
                    continue
                seen = {r["row_id"] for r in conn.execute(rows, args).fetchall()}
            missing[rid] = tuple(sorted(all_rows - seen)[:_KEEP])
    return Comparison(idx, True, heap, indexed, missing)


def overlaps(conn: Connection, idx: OccupancyIndex, limit: int = 50) -> list[dict[str, Any]]:
    """Live rows that break the table's exclusion constraint, read sequentially (the index may be the damaged one)."""
    if idx.overlap_key is None:
        return []
    with translated(), integrity.planner(conn, "heap"):
        rows = conn.execute(_q(f"overlap_{idx.overlap_key}")).fetchmany(limit)
    return [dict(r) for r in rows]


def by_name(name: str) -> OccupancyIndex:
    bare = name.removeprefix("public.")
    for idx in INDEXES:
        if idx.index == bare:
            return idx
    raise UsageError(f"{name} is not one of the occupancy indexes the doctor checks",
                     hint=", ".join(i.qualified for i in INDEXES))


def rebuild_selected(conn: Connection, ctx: Context, *, profile: str | None, all_safe: bool,
                     include: Sequence[str]) -> list[ActionResult]:
    """What ``doctor repair`` does before its transaction: rebuild each damaged index it was asked to
    (``--all-safe``, or the finding named with ``--include``). Others are left for :func:`refuse_row_repairs`."""
    from tablemend.doctor.scanner import scan

    if not all_safe and not any(i.startswith(tuple(ACTION_CODES)) for i in include):
        return []
    prof = profiles.detect(conn, profile)
    scope = Context(restaurant_id=ctx.restaurant_id)
    findings = [f for f in scan(conn, profile=prof, ctx=scope, codes=sorted(ACTION_CODES))
                if all_safe or f.id in include]
    return [rebuild(conn, f, profile=prof.name) for f in findings]


def sound(actions: Sequence[ActionResult], *, all_safe: bool) -> bool:
    """Whether :func:`rebuild_selected` has just seen every occupancy index in scope sound or rebuilt it sound (it
    looks at all of them with ``all_safe``): the repair transaction right after it need not read them again."""
    return all_safe and all(a.lost_after == 0 for a in actions)


def refuse_row_repairs(skipped: Iterable[tuple[Finding, str]]) -> None:
    """Row repairs read the occupancy tables through their indexes: with one that lost entries they would see rows
    as missing (a zone lock "without tables", say) and change live bookings' rows. Rebuild it first."""
    damaged = [f for f, why in skipped if why == ACTION_REASON]
    if damaged:
        raise RepairRefused(
            f"{', '.join(str(f.key.get('index')) for f in damaged)} lost live entries: no row repair reads through "
            "a damaged index; nothing was changed",
            details=" ".join(f.id for f in damaged),
            hint="`tablemend doctor repair --all-safe` (or --include the finding) rebuilds it first")


@dataclass(frozen=True)
class ActionResult:
    """One rebuild: the journal entry, the entries lost before and after, and the live overlaps found afterwards."""

    action_id: uuid.UUID
    index: str
    lost_before: int
    lost_after: int
    overlaps: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"action_id": self.action_id, "index": self.index, "lost_before": self.lost_before,
                "lost_after": self.lost_after, "overlaps": [dict(o) for o in self.overlaps]}


def _snapshot_compare(conn: Connection, idx: OccupancyIndex) -> tuple[Comparison, list[dict[str, Any]]]:
    with translated(), conn.transaction():
        conn.execute(sqlfiles.query("begin_snapshot", _SQL))
        return compare(conn, idx), overlaps(conn, idx)


def rebuild(conn: Connection, finding: Finding, *, profile: str, lock_timeout: str = "5s") -> ActionResult:
    """Rebuild the finding's index and journal it (``conn`` in autocommit, outside a transaction).

    ``REINDEX INDEX CONCURRENTLY`` where PostgreSQL allows it; an exclusion constraint's index it refuses to build
    concurrently, so that one gets a plain ``REINDEX INDEX`` in a transaction of its own under ``lock_timeout``
    (writes to the table wait while it runs).
    """
    if not conn.autocommit or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise UsageError("an index rebuild needs an autocommit connection outside a transaction")
    idx = by_name(str(finding.key.get("index", "")))
    before, pairs = _snapshot_compare(conn, idx)
    if pairs:
        raise IndexRebuildRefused(
            f"{idx.qualified} was not rebuilt: {len(pairs)} pair(s) of live rows of {idx.relation} already overlap "
            "(the damaged index let them in, and a rebuild would fail on them)",
            details="; ".join(f"{p['row_a']} overlaps {p['row_b']} on table {p['table_id']}" for p in pairs[:10]),
            hint="a person decides which booking moves (tablemend doctor scan, TMD006); then repair again")
    target = sql.Identifier("public", idx.index)
    with translated():
        kind = conn.execute(sqlfiles.query("is_exclusion", _SQL), {"index": idx.qualified}).fetchone()
    exclusion = bool(kind and kind["exclusion"])
    statement = sql.SQL("REINDEX INDEX {}" if exclusion else "REINDEX INDEX CONCURRENTLY {}").format(target)
    try:
        if exclusion:  # one short transaction that gives up rather than queue (PostgreSQL has no concurrent way)
            with translated(), conn.transaction():
                conn.execute(sqlfiles.query("lock_timeout", _SQL), {"lock_timeout": lock_timeout})
                conn.execute(statement)
        else:
            with translated():
                conn.execute(statement)
    except TablemendError as exc:
        if not exclusion:
            _drop_leftovers(conn, idx)
        raise IndexRebuildFailed(f"{statement.as_string(conn)} failed: [{exc.sqlstate}] {exc.message}",
                                 details=exc.details, hint="the old index is unchanged; retry when the table is "
                                 "quieter (lock_timeout), or see the server log") from exc
    after, pairs = _snapshot_compare(conn, idx)
    record = {**finding.as_row(), "action": "reindex", "statement": statement.as_string(conn),
              "lost_before": before.lost, "lost_after": after.lost, "overlaps_after": len(pairs)}
    with translated(), conn.transaction():
        journal.ensure_schema(conn)
        conn.execute(sqlfiles.query("journal_allow_action", _SQL))
        action_id = journal.write(conn, kind="action", profile=profile, changes=[], findings=[record])
    return ActionResult(action_id, idx.qualified, before.lost, after.lost, tuple(pairs))


def _drop_leftovers(conn: Connection, idx: OccupancyIndex) -> None:
    """Drop the invalid ``<index>_ccnew*`` copy a failed concurrent rebuild leaves behind."""
    with translated():
        rows = conn.execute(_q("repair_leftovers"), {"pattern": f"{idx.index}_ccnew%"}).fetchall()
        for row in rows:
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier("public", row["index"])))
