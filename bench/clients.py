"""What every column of ``bench.allocator`` shares: client threads, latencies, refusals by SQLSTATE, table groups."""

from __future__ import annotations

import datetime as dt
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tablemend.errors import TablemendError


@dataclass(frozen=True)
class Group:
    restaurant_id: uuid.UUID
    table_ids: tuple[uuid.UUID, ...]
    seats: int


@dataclass(frozen=True)
class Planned:
    booking_id: uuid.UUID
    table_ids: tuple[uuid.UUID, ...]
    start_at: dt.datetime
    end_at: dt.datetime


@dataclass
class ClientRun:
    """What a set of client threads did: wall time, per-operation latencies, refusals by SQLSTATE."""

    seconds: float
    latencies: list[float]
    errors: Counter[str]
    cpu: float
    server_cpu: float | None = None  # CPU seconds of the server sessions, when measured (bench.breakdown)
    waits: dict[str, float] | None = None  # share of the sessions' samples per state / wait event (bench.breakdown)
    wal: list[dict[str, Any]] | None = None  # WAL by record type during the run (bench.breakdown, pg_walinspect)

    @property
    def ops(self) -> int:
        return len(self.latencies)

    @property
    def succeeded(self) -> int:
        return self.ops - sum(self.errors.values())

    @property
    def throughput(self) -> float:
        """Calls that succeeded, per second (a refused call is work, not a booking seated)."""
        return self.succeeded / self.seconds if self.seconds > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def timed(ops: Iterable[Callable[[], object]]) -> tuple[list[float], Counter[str]]:
    """Run ``ops`` in order: each one's latency in seconds, and the refusals by SQLSTATE."""
    latencies: list[float] = []
    failed: Counter[str] = Counter()
    for op in ops:
        start = time.perf_counter()
        try:
            op()
        except TablemendError as exc:
            failed[exc.sqlstate] += 1
        latencies.append(time.perf_counter() - start)
    return latencies, failed


def bound(fn: Callable[..., object], *args: Any) -> Callable[[], object]:
    return lambda: fn(*args)


def contended_work(bookings: Sequence[uuid.UUID], zone_tables: Sequence[uuid.UUID], *, clients: int, ops: int,
                   seed: int, assign: Callable[[uuid.UUID, list[uuid.UUID]], object],
                   unassign: Callable[[uuid.UUID], object]) -> list[list[Callable[[], object]]]:
    """The contended restaurant's operations, the same sequence for every column that runs it: per client, one call in
    five unassigns a random booking, the others assign it 1 to 3 neighbouring tables of one zone."""
    work: list[list[Callable[[], object]]] = []
    for c in range(clients):
        rng = random.Random(seed + c)
        mine: list[Callable[[], object]] = []
        for _ in range(ops // clients):
            booking = rng.choice(bookings)
            if rng.random() < 0.2:
                mine.append(bound(unassign, booking))
                continue
            first = rng.randrange(len(zone_tables))
            mine.append(bound(assign, booking, list(zone_tables[first:first + rng.choice((1, 2, 3))])))
        work.append(mine)
    return work


def run_clients(work: Sequence[Sequence[Callable[[], object]]]) -> ClientRun:
    """Run each client's list of operations in its own thread, all starting together."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    guard = threading.Lock()
    barrier = threading.Barrier(len(work) + 1)

    def client(ops: Sequence[Callable[[], object]]) -> None:
        barrier.wait()
        mine, failed = timed(ops)
        with guard:
            latencies.extend(mine)
            errors.update(failed)

    threads = [threading.Thread(target=client, args=(ops,)) for ops in work]
    for t in threads:
        t.start()
    cpu0 = time.process_time()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return ClientRun(seconds, latencies, errors, (time.process_time() - cpu0) / seconds if seconds else 0.0)


def merged(runs: Sequence[ClientRun]) -> ClientRun:
    """Several runs of one column as one: wall times and CPU seconds add up, latencies and refusals are pooled."""
    seconds = sum(r.seconds for r in runs)
    errors: Counter[str] = Counter()
    for r in runs:
        errors.update(r.errors)
    cpu = sum(r.cpu * r.seconds for r in runs) / seconds if seconds else 0.0
    return ClientRun(seconds, [v for r in runs for v in r.latencies], errors, cpu)


def groups_from_rows(rows: Iterable[dict[str, Any]], size: int, *, movable: bool = False) -> list[Group]:
    """Disjoint runs of ``size`` consecutive (so adjacent) tables of one zone; movable when size > 1.

    ``rows``: tables ordered by restaurant, zone and table number, with ``restaurant_id, zone_id, id, capacity,
    mobility, n`` (the same query shape on tablemend's schema and the origin's)."""
    groups: list[Group] = []
    run: list[dict[str, Any]] = []
    for row in rows:
        if run and (run[-1]["zone_id"] != row["zone_id"] or run[-1]["n"] + 1 != row["n"]):
            run = []
        if (size > 1 or movable) and row["mobility"] != "movable":
            run = []
            continue
        run.append(row)
        if len(run) == size:
            groups.append(Group(row["restaurant_id"], tuple(r["id"] for r in run), sum(r["capacity"] for r in run)))
            run = []
    return groups


def split(groups: Sequence[Group], clients: int) -> list[list[Group]]:
    """Each client's own groups (so the uncontended cells never collide on a table); neighbouring groups, often of one
    restaurant, go to different clients."""
    if len(groups) < clients:
        raise SystemExit(f"only {len(groups)} table groups for {clients} clients: use more restaurants")
    return [list(groups[c::clients]) for c in range(clients)]
