"""The repair journal in schema ``tablemend_doctor`` (created on first repair), append-only as yoyo's log is.

Each repair or undo is one entry (who, from which host, which findings) plus one row per changed row with its
before- and after-image. Undo writes a new entry that points at the repair it reverses.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor.changes import RowChange
from tablemend.errors import RepairNotFound

_FILE = "doctor/journal.sql"


def _q(name: str) -> Any:
    return sqlfiles.query(name, _FILE)


@dataclass(frozen=True)
class Entry:
    id: uuid.UUID
    kind: str
    undoes: uuid.UUID | None
    undone_by: uuid.UUID | None
    booking_id: uuid.UUID | None
    restaurant_id: uuid.UUID | None
    findings: list[dict[str, Any]]
    changes: list[RowChange]


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def operator() -> str:
    return os.environ.get("TABLEMEND_OPERATOR") or getpass.getuser()


def ensure_schema(conn: Connection) -> None:
    """Create ``tablemend_doctor`` on first use (serialised, so two first repairs do not race)."""
    with translated():
        state = conn.execute(_q("exists")).fetchone()
        if state is not None and state["present"] and state["current"]:
            return
        conn.execute(_q("schema_lock"))
        conn.execute(_q("schema"))


def present(conn: Connection) -> bool:
    with translated():
        row = conn.execute(_q("exists")).fetchone()
    return bool(row and row["present"])


def write(conn: Connection, *, kind: str, profile: str, changes: Sequence[tuple[RowChange, Sequence[str]]],
          findings: Sequence[dict[str, Any]], booking_id: uuid.UUID | None = None,
          undoes: uuid.UUID | None = None, plan_sha256: str | None = None) -> uuid.UUID:
    """Append one entry with its row changes; returns the entry id (the repair id). ``plan_sha256``: the reviewed
    plan file it applied."""
    ensure_schema(conn)
    entry_id = uuid.uuid4()
    with translated():
        conn.execute(_q("insert_entry"), {
            "id": entry_id, "kind": kind, "undoes": undoes, "operator": operator(), "host": socket.gethostname(),
            "profile": profile, "booking_id": booking_id, "plan_sha256": plan_sha256,
            "findings": Jsonb(list(findings), dumps=_dumps),  # encoded once (a repair names 20,000 at scale)
        })
        rows = [{
            "journal_id": entry_id, "seq": seq, "relation": change.relation, "op": change.op,
            "pk": Jsonb(dict(change.pk)),
            "before": None if change.before is None else Jsonb(dict(change.before)),
            "after": None if change.after is None else Jsonb(dict(change.after)),
            "finding_ids": list(finding_ids),
        } for seq, (change, finding_ids) in enumerate(changes, start=1)]
        if rows:
            conn.cursor().executemany(_q("insert_change"), rows)  # pipelined: one round trip per batch
    return entry_id


def read(conn: Connection, entry_id: uuid.UUID, *, with_changes: bool = True) -> Entry:
    """One entry; ``with_changes=False`` leaves its rows in the database (a set-based undo reads them there)."""
    if not present(conn):
        raise RepairNotFound(f"no repair {entry_id}: this database has no doctor journal yet")
    with translated():
        row = conn.execute(_q("get_entry"), {"id": entry_id}).fetchone()
        if row is None:
            raise RepairNotFound(f"no repair {entry_id} in tablemend_doctor.journal")
        changes = [RowChange(str(c["relation"]), c["op"], c["pk"], c["before"], c["after"])
                   for c in conn.execute(_q("get_changes"), {"id": entry_id}).fetchall()] if with_changes else []
    findings = list(row["findings"] or [])
    restaurant = next((f.get("restaurant") for f in findings if f.get("restaurant")), None)
    return Entry(row["id"], row["kind"], row["undoes"], row["undone_by"], row["booking_id"],
                 uuid.UUID(str(restaurant)) if restaurant else None, findings, changes)


def only_indexes(conn: Connection, entry_id: uuid.UUID) -> bool:
    """Whether an entry records only indexes that ``repair --create-indexes`` built."""
    with translated():
        row = conn.execute(_q("only_indexes"), {"id": entry_id}).fetchone()
    return bool(row and row["only"])


def entries(conn: Connection) -> list[dict[str, Any]]:
    if not present(conn):
        return []
    with translated():
        return [dict(r) for r in conn.execute(_q("list_entries")).fetchall()]


def emit_event(conn: Connection, *, event_type: str, context: dict[str, Any], restaurant_id: uuid.UUID | None,
               booking_id: uuid.UUID | None) -> None:
    """An ``observability_events`` row (same columns as the origin's), when that table exists."""
    with translated():
        conn.execute(_q("observability_event"), {
            "event_type": event_type, "context": Jsonb(json.loads(json.dumps(context, default=str))),
            "restaurant_id": restaurant_id, "booking_id": booking_id,
        })
