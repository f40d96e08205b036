"""Set-based undo: restore a repair's before-images with a few statements per relation, however many rows.

The journal's changes are folded in the database into one net change per row (restore the first before-image;
the last after-image must still be there). Each relation is then checked (a row that moved on since the repair, or
exists again, refuses the undo and is named) and restored with one DELETE, one UPDATE and one INSERT, without user
triggers (``session_replication_role = replica``, so rows come back byte-identical); every restored row's foreign
keys are checked with one query per key. Used when the replica role may be set; otherwise ``undo`` restores row by
row with triggers firing, in journal order.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, LiteralString

from psycopg import sql

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor.changes import Recorder
from tablemend.errors import TablemendError, UndoConflict

_FILE = "doctor/restore.sql"


def _q(name: str) -> LiteralString:
    return sqlfiles.query(name, _FILE)


def fold(conn: Connection, journal_id: uuid.UUID) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Load the net changes of one journal entry; returns the bookings and tables it touched (to lock)."""
    with translated():
        conn.execute(_q("load"))
        conn.execute(_q("fold"), {"journal_id": journal_id})
        row = conn.execute(_q("locked_ids")).fetchone()
    return (list(row["bookings"]), list(row["tables"])) if row else ([], [])


def _parts(recorder: Recorder, relation: str) -> dict[str, Any]:
    schema, name = relation.split(".", 1)
    pk = recorder.primary_key(relation)
    cols = recorder.writable_columns(relation)
    return {
        "rel": sql.Identifier(schema, name),
        "t_pk": sql.SQL(", ").join(sql.Identifier("t", c) for c in pk),
        "k_pk": sql.SQL(", ").join(sql.Identifier("k", c) for c in pk),
        "r_pk": sql.SQL(", ").join(sql.Identifier("r", c) for c in pk),
        "cols": sql.SQL(", ").join(sql.Identifier(c) for c in cols),
        "r_cols": sql.SQL(", ").join(sql.Identifier("r", c) for c in cols),
    }


def restore(conn: Connection, recorder: Recorder) -> None:
    """Check, then restore every relation of the folded entry (replica role already set by the caller)."""
    with translated():
        relations = [str(r["relation"]) for r in conn.execute(_q("relations")).fetchall()]
    for relation in relations:
        _check(conn, recorder, relation)
    for relation in relations:
        _apply(conn, recorder, relation)
    for relation in relations:
        _check_references(conn, recorder, relation)


def _check(conn: Connection, recorder: Recorder, relation: str) -> None:
    p = _parts(recorder, relation)
    lock = sql.SQL("SELECT 1 FROM pg_temp.tmd_net n CROSS JOIN LATERAL jsonb_populate_record(NULL::{rel}, n.pk) k "
                   "JOIN {rel} t ON ({t_pk}) = ({k_pk}) WHERE n.relation = %(relation)s FOR UPDATE OF t").format(**p)
    moved = sql.SQL("SELECT n.pk, n.expected, to_jsonb(t) AS now FROM pg_temp.tmd_net n "
                    "CROSS JOIN LATERAL jsonb_populate_record(NULL::{rel}, n.pk) k "
                    "LEFT JOIN {rel} t ON ({t_pk}) = ({k_pk}) "
                    "WHERE n.relation = %(relation)s AND to_jsonb(t) IS DISTINCT FROM n.expected "
                    "ORDER BY n.first_seq LIMIT 1").format(**p)
    with translated():
        conn.execute(lock, {"relation": relation})
        row = conn.execute(moved, {"relation": relation}).fetchone()
    if row is None:
        return
    name = f"{relation} {json.dumps(dict(row['pk']), sort_keys=True)}"
    if row["expected"] is None:
        raise UndoConflict(f"cannot undo: row {name} exists again", hint="a later write re-created it")
    raise UndoConflict(f"cannot undo: row {name} changed after the repair",
                       details=None if row["now"] is None else f"current row: {json.dumps(row['now'], sort_keys=True)}",
                       hint="undo refuses to overwrite later writes; restore by hand from the journal")


def _apply(conn: Connection, recorder: Recorder, relation: str) -> None:
    p = _parts(recorder, relation)
    statements = [
        sql.SQL("DELETE FROM {rel} t USING pg_temp.tmd_net n CROSS JOIN LATERAL "
                "jsonb_populate_record(NULL::{rel}, n.pk) k "
                "WHERE n.relation = %(relation)s AND n.target IS NULL AND ({t_pk}) = ({k_pk})").format(**p),
        sql.SQL("UPDATE {rel} t SET ({cols}) = ROW({r_cols}) FROM pg_temp.tmd_net n CROSS JOIN LATERAL "
                "jsonb_populate_record(NULL::{rel}, n.target) r "
                "WHERE n.relation = %(relation)s AND n.target IS NOT NULL AND n.expected IS NOT NULL "
                "AND ({t_pk}) = ({r_pk})").format(**p),
        sql.SQL("INSERT INTO {rel} ({cols}) SELECT {r_cols} FROM pg_temp.tmd_net n CROSS JOIN LATERAL "
                "jsonb_populate_record(NULL::{rel}, n.target) r "
                "WHERE n.relation = %(relation)s AND n.target IS NOT NULL AND n.expected IS NULL").format(**p),
    ]
    try:
        with translated(), conn.transaction():
            for statement in statements:
                conn.execute(statement, {"relation": relation})
    except TablemendError as exc:
        if exc.sqlstate in ("23505", "23P01", "23503"):
            raise UndoConflict(f"cannot undo: restoring {relation} conflicts with current data: {exc.message}",
                               details=exc.details, hint="the conflicting row was written after the repair") from exc
        raise


def _check_references(conn: Connection, recorder: Recorder, relation: str) -> None:
    """Restored rows must point at existing rows (the replica role skipped the foreign-key triggers)."""
    schema, name = relation.split(".", 1)
    for fk in recorder._foreign_keys(relation):
        not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier("r", c))
                                         for c in fk["columns"])
        query = sql.SQL(
            "SELECT n.pk, to_jsonb(r) AS row FROM pg_temp.tmd_net n "
            "CROSS JOIN LATERAL jsonb_populate_record(NULL::{rel}, n.target) r "
            "WHERE n.relation = %(relation)s AND n.target IS NOT NULL AND {not_null} "
            "AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE ({pcols}) = ({cols})) ORDER BY n.first_seq LIMIT 1"
        ).format(rel=sql.Identifier(schema, name), not_null=not_null,
                 parent=sql.Identifier(fk["parent_schema"], fk["parent_table"]),
                 pcols=sql.SQL(", ").join(sql.Identifier("p", c) for c in fk["parent_columns"]),
                 cols=sql.SQL(", ").join(sql.Identifier("r", c) for c in fk["columns"]))
        with translated():
            row = conn.execute(query, {"relation": relation}).fetchone()
        if row is not None:
            values = dict(row["row"])
            raise UndoConflict(f"cannot undo: restored row {relation} {json.dumps(dict(row['pk']), sort_keys=True)} "
                               f"would break foreign key {fk['name']}",
                               details=f"no {fk['parent_schema']}.{fk['parent_table']} row with "
                               f"({', '.join(fk['parent_columns'])}) = "
                               f"({', '.join(str(values[c]) for c in fk['columns'])})",
                               hint="the referenced row was deleted after the repair")


def journal_inverse(conn: Connection, journal_id: uuid.UUID, undo_id: uuid.UUID) -> int:
    with translated():
        conn.execute(_q("journal_inverse"), {"journal_id": journal_id, "undo_id": undo_id})
        row = conn.execute(_q("count"), {"journal_id": journal_id}).fetchone()
    return int(row["n"]) if row else 0
