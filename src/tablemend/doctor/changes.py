"""Row changes of a repair: before/after snapshots of the rows in scope, their diff, and the inverse (undo).

A repair names the ids it may touch (a :class:`~tablemend.doctor.rules.Scope`); the recorder snapshots every row of
those ids in every relation that matters (``to_jsonb``), runs the repair (triggers and foreign-key actions included),
snapshots again and keeps the difference. So the journal holds exactly what changed, however it changed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, LiteralString

from psycopg import sql
from psycopg.types.json import Jsonb

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor.rules import Scope
from tablemend.errors import TablemendError, UndoConflict

Op = Literal["insert", "update", "delete"]
Snapshot = dict[tuple[str, str], dict[str, Any]]


@dataclass(frozen=True)
class RowChange:
    relation: str
    op: Op
    pk: Mapping[str, Any]
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None

    def as_row(self) -> dict[str, Any]:
        changed: list[str] = []
        if self.before is not None and self.after is not None:
            changed = sorted(k for k in self.after if self.before.get(k) != self.after.get(k))
        return {"relation": self.relation, "op": self.op, "pk": dict(self.pk), "changed": changed,
                "before": self.before, "after": self.after}


_CHANGELOG = "doctor/changelog.sql"
#: row columns that name an id a finding's scope can own
ID_COLUMNS = ("id", "booking_id", "table_id", "resource_id", "hold_id", "allocation_id", "merge_group_id",
              "merge_group_allocation_id")


def snapshot_queries(relations: frozenset[str], profile: str,
                     columns: frozenset[str] | None) -> list[tuple[str, LiteralString]]:
    """The profile's snapshot queries that can run here, as (id list, query) pairs. Only base tables are snapshotted
    (tablemend's "allocations" is a view over assignments); a query is named "<relation>__<ids>[__<column>]" and
    runs only when that id list is non-empty (and, with ``columns`` known, when the column exists)."""
    chosen: list[tuple[str, LiteralString]] = []
    for name, q in sqlfiles.queries(f"doctor/snapshot_{profile}.sql").items():
        relation, ids, *column = name.split("__")
        if f"public.{relation}" not in relations:
            continue
        if columns is not None and column and f"public.{relation}.{column[0]}" not in columns:
            continue
        chosen.append((ids, q))
    return chosen


class ChangeLog:
    """A repair's row changes kept in the database (temporary tables of the current transaction), never in memory.

    ``begin_round`` snapshots the rows in scope, ``end_round`` snapshots them again and appends the difference; the
    log is journalled with one statement (:meth:`journal`) or streamed through a server-side cursor (:meth:`stream`).
    """

    def __init__(self, conn: Connection, relations: frozenset[str], profile: str = "origin",
                 columns: frozenset[str] | None = None):
        self.conn = conn
        self.queries = snapshot_queries(relations, profile, columns)
        snapshot_relations = sorted({f"public.{name.split('__')[0]}"
                                     for name in sqlfiles.queries(f"doctor/snapshot_{profile}.sql")} & relations)
        self._scope: dict[str, list[uuid.UUID]] = {}
        with translated():
            conn.execute(_cl("create"))
            conn.execute(_cl("primary_keys"), {"relations": snapshot_relations})

    def _snapshot(self, phase: str) -> None:
        with translated():
            for ids, query in self.queries:
                if not self._scope[ids]:
                    continue
                # the primary key of each row, as jsonb, from the relation's key columns
                statement = sql.SQL("INSERT INTO pg_temp.tmd_rows (phase, relation, pk, row) "
                                    "SELECT {phase}, s.relation, (SELECT jsonb_object_agg(c, s.row -> c) "
                                    "FROM unnest(p.cols) AS c), s.row FROM ({query}) s "
                                    "JOIN pg_temp.tmd_pk p ON p.relation = s.relation").format(
                    phase=sql.Literal(phase), query=sql.SQL(query.rstrip().rstrip(";")))
                self.conn.execute(statement, self._scope)

    def begin_round(self, scope: Scope, owners: Mapping[str, Sequence[str]]) -> None:
        """Snapshot the rows of ``scope`` before a round of repairs; ``owners`` maps an id to the findings naming it
        (a table id owns a changed row only when none of the row's other ids does)."""
        self._scope = {"bookings": sorted(scope.bookings), "tables": sorted(scope.tables),
                       "holds": sorted(scope.holds), "allocations": sorted(scope.allocations)}
        pairs = [(i, f) for i, fs in owners.items() for f in fs]
        with translated():
            self.conn.execute(_cl("reset_round"))
            if pairs:
                tables = {str(t) for t in scope.tables}
                self.conn.execute(_cl("owners"), {"ids": [p[0] for p in pairs], "finding_ids": [p[1] for p in pairs],
                                                  "is_table": [p[0] in tables for p in pairs]})
        self._snapshot("before")

    def end_round(self, sole: str | None = None) -> None:
        """Snapshot again and append the differences (all owned by ``sole`` when the round had one finding)."""
        self._snapshot("after")
        with translated():
            self.conn.execute(_cl("analyze"))
            self.conn.execute(_cl("diff"), {"sole": sole, "id_columns": list(ID_COLUMNS)})
            self.conn.execute(_cl("reset_round"))

    def count(self) -> int:
        with translated():
            row = self.conn.execute(_cl("count")).fetchone()
        return int(row["n"]) if row else 0

    def deleted_by_relation(self) -> dict[str, int]:
        with translated():
            return {str(r["relation"]): int(r["n"]) for r in self.conn.execute(_cl("deleted_by_relation"))}

    def journal(self, journal_id: uuid.UUID) -> None:
        with translated():
            self.conn.execute(_cl("journal"), {"journal_id": journal_id})

    def stream(self, itersize: int = 1000) -> Iterator[tuple[RowChange, tuple[str, ...]]]:
        """Every change in order, through a server-side cursor (memory stays flat)."""
        with translated(), self.conn.cursor(name="tmd_changes") as cur:
            cur.itersize = itersize
            cur.execute(_cl("changes"))
            for r in cur:
                yield (RowChange(str(r["relation"]), r["op"], r["pk"], r["before"], r["after"]),
                       tuple(r["finding_ids"] or ()))


    def stream_json(self, itersize: int = 1000) -> Iterator[str]:
        """Every change in order as one line of JSON built by the database (no parsing, no re-encoding here)."""
        with translated(), self.conn.cursor(name="tmd_changes_json") as cur:
            cur.itersize = itersize
            cur.execute(_cl("changes_json"))
            for r in cur:
                yield str(r["line"])


def _cl(name: str) -> LiteralString:
    return sqlfiles.query(name, _CHANGELOG)


class Recorder:
    """Snapshots and restores rows of one profile's relations on one connection."""

    def __init__(self, conn: Connection, relations: frozenset[str], profile: str = "origin",
                 columns: frozenset[str] | None = None):
        self.conn = conn
        self.queries = snapshot_queries(relations, profile, columns)
        self._pk: dict[str, list[str]] = {}
        self._cols: dict[str, list[str]] = {}
        self._fks: dict[str, list[dict[str, Any]]] = {}

    def primary_key(self, relation: str) -> list[str]:
        if relation not in self._pk:
            rows = self.conn.execute(sqlfiles.query("primary_key", "doctor/catalog.sql"), {"relation": relation})
            self._pk[relation] = [str(r["column_name"]) for r in rows.fetchall()]
        return self._pk[relation]

    def writable_columns(self, relation: str) -> list[str]:
        if relation not in self._cols:
            rows = self.conn.execute(sqlfiles.query("writable_columns", "doctor/catalog.sql"), {"relation": relation})
            self._cols[relation] = [str(r["column_name"]) for r in rows.fetchall()]
        return self._cols[relation]

    def snapshot(self, scope: Scope) -> Snapshot:
        params = {"bookings": sorted(scope.bookings), "tables": sorted(scope.tables), "holds": sorted(scope.holds),
                  "allocations": sorted(scope.allocations)}
        rows: Snapshot = {}
        with translated():
            for ids, query in self.queries:
                if not params[ids]:
                    continue
                for rec in self.conn.execute(query, params).fetchall():
                    relation, row = str(rec["relation"]), dict(rec["row"])
                    pk = {c: row[c] for c in self.primary_key(relation)}
                    rows[(relation, json.dumps(pk, sort_keys=True))] = row
        return rows

    def diff(self, before: Snapshot, after: Snapshot) -> list[RowChange]:
        changes: list[RowChange] = []
        for ident in sorted(before.keys() | after.keys()):
            old, new = before.get(ident), after.get(ident)
            if old == new:
                continue
            op: Op = "insert" if old is None else "delete" if new is None else "update"
            changes.append(RowChange(ident[0], op, json.loads(ident[1]), old, new))
        return changes

    # --- inverse ------------------------------------------------------------------------------------------------

    def _rel(self, relation: str) -> sql.Identifier:
        schema, name = relation.split(".", 1)
        return sql.Identifier(schema, name)

    def _pk_match(self, relation: str) -> sql.Composed:
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in self.primary_key(relation))
        return sql.SQL("({cols}) = (SELECT {cols} FROM jsonb_populate_record(NULL::{rel}, %(key)s))").format(
            cols=cols, rel=self._rel(relation))

    def current(self, relation: str, pk: Mapping[str, Any]) -> dict[str, Any] | None:
        query = sql.SQL("SELECT to_jsonb(t) AS row FROM {rel} t WHERE {match} FOR UPDATE").format(
            rel=self._rel(relation), match=self._pk_match(relation))
        with translated():
            found = self.conn.execute(query, {"key": Jsonb(dict(pk))}).fetchone()
        return None if found is None else dict(found["row"])

    def undo(self, change: RowChange) -> None:
        """Apply the inverse of one change; refuse (naming the row) when the row moved on or would conflict."""
        name = f"{change.relation} {json.dumps(dict(change.pk), sort_keys=True)}"
        now = self.current(change.relation, change.pk)
        if change.op in ("insert", "update") and now != change.after:
            raise UndoConflict(f"cannot undo: row {name} changed after the repair",
                               details=None if now is None else f"current row: {json.dumps(now, sort_keys=True)}",
                               hint="undo refuses to overwrite later writes; restore by hand from the journal")
        if change.op == "delete" and now is not None:
            raise UndoConflict(f"cannot undo: row {name} exists again", hint="a later write re-created it")
        rel = self._rel(change.relation)
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in self.writable_columns(change.relation))
        if change.op == "insert":
            statement = sql.SQL("DELETE FROM {rel} t WHERE {match}").format(rel=rel,
                                                                              match=self._pk_match(change.relation))
        elif change.op == "delete":
            statement = sql.SQL("INSERT INTO {rel} ({cols}) SELECT {cols} "
                                "FROM jsonb_populate_record(NULL::{rel}, %(row)s)").format(rel=rel, cols=cols)
        else:
            statement = sql.SQL("UPDATE {rel} t SET ({cols}) = (SELECT {cols} FROM "
                                "jsonb_populate_record(NULL::{rel}, %(row)s)) WHERE {match}").format(
                rel=rel, cols=cols, match=self._pk_match(change.relation))
        params = {"key": Jsonb(dict(change.pk)), "row": Jsonb(dict(change.before or {}))}
        try:
            with translated(), self.conn.transaction():
                self.conn.execute(statement, params)
        except TablemendError as exc:
            if exc.sqlstate in ("23505", "23P01", "23503"):
                raise UndoConflict(f"cannot undo: restoring row {name} conflicts with current data: {exc.message}",
                                   details=exc.details, hint="the conflicting row was written after the repair"
                                   ) from exc
            raise

    def check_references(self, change: RowChange) -> None:
        """A restored row must still point at existing rows: undo may run without triggers (so without the
        foreign-key triggers), so it checks each foreign key of the row itself and refuses, naming both."""
        if change.op == "insert" or change.before is None:
            return
        row = dict(change.before)
        for fk in self._foreign_keys(change.relation):
            if any(row.get(col) is None for col in fk["columns"]):
                continue  # MATCH SIMPLE: a NULL column satisfies the key
            query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {parent} p WHERE ({pcols}) = "
                            "(SELECT {cols} FROM jsonb_populate_record(NULL::{rel}, %(row)s))) AS ok").format(
                parent=sql.Identifier(fk["parent_schema"], fk["parent_table"]),
                pcols=sql.SQL(", ").join(sql.Identifier("p", c) for c in fk["parent_columns"]),
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in fk["columns"]),
                rel=self._rel(change.relation))
            with translated():
                found = self.conn.execute(query, {"row": Jsonb(row)}).fetchone()
            if not (found and found["ok"]):
                name = f"{change.relation} {json.dumps(dict(change.pk), sort_keys=True)}"
                raise UndoConflict(f"cannot undo: restored row {name} would break foreign key {fk['name']}",
                                   details=f"no {fk['parent_schema']}.{fk['parent_table']} row with "
                                   f"({', '.join(fk['parent_columns'])}) = "
                                   f"({', '.join(str(row[c]) for c in fk['columns'])})",
                                   hint="the referenced row was deleted after the repair")

    def _foreign_keys(self, relation: str) -> list[dict[str, Any]]:
        if relation not in self._fks:
            with translated():
                rows = self.conn.execute(sqlfiles.query("foreign_keys", "doctor/catalog.sql"),
                                         {"relation": relation}).fetchall()
            self._fks[relation] = [dict(r) for r in rows]
        return self._fks[relation]


def uuids(values: Any) -> list[uuid.UUID]:
    return [v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)) for v in values or ()]
