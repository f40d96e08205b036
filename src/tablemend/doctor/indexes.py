"""The indexes TMD032 recommends: created before a repair (``repair --create-indexes``), dropped by ``undo``.

``CREATE INDEX CONCURRENTLY`` cannot run inside a transaction, so each index is built on its own, outside the repair
transaction, without blocking writes; the journal then gets one entry for all of them (relation
``tablemend_doctor.index``), so ``doctor undo`` drops them again (``DROP INDEX CONCURRENTLY``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from psycopg import pq, sql

from tablemend.db import Connection, translated
from tablemend.doctor import costs, journal
from tablemend.doctor import profile as profiles
from tablemend.doctor.changes import RowChange
from tablemend.errors import IndexBuildFailed, IndexesNeedAutocommit, TablemendError

#: the journal's relation name for an index the doctor created
RELATION = "tablemend_doctor.index"


@dataclass(frozen=True)
class IndexEntry:
    journal_id: uuid.UUID
    indexes: tuple[str, ...]


def _outside_transaction(conn: Connection, what: str) -> None:
    if conn.info.transaction_status != pq.TransactionStatus.IDLE or not conn.autocommit:
        raise IndexesNeedAutocommit(f"{what} runs CONCURRENTLY, so it needs an autocommit connection outside a "
                                    "transaction")


def create(conn: Connection) -> IndexEntry | None:
    """Build every recommended index (TMD032, however small the table) and journal them; None when none is missing."""
    _outside_transaction(conn, "creating indexes")
    traps = costs.traps(conn)
    if not traps:
        return None
    made: list[tuple[costs.Trap, str]] = []
    for trap in traps:
        relation = sql.Identifier(*trap.relation.split(".", 1))
        name = sql.Identifier(trap.schema, trap.index_name)
        statement = sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {rel} ({cols})").format(
            name=sql.Identifier(trap.index_name), rel=relation,
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in trap.columns))
        try:
            with translated():
                conn.execute(statement)
        except TablemendError as exc:
            # a failed concurrent build leaves an invalid index behind: drop it
            with translated():
                conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name))
            raise IndexBuildFailed(f"could not create index {trap.schema}.{trap.index_name} for foreign key "
                                   f"{trap.constraint}; nothing was repaired", details=exc.message,
                                   hint=f"create it by hand: {trap.index_sql}") from exc
        made.append((trap, f"{trap.schema}.{trap.index_name}"))
    prof = profiles.detect(conn)
    changes = [(RowChange(RELATION, "insert", {"index": qualified}, None,
                          {"index": qualified, "definition": trap.index_sql, "constraint": trap.constraint}),
                ("TMD032",)) for trap, qualified in made]
    with translated(), conn.transaction():
        entry = journal.write(conn, kind="repair", profile=prof.name, changes=changes,
                              findings=[{"code": "TMD032", "constraint": t.constraint, "relation": t.relation,
                                         "index_sql": t.index_sql} for t, _ in made])
    return IndexEntry(entry, tuple(q for _, q in made))


def is_index_entry(changes: list[RowChange]) -> bool:
    return bool(changes) and all(c.relation == RELATION for c in changes)


def drop(conn: Connection, entry: journal.Entry) -> uuid.UUID:
    """Undo an index entry: drop its indexes concurrently, then journal the undo."""
    _outside_transaction(conn, "undoing created indexes")
    for change in entry.changes:
        schema, name = str(change.pk["index"]).split(".", 1)
        with translated():
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, name)))
    inverse = [(RowChange(c.relation, "delete", c.pk, c.after, None), ("undo",)) for c in reversed(entry.changes)]
    with translated(), conn.transaction():
        return journal.write(conn, kind="undo", profile=profiles.detect(conn).name, changes=inverse,
                             findings=entry.findings, undoes=entry.id)
