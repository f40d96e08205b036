"""Undo: restore the before-images one repair journalled, as a new journal entry (the recorded inverse).

Set-based (:mod:`restore`) when the replica role may be set, so rows come back byte-identical; row by row with
triggers firing otherwise. An entry of indexes that ``repair --create-indexes`` built is undone by dropping them.
"""

from __future__ import annotations

import uuid

from tablemend.db import Connection, translated
from tablemend.doctor import access, bulk, journal, repairs, restore
from tablemend.doctor import profile as profiles
from tablemend.doctor.bulk import ProgressFn
from tablemend.doctor.changes import Op, Recorder, RowChange
from tablemend.errors import RepairNotFound, RepairRefused, TablemendError


def undo(conn: Connection, repair_id: uuid.UUID, *, timeouts: repairs.Timeouts | None = None,
         progress: ProgressFn = bulk.no_progress) -> uuid.UUID:
    """Restore the before-images of one repair (a new journal entry); refuses, naming the row, on any conflict.

    Set-based (:mod:`restore`) when the replica role may be set, row by row with triggers otherwise. An entry of
    indexes that ``repair --create-indexes`` built is undone by dropping them (concurrently).
    """
    from tablemend.doctor import indexes

    progress("reading the journal", 0, None)
    with translated(), conn.transaction():
        access.begin(conn)  # complete or refuse before anything else, even a missing journal
        head = journal.read(conn, repair_id, with_changes=False)
        index_only = head.kind == "repair" and head.undone_by is None and journal.only_indexes(conn, repair_id)
    if index_only:
        return indexes.drop(conn, journal.read(conn, repair_id))
    try:
        with translated(), conn.transaction():
            repairs.set_timeouts(conn, timeouts or repairs.Timeouts())
            access.begin(conn)
            entry = journal.read(conn, repair_id, with_changes=False)
            if entry.kind == "action":
                raise RepairRefused(f"{repair_id} is an index rebuild (REINDEX): a rebuild has no undo")
            if entry.kind != "repair":
                raise RepairNotFound(f"{repair_id} is an undo entry, not a repair")
            if entry.undone_by is not None:
                raise RepairRefused(f"repair {repair_id} was already undone by {entry.undone_by}")
            prof = profiles.detect(conn)
            recorder = Recorder(conn, prof.catalog.relations, prof.name, prof.catalog.columns)
            bookings, tables = restore.fold(conn, repair_id)
            bulk.lock(conn, bookings, tables)
            if _try_replica(conn):
                progress("restoring rows", 0, None)
                restore.restore(conn, recorder)
                conn.execute(repairs.q("origin_role"))
                undo_id = journal.write(conn, kind="undo", profile=prof.name, changes=(),
                                        findings=entry.findings, booking_id=entry.booking_id, undoes=repair_id)
                count = restore.journal_inverse(conn, repair_id, undo_id)
            else:
                undo_id, count = _undo_row_by_row(conn, prof, recorder, repair_id, progress)
            if repairs.events_possible(prof, entry.restaurant_id):
                journal.emit_event(conn, event_type="doctor.repair.undone", restaurant_id=entry.restaurant_id,
                                   booking_id=entry.booking_id,
                                   context={"repair_id": str(repair_id), "undo_id": str(undo_id),
                                            "changes": count, "operator": journal.operator()})
    except TablemendError as exc:
        raise repairs.timeouts_as_lock_errors(exc) from exc.__cause__
    return undo_id


def _undo_row_by_row(conn: Connection, prof: profiles.Profile, recorder: Recorder, repair_id: uuid.UUID,
                     progress: ProgressFn) -> tuple[uuid.UUID, int]:
    """Without the replica role: each inverse in reverse journal order, triggers firing."""
    entry = journal.read(conn, repair_id)
    total = len(entry.changes)
    for n, change in enumerate(reversed(entry.changes), start=1):
        recorder.undo(change)
        if n % 200 == 0 or n == total:
            progress("restoring rows", n, total)
    for change in entry.changes:
        recorder.check_references(change)
    inverse = [(RowChange(c.relation, _INVERSE[c.op], c.pk, c.after, c.before), ("undo",))
               for c in reversed(entry.changes)]
    undo_id = journal.write(conn, kind="undo", profile=prof.name, changes=inverse, findings=entry.findings,
                            booking_id=entry.booking_id, undoes=repair_id)
    return undo_id, len(inverse)


_INVERSE: dict[str, Op] = {"insert": "delete", "delete": "insert", "update": "update"}


def _try_replica(conn: Connection) -> bool:
    """Restore without firing user triggers (updated_at, audit, status refresh) so rows come back byte-identical.

    Needs the privilege to set session_replication_role; without it the restore still happens, with triggers.
    """
    try:
        with translated(), conn.transaction():
            conn.execute(repairs.q("replica_role"))
    except TablemendError:
        return False
    return True
