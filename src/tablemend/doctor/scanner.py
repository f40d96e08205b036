"""Scanning: build the context (one booking P, its tables and window), run every check of the profile, stream findings.

A scan runs in a read-only REPEATABLE READ snapshot so every check sees the same database; each check's query streams
its rows (libpq's chunked rows of one unnamed portal, run to completion: unlike a named cursor's portal, it may get a
parallel plan) and holds a few thousand findings in memory, the rest in a temporary file, so memory stays flat however
many rows there are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import pickle
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, LiteralString

from psycopg import pq

from tablemend import integrity, sqlfiles
from tablemend.db import Connection, translated
from tablemend.doctor import access
from tablemend.doctor import profile as profiles
from tablemend.doctor.rules import Check, Context, Finding, Level, for_profile
from tablemend.errors import DoctorBookingNotFound, UsageError

_CATALOG = "doctor/catalog.sql"


def context(conn: Connection, *, restaurant_id: uuid.UUID | None = None, booking_id: uuid.UUID | None = None,
            table_ids: Sequence[uuid.UUID] = (), start_at: dt.datetime | None = None,
            end_at: dt.datetime | None = None, idempotency_key: str | None = None,
            profile: str | None = None) -> Context:
    """The scan context; for a booking P, missing tables / window default to P's current or last request."""
    if booking_id is None:
        if table_ids or start_at or end_at:
            raise UsageError("--tables/--start/--end need --booking")
        with translated(), conn.transaction():  # refuse before any output starts when the reads could be partial
            access.begin(conn, restaurant_id)
        return Context(restaurant_id=restaurant_id, scope_restaurant=restaurant_id)
    if (start_at is None) != (end_at is None):
        raise UsageError("give both --start and --end, or neither")
    name = profile or profiles.detect(conn).name
    query = "booking_context_tablemend" if name == "tablemend" else "booking_context"
    with translated(), conn.transaction():
        access.begin(conn, restaurant_id)
        row = conn.execute(sqlfiles.query(query, _CATALOG), {"booking_id": booking_id}).fetchone()
        if row is None:
            raise DoctorBookingNotFound(f"booking {booking_id} not found", details=f"booking_id={booking_id}")
        if restaurant_id is not None and row["restaurant_id"] != restaurant_id:
            raise UsageError(f"booking {booking_id} belongs to restaurant {row['restaurant_id']}, "
                             f"not to --restaurant {restaurant_id}")
        tables = list(table_ids)
        if not tables:
            found = conn.execute(sqlfiles.query("booking_last_tables", _CATALOG), {"booking_id": booking_id}).fetchone()
            tables = list(found["table_ids"] or []) if found else []
    if start_at is not None and end_at is not None and start_at >= end_at:
        raise UsageError("--start must be before --end")
    return Context(
        restaurant_id=restaurant_id or row["restaurant_id"],
        booking_id=booking_id,
        table_ids=tuple(sorted(set(tables))),
        start_at=start_at or row["start_at"],
        end_at=end_at or row["end_at"],
        slot_id=row["slot_id"],
        idempotency_key=idempotency_key,
        scope_restaurant=restaurant_id,
    )


def checks(profile: profiles.Profile, codes: Iterable[str] | None = None, *,
           booking: bool = False) -> list[Check]:
    """The checks that apply: the profile's, whose required features exist, optionally only ``codes``."""
    return [c for c in _wanted(profile, codes)
            if not c.missing() and (booking or not c.needs_booking) and not (booking and c.scan_only)]


def not_applicable(profile: profiles.Profile,
                   codes: Iterable[str] | None = None) -> list[tuple[Check, tuple[str, ...]]]:
    """The profile's checks this database lacks a feature for, each with what it needs."""
    return [(c, c.missing()) for c in _wanted(profile, codes) if c.missing()]


def _wanted(profile: profiles.Profile, codes: Iterable[str] | None) -> list[Check]:
    wanted = {c.upper() for c in codes} if codes else None
    every = for_profile(profile.name, profile.catalog)
    if wanted:
        unknown = wanted - {c.code for c in every}
        if unknown:
            raise UsageError(f"unknown check code(s) for profile {profile.name}: {', '.join(sorted(unknown))}")
    return [c for c in every if wanted is None or c.code in wanted]


#: checks a whole-database or ``--restaurant`` scan runs only when named (``codes``) or asked for
#: (``verify_indexes``), with why; a ``--booking`` scan, the repair's detection (``detect``) and the index rebuild run
#: them always. TMD023 reads every occupancy GiST index whole and the table behind it again, per index: on its own
#: 4-6x a sequential read of the tables, more than every other check together.
OPT_IN: dict[str, str] = {
    "TMD023": "it reads every occupancy index whole (several times a read of the tables); "
              "run it with `tablemend doctor scan --verify-indexes` (or `--check TMD023`)",
}


def opted_out(profile: profiles.Profile, ctx: Context | None = None, codes: Iterable[str] | None = None, *,
              verify_indexes: bool = False) -> list[tuple[Check, str]]:
    """The applicable checks :func:`scan` leaves out of this scan (whole database or one restaurant, no ``codes``),
    each with why and how to run it: for a note beside the findings."""
    if codes is not None or verify_indexes or (ctx is not None and ctx.booking_id is not None):
        return []
    return [(c, OPT_IN[c.code]) for c in checks(profile) if c.code in OPT_IN]


def narrowed(profile: profiles.Profile, ctx: Context, codes: list[str] | None, named: Iterable[str] = (), *,
             verify_indexes: bool = False) -> tuple[list[str] | None, list[tuple[Check, str]]]:
    """The codes a scan runs and the :data:`OPT_IN` checks it leaves out, each with why. In a whole-database or
    restaurant scan an opt-in check runs only when ``named`` exactly (``--check`` / ``--select TMD023``, not a prefix,
    not an ``--ignore`` of something else) or with ``verify_indexes``; a ``--booking`` scan runs it."""
    if verify_indexes or ctx.booking_id is not None:
        return codes, []
    if codes is None:
        return None, opted_out(profile, ctx, None)
    exact = {n.upper() for n in named}
    left = [(c, OPT_IN[c.code]) for c in checks(profile, codes) if c.code in OPT_IN and c.code not in exact]
    rest = [c for c in codes if c not in {check.code for check, _ in left}]
    return (rest, left) if rest else (codes, [])  # (an empty list would mean every check)


#: checks whose whole-database detection is one shared pass over assignments joined with bookings
#: (``sql/doctor/shared_pass.sql``); for one booking P each runs its own indexed query. TMD006's ordered pass, tried
#: as a window over the same joined rows, was slower there (a sort of the wide joined rows: 12.4 s against 6.1 + 4.2 s
#: for the pass and TMD006's own query at 1M bookings): it runs its own query.
SHARED_PASS = ("TMD001", "TMD002", "TMD003", "TMD005", "TMD016")


def detect(conn: Connection, profile: profiles.Profile, ctx: Context, codes: Iterable[str] | None = None,
           on_check: Callable[[Check], None] | None = None, *, shared: bool = True) -> Iterator[Finding]:
    """Findings of every applicable check in the current transaction (no transaction handling here).

    ``shared=False`` runs every check's own query (the reference the shared pass is tested against)."""
    selected = checks(profile, codes, booking=ctx.booking_id is not None)
    pooled = {c.code: c for c in selected if c.code in SHARED_PASS} \
        if shared and ctx.booking_id is None and profile.name == "origin" else {}
    if any(c.variants() for c in pooled.values()):  # an older schema variant: each check runs its equivalent query
        pooled = {}
    if pooled:
        for check in pooled.values():
            if on_check is not None:
                on_check(check)
        yield from _shared_pass(conn, ctx, pooled)
    for check in selected:
        if check.code in pooled:
            continue
        if on_check is not None:
            on_check(check)
        if type(check).detect is Check.detect:  # the check's own ``detect`` query
            yield from _streamed(conn, check.queries()["detect"], ctx, {check.code: check})
        else:
            yield from check.detect(conn, ctx)


#: rows per network round trip of a streamed query
_CHUNK = 500
#: findings of one check held in memory; the rest wait in a temporary file (memory stays flat)
_IN_MEMORY = 5000


def _streamed(conn: Connection, query: LiteralString, ctx: Context, by_code: dict[str, Check]) -> Iterator[Finding]:
    """The query's rows as findings of ``by_code`` (the row's ``code`` column picks the check when there are several).

    The query is streamed (chunks of one unnamed portal, run to completion) rather than read through a named cursor:
    a portal that may be suspended never gets a parallel plan, and the big tables' joins are most of a scan. It is
    read to its end before the first finding is handed out, so the caller may use ``conn`` between findings as with
    a named cursor; findings beyond the first few thousand wait in a temporary file."""
    only = next(iter(by_code.values())) if len(by_code) == 1 else None
    cur = conn.cursor()
    # chunks need libpq 17 (psycopg's wheels bring it); an older libpq streams row by row
    rows = cur.stream(query, ctx.params(), size=_CHUNK) if pq.version() >= 170000 else cur.stream(query, ctx.params())
    held: list[Finding] = []
    with contextlib.ExitStack() as stack:
        spill: IO[bytes] | None = None
        with translated():
            for row in rows:
                check = only if only is not None and "code" not in row else by_code.get(str(row["code"]))
                if check is None:
                    continue
                if len(held) < _IN_MEMORY:
                    held.append(check.to_finding(row))
                    continue
                if spill is None:
                    spill = stack.enter_context(tempfile.TemporaryFile())
                pickle.dump(check.to_finding(row), spill)  # our own findings, read back below
        yield from held
        if spill is not None:
            spill.seek(0)
            while True:
                try:
                    yield pickle.load(spill)  # (written by this function, just above)
                except EOFError:
                    break


def _shared_pass(conn: Connection, ctx: Context, pooled: dict[str, Check]) -> Iterator[Finding]:
    yield from _streamed(conn, sqlfiles.query("assignments", "doctor/shared_pass.sql"), ctx, pooled)


def scan(conn: Connection, *, profile: profiles.Profile | None = None, ctx: Context | None = None,
         codes: Iterable[str] | None = None, on_check: Callable[[Check], None] | None = None,
         verify_indexes: bool = False) -> Iterator[Finding]:
    """Stream findings from a read-only snapshot (REPEATABLE READ READ ONLY).

    Without ``codes``, a scan of the whole database or of one restaurant leaves out the checks of :data:`OPT_IN`
    (:func:`opted_out` names them) unless ``verify_indexes``; a ``--booking`` scan runs them."""
    fresh = conn.info.transaction_status == pq.TransactionStatus.IDLE
    if fresh:  # the GiST rescan self-test needs a writable (rolled-back) transaction: before the snapshot (TMD022)
        integrity.server_check(conn)
    with translated(), conn.transaction():
        if fresh:  # inside a caller's transaction the caller's snapshot (and isolation) applies
            conn.execute(sqlfiles.query("begin_snapshot", _CATALOG))
        conn.execute(sqlfiles.query("scan_settings", _CATALOG))
        access.begin(conn, (ctx or Context()).scope_restaurant)
        prof = profile or profiles.detect(conn)
        left_out = {c.code for c, _ in opted_out(prof, ctx, codes, verify_indexes=verify_indexes)}
        if left_out:
            codes = [c.code for c in checks(prof) if c.code not in left_out]
            if not codes:  # (no codes would mean every check to detect())
                return
        yield from detect(conn, prof, ctx or Context(), codes, on_check)


def worst(findings: Iterable[Finding]) -> Level | None:
    levels = [f.level for f in findings]
    return max(levels, key=lambda lv: lv.rank) if levels else None
