"""Fault injection for the reliability runs: backends terminated at random points inside the allocator's calls, doctor
repairs and undos terminated at random points, and a check that a journal entry's changes are all in the database."""

from __future__ import annotations

import contextlib
import random
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from psycopg import sql

from tablemend import Allocator, db
from tablemend.doctor import journal, repair, scan, undo
from tablemend.doctor.rules import Context, Level
from tablemend.embedded import EmbeddedCluster
from tablemend.errors import TablemendError
from tablemend.migrations import migrate
from tests.integration.test_allocator_concurrency import INVARIANTS
from tests.integration.test_doctor_states import checksums
from tests.reliability import workload as w
from tests.reliability.history import History

#: what the killer looks for in pg_stat_activity.query: the allocator's calls and the move's statements
TARGETS = ("%assign_tables_atomic_v2%", "%confirm_hold_assignment%", "%move_booking%", "%UPDATE bookings%")


class Killer(threading.Thread):
    """Terminates, every few milliseconds, one backend of ``dsn``'s database that is inside one of the targeted
    statements (state ``active``); counts the terminations that hit."""

    def __init__(self, dsn: str, seed: int, *, pause: tuple[float, float] = (0.005, 0.05),
                 targets: tuple[str, ...] = TARGETS) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.rng = random.Random(seed)
        self.pause = pause
        self.targets = list(targets)
        self.stop = threading.Event()
        self.kills = 0

    def run(self) -> None:
        with db.connect(self.dsn, autocommit=True, application_name="reliability-killer") as conn:
            while not self.stop.wait(self.rng.uniform(*self.pause)):
                row = conn.execute(
                    "SELECT pg_terminate_backend(a.pid) AS hit FROM pg_stat_activity a"
                    " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state = 'active'"
                    "   AND a.query ILIKE ANY (%s) ORDER BY random() LIMIT 1", (self.targets,)).fetchone()
                if row is not None and row["hit"]:
                    self.kills += 1

    def finish(self) -> int:
        self.stop.set()
        self.join(10)
        return self.kills


def broken_invariants(dsn: str) -> dict[str, Any]:
    """The allocator's invariant queries, and the doctor's findings above info level, that fail (none expected).

    TMD022 is about the server (the GiST rescan bug of 18.6), not the data: the index-vs-heap check TMD023 is what
    would report damage done during the run."""
    broken: dict[str, Any] = {}
    with db.connect(dsn, autocommit=True) as conn:
        for name, query in INVARIANTS.items():
            rows = conn.execute(query).fetchall()
            if rows:
                broken[name] = rows[:3]
        findings = [f"{f.code}: {f.detail}" for f in scan(conn, verify_indexes=True)
                    if f.level is not Level.info and f.code != "TMD022"]
    if findings:
        broken["doctor"] = findings[:5]
    return broken


# --- doctor repair / undo -------------------------------------------------------------------------------------------


def journal_ids(conn: db.Connection) -> list[uuid.UUID]:
    return [uuid.UUID(str(e["id"])) for e in journal.entries(conn)]


def missing_changes(conn: db.Connection, entry_id: uuid.UUID) -> list[str]:
    """Changes of a journal entry that are not in the database now (deleted rows still there, rows that differ from
    the after-image). Empty when the entry's changes are all applied."""
    out = []
    for change in journal.read(conn, entry_id).changes:
        schema, name = change.relation.split(".")
        match = sql.SQL(" AND ").join(sql.SQL("t.{}::text = %s").format(sql.Identifier(k)) for k in change.pk)
        query = sql.SQL("SELECT to_jsonb(t) AS row FROM {} t WHERE {}").format(sql.Identifier(schema, name), match)
        row = conn.execute(query, [str(v) for v in change.pk.values()]).fetchone()
        if change.after is None:
            if row is not None:
                out.append(f"{change.relation} {dict(change.pk)} still present")
        elif row is None:
            out.append(f"{change.relation} {dict(change.pk)} missing")
        elif {k: row["row"].get(k) for k in change.after} != dict(change.after):
            out.append(f"{change.relation} {dict(change.pk)} differs from the after-image")
    return out


def killed_at_random(dsn: str, rng: random.Random, work: Callable[[db.Connection], object], max_delay: float,
                     name: str) -> tuple[bool, object]:
    """Run ``work`` on its own connection in a thread; once its backend is inside a transaction, wait a random delay
    up to ``max_delay`` and terminate it. Returns (terminated, result or error)."""
    box: dict[str, object] = {}
    app = f"reliability-{name}-{uuid.uuid4().hex[:8]}"

    def target() -> None:
        try:
            with db.connect(dsn, autocommit=True, application_name=app) as conn:
                box["result"] = work(conn)
        except TablemendError as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    hit = False
    with db.connect(dsn, autocommit=True) as admin:
        deadline = time.monotonic() + 20
        pid = None
        while pid is None and thread.is_alive() and time.monotonic() < deadline:
            row = admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s"
                                " AND xact_start IS NOT NULL", (app,)).fetchone()
            pid = row["pid"] if row else None
        if pid is not None:
            time.sleep(rng.uniform(0, max_delay))
            row = admin.execute("SELECT pg_terminate_backend(%s) AS hit", (pid,)).fetchone()
            hit = bool(row and row["hit"])
    thread.join(30)
    assert not thread.is_alive(), f"{name} did not finish after the termination"
    return hit and "error" in box, box.get("result", box.get("error"))


def repair_undo_trials(dsn: str, trials: int, seed: int) -> dict[str, int]:
    """Repair, then undo, each terminated at a random point, ``trials`` times on one seeded origin database.

    After every attempt the database is exactly in one of two states: before (nothing applied, no new journal
    entry) or after (a new journal entry whose every change is in the database). Returns counts.
    """
    rng = random.Random(seed)
    counts = {"repair_killed": 0, "repair_committed": 0, "undo_killed": 0, "undo_committed": 0}
    with db.connect(dsn, autocommit=True) as admin:
        before = checksums(admin)
        start = time.monotonic()
        clean = repair(admin, Context(), all_safe=True)
        took = time.monotonic() - start
        assert clean.repair_id is not None
        applied = checksums(admin)
        assert applied != before and not missing_changes(admin, clean.repair_id)
        undo(admin, clean.repair_id)
        assert checksums(admin) == before  # undo restores byte-identical rows: the trials can compare exactly
        for _ in range(trials):
            entries = journal_ids(admin)
            hit, out = killed_at_random(dsn, rng, lambda c: repair(c, Context(), all_safe=True), took * 1.5,
                                        "repair")
            new = [e for e in journal_ids(admin) if e not in entries]
            if not new:
                assert checksums(admin) == before, f"repair left changes without a journal entry ({out!r})"
                counts["repair_killed"] += hit
                continue
            assert len(new) == 1 and not missing_changes(admin, new[0]), "a journal entry lacks its changes"
            assert checksums(admin) != before
            counts["repair_committed"] += 1
            after = checksums(admin)
            entries = journal_ids(admin)
            hit, out = killed_at_random(dsn, rng, lambda c, rid=new[0]: undo(c, rid), took * 1.5, "undo")
            undone = [e for e in journal_ids(admin) if e not in entries]
            if undone:
                assert checksums(admin) == before and not missing_changes(admin, undone[0])
                counts["undo_committed"] += 1
            else:
                assert checksums(admin) == after, f"undo left changes without a journal entry ({out!r})"
                counts["undo_killed"] += hit
                undo(admin, new[0])
                assert checksums(admin) == before
    return counts


# --- the server stopped immediately -----------------------------------------------------------------------------------


@contextlib.contextmanager
def private_cluster() -> Iterator[EmbeddedCluster]:
    """A durable embedded cluster of its own (outside pytest's tmp dir, whose 0700 root the server user cannot
    traverse), stopped and removed afterwards. Never the shared test server."""
    home = Path(tempfile.mkdtemp(prefix="tm-reliability-crash-", dir="/tmp"))
    cluster = EmbeddedCluster(home / "pg", durable=True)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


def _restart_on_same_port(cluster: EmbeddedCluster) -> None:
    """pg_ctl start directly, so the run does not also depend on EmbeddedCluster.start()'s recovery (tested on its own
    in test_faults.py): the clients' pool must find the server where it was."""
    cluster._pg_ctl("start", "-w", "-t", "60", "-l", str(cluster.logfile))


def crash_run(*, cycles: int, clients: int, ops: int, seed: int) -> tuple[History, dict[str, Any]]:
    """Clients through one Allocator pool while the server is stopped with `pg_ctl stop -m immediate` and restarted
    ``cycles`` times; returns the history (final reads included) and the broken invariants afterwards."""
    with private_cluster() as cluster:
        with db.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE reliability_crash")
        dsn = cluster.url("reliability_crash")
        with db.connect(dsn) as conn:
            migrate(conn)
        with db.connect(dsn, autocommit=True) as conn:
            world = w.setup_tablemend(conn, restaurants=1, bookings=12, seed=seed)
        history = History()
        done = threading.Event()
        rng = random.Random(seed)

        total = clients * ops

        def crash() -> None:
            # by progress, not by the clock: on an idle machine the clients can finish before a fixed delay ends
            for k in range(cycles):
                target = total * (k + rng.uniform(0.2, 0.6)) / cycles
                while len(history.ops) < target:
                    if done.wait(0.005):
                        return
                cluster._pg_ctl("stop", "-m", "immediate", "-w")
                time.sleep(0.5)
                _restart_on_same_port(cluster)

        with Allocator.open(dsn, min_size=clients, max_size=clients, record_conflicts=False, timeout=20) as alloc:
            crasher = threading.Thread(target=crash)
            crasher.start()
            w.run_threads(lambda i: w.tablemend_client(world, alloc, history, i, ops, seed * 100 + i), clients,
                          timeout=900)
            done.set()
            crasher.join(120)
            w.final_reads(world, alloc, history)
        return history, broken_invariants(dsn)
