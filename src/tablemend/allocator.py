"""The allocator's Python API: :class:`Allocator`, a pool of connections and one method per SQL function.

Every method is one statement on an autocommit connection from a ``psycopg_pool.ConnectionPool``, so it is one
transaction and one round trip; the rules (locks, validation order, idempotency, release on terminal status) live in
the SQL functions of ``sql/migrations/0002_allocator.sql``. Errors arrive as the typed classes of
:mod:`tablemend.errors` (translated by :func:`tablemend.db.translated`); obviously bad input (an id that is not a UUID,
a naive or reversed window, an unknown status) is refused here with the same class the database would use, before
anything is sent.

    with Allocator.open(dsn, max_size=8) as alloc:
        rows = alloc.assign(booking_id, [t1, t2], key="req-42", require_adjacency=True)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, LiteralString, Self

from psycopg import sql as psql
from psycopg_pool import ConnectionPool

from tablemend import db, integrity, limits, sqlfiles
from tablemend.autoassign import (
    BestHold,
    Candidate,
    RepackPlan,
    RepackResult,
    best_hold_from_row,
    candidates_from_rows,
    propose_repack,
)
from tablemend.db import Connection
from tablemend.errors import (
    AllocatorConflict,
    BookingNotFound,
    ConnectionFailed,
    HoldExpiryOutOfRange,
    IdempotencyKeyTooLong,
    InvalidArgument,
    InvalidTableList,
    InvalidWindow,
    SchemaMissing,
    TablemendError,
    TooManyTables,
    UsageError,
    WindowOutOfRange,
)

#: The values of the ``booking_status`` enum, in the schema's order.
BOOKING_STATUSES: tuple[str, ...] = (
    "pending", "pending_allocation", "confirmed", "checked_in", "completed", "cancelled", "no_show",
    "PRIORITY_WAITLIST",
)
#: Statuses that release everything the booking holds.
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "cancelled", "no_show", "PRIORITY_WAITLIST"})
DEFAULT_HOLD_TTL = dt.timedelta(minutes=5)

IdLike = uuid.UUID | str
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assignment:
    """One table of a booking's assignment over its half-open window; ``merge_group_id`` is set for 2+ tables."""

    table_id: uuid.UUID
    start_at: dt.datetime
    end_at: dt.datetime
    merge_group_id: uuid.UUID | None


@dataclass(frozen=True)
class Hold:
    """An active hold on some tables over a window, until ``expires_at``."""

    hold_id: uuid.UUID
    restaurant_id: uuid.UUID
    table_ids: tuple[uuid.UUID, ...]
    start_at: dt.datetime
    end_at: dt.datetime
    expires_at: dt.datetime
    booking_id: uuid.UUID | None


@dataclass(frozen=True)
class StatusChange:
    booking_id: uuid.UUID
    previous: str
    status: str

    @property
    def released(self) -> bool:
        """True when this change moved the booking into a terminal status (its tables and holds were released)."""
        return self.status in TERMINAL_STATUSES and self.previous not in TERMINAL_STATUSES


@dataclass(frozen=True)
class BookingWindow:
    """A booking's window after a move (its assignments moved with it)."""

    booking_id: uuid.UUID
    restaurant_id: uuid.UUID
    start_at: dt.datetime
    end_at: dt.datetime
    status: str


@dataclass(frozen=True)
class BookingState:
    booking_id: uuid.UUID
    restaurant_id: uuid.UUID
    start_at: dt.datetime
    end_at: dt.datetime
    party_size: int
    status: str
    assigned_zone_id: uuid.UUID | None
    table_ids: tuple[uuid.UUID, ...]


# --- input checks (before anything is sent) --------------------------------------------------------------------------


def parse_uuid(value: IdLike, name: str) -> uuid.UUID:
    """``value`` as a UUID, or a :class:`UsageError` naming the argument and the bad value."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value.strip())
        except ValueError:
            pass
    raise UsageError(f"invalid {name} {value!r}: not a UUID", details=f"{name}={value!r}",
                     hint="Pass a UUID such as 0b0e3c1e-5f1a-4c55-9d2a-7e8f4a1b2c3d.")


def parse_uuids(values: Iterable[IdLike], name: str) -> list[uuid.UUID]:
    if isinstance(values, str | uuid.UUID):
        raise UsageError(f"{name} must be a list of UUIDs, not a single value {values!r}")
    ids = [parse_uuid(v, name) for v in values]
    if not ids:
        raise InvalidTableList("at least one table id is required, and none may be NULL", details="table_ids={}",
                               hint="Pass a non-empty array of table ids.")
    if len(ids) > limits.TABLE_IDS_MAX:
        raise TooManyTables(f"at most {limits.TABLE_IDS_MAX} table ids may be passed",
                            details=f"field=table_ids count={len(ids)} max={limits.TABLE_IDS_MAX}",
                            hint="Pass fewer tables.")
    return ids


def _optional_uuid(value: IdLike | None, name: str) -> uuid.UUID | None:
    return None if value is None else parse_uuid(value, name)


def _aware(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise UsageError(f"invalid {name} {value!r}: not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(f"invalid {name} {value.isoformat()}: no time zone",
                         hint="Pass an aware datetime (e.g. 2030-06-01T19:00:00+00:00).")
    return value


def check_window(start_at: dt.datetime | None, end_at: dt.datetime | None, *, required: bool = False,
                 subject: str = "") -> None:
    """Both bounds or neither (unless ``required``), aware, start before end: else :class:`InvalidWindow`."""
    detail = f"{subject} start_at={_iso(start_at)} end_at={_iso(end_at)}".strip()
    for name, bound in (("start_at", start_at), ("end_at", end_at)):
        if isinstance(bound, dt.datetime) and (bound.tzinfo is None or bound.utcoffset() is None):
            raise InvalidWindow(f"invalid {name} {bound.isoformat()}: no time zone", details=detail,
                                hint="Pass an aware datetime (e.g. 2030-06-01T19:00:00+00:00).")
    _aware(start_at, "start_at")
    _aware(end_at, "end_at")
    if (start_at is None) != (end_at is None) or (required and start_at is None):
        raise InvalidWindow("start and end must be given together", details=detail,
                            hint="Pass both bounds, or neither to use the booking's window.")
    if start_at is not None and end_at is not None and start_at >= end_at:
        raise InvalidWindow(f"window [{start_at.isoformat()}, {end_at.isoformat()}) is empty or reversed",
                            details=detail, hint="The start must be before the end.")
    if start_at is not None and end_at is not None:
        check_window_bounds(start_at, end_at, subject=subject)


def _interval(value: dt.timedelta) -> str:
    """A timedelta as PostgreSQL prints an interval of hours (``24:00:00``), so both DETAILs read the same."""
    seconds = int(value.total_seconds())
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def check_window_bounds(start_at: dt.datetime, end_at: dt.datetime, *, subject: str = "") -> None:
    """The window lies within ``limits`` (dates and length), else :class:`WindowOutOfRange` naming the bound."""
    try:
        if start_at < limits.WINDOW_EARLIEST:
            field, limit = "start_at", f"earliest={_iso(limits.WINDOW_EARLIEST)}"
        elif end_at > limits.WINDOW_LATEST:
            field, limit = "end_at", f"latest={_iso(limits.WINDOW_LATEST)}"
        elif end_at - start_at > limits.WINDOW_MAX_LENGTH:
            field, limit = "window", f"max_length={_interval(limits.WINDOW_MAX_LENGTH)}"
        else:
            return
    except OverflowError:  # datetime.min / max with an offset cannot even be compared in UTC
        field, limit = "start_at", f"earliest={_iso(limits.WINDOW_EARLIEST)}"
    raise WindowOutOfRange(
        f"{field} is out of range",
        details=f"{subject} field={field} start_at={_iso(start_at)} end_at={_iso(end_at)} {limit}".strip(),
        hint=f"Windows lie between {_iso(limits.WINDOW_EARLIEST)} and {_iso(limits.WINDOW_LATEST)} and last at "
        f"most {_interval(limits.WINDOW_MAX_LENGTH)}.")


def check_hold_expiry(expires_at: dt.datetime | None, ttl: dt.timedelta, *, subject: str = "") -> None:
    """A positive ``ttl`` and an expiry at most ``limits.HOLD_MAX_TTL`` ahead (by this machine's clock)."""
    _aware(expires_at, "expires_at")
    if expires_at is None and ttl <= dt.timedelta(0):
        raise InvalidArgument("a hold must expire in the future", details=f"{subject} ttl={ttl}".strip(),
                              hint="Pass a positive ttl.")
    try:
        too_late = (ttl if expires_at is None else expires_at - dt.datetime.now(dt.UTC)) > limits.HOLD_MAX_TTL
    except OverflowError:
        too_late = True
    if too_late:
        raise HoldExpiryOutOfRange(
            f"a hold may expire at most {_interval(limits.HOLD_MAX_TTL)} from now",
            details=f"{subject} field=expires_at expires_at={_iso(expires_at)} ttl={ttl} "
            f"max_ttl={_interval(limits.HOLD_MAX_TTL)}".strip(),
            hint="Pass a shorter expiry, and extend the hold while it is needed.")


def _iso(value: dt.datetime | None) -> str:
    if value is None:
        return "NULL"
    if value.tzinfo is None or value.utcoffset() is None:
        return value.isoformat()  # naive: shown as given, never converted as if it were the machine's local time
    try:
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:
        return value.isoformat()


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _metadata_json(metadata: Mapping[str, Any] | None, restaurant_id: uuid.UUID) -> str:
    """Hold metadata as JSON text; jsonb cannot hold a NUL character, so one is refused here, typed."""
    if _has_nul(metadata):
        raise InvalidArgument("hold metadata must not contain a NUL character",
                              details=f"restaurant_id={restaurant_id} field=metadata",
                              hint="Remove the NUL character from the metadata's keys and values.")
    return json.dumps(dict(metadata or {}), default=str)


def _key(value: str | None, booking_id: uuid.UUID | None) -> str | None:
    if value is not None and len(value) > limits.IDEMPOTENCY_KEY_MAX_LENGTH:
        raise IdempotencyKeyTooLong(
            f"an idempotency key may have at most {limits.IDEMPOTENCY_KEY_MAX_LENGTH} characters",
            details=f"booking_id={booking_id} field=idempotency_key length={len(value)} "
            f"max_length={limits.IDEMPOTENCY_KEY_MAX_LENGTH}",
            hint="Use a shorter key, such as a UUID.")
    if value is not None and "\x00" in value:  # PostgreSQL text cannot hold NUL: refuse it before the driver does
        raise InvalidArgument("an idempotency key must not contain a NUL character",
                              details=f"booking_id={booking_id} field=idempotency_key",
                              hint="Use printable characters, such as a UUID.")
    if value is not None and not value.strip():
        raise InvalidArgument("an idempotency key must not be blank",
                              details=f"booking_id={booking_id} idempotency_key='{value}'",
                              hint="Pass None for no key.")
    return value


def parse_status(value: str) -> str:
    if value not in BOOKING_STATUSES:
        raise UsageError(f"invalid booking status {value!r}", details=f"status={value!r}",
                         hint=f"One of: {', '.join(BOOKING_STATUSES)}.")
    return value


def _assignments(rows: Sequence[Mapping[str, Any]]) -> tuple[Assignment, ...]:
    return tuple(Assignment(r["table_id"], r["start_at"], r["end_at"], r["merge_group_id"]) for r in rows)


def check_assign_input(booking_id: IdLike, table_ids: Iterable[IdLike], *, key: str | None = None,
                       start_at: dt.datetime | None = None, end_at: dt.datetime | None = None) -> None:
    """What :meth:`Allocator.assign` refuses before sending anything (the CLI calls it before connecting)."""
    bid = parse_uuid(booking_id, "booking_id")
    parse_uuids(table_ids, "table_id")
    check_window(start_at, end_at, subject=f"booking_id={bid}")
    _key(key, bid)


def check_hold_input(restaurant_id: IdLike, table_ids: Iterable[IdLike], start_at: dt.datetime | None,
                     end_at: dt.datetime | None, *, expires_at: dt.datetime | None = None,
                     ttl: dt.timedelta = DEFAULT_HOLD_TTL) -> None:
    """What :meth:`Allocator.create_hold` refuses before sending anything."""
    rid = parse_uuid(restaurant_id, "restaurant_id")
    parse_uuids(table_ids, "table_id")
    check_window(start_at, end_at, required=True, subject=f"restaurant_id={rid}")
    check_hold_expiry(expires_at, ttl, subject=f"restaurant_id={rid}")


def check_extend_input(hold_id: IdLike, *, expires_at: dt.datetime | None = None,
                       ttl: dt.timedelta = DEFAULT_HOLD_TTL) -> None:
    """What :meth:`Allocator.extend_hold` refuses before sending anything."""
    check_hold_expiry(expires_at, ttl, subject=f"hold_id={parse_uuid(hold_id, 'hold_id')}")


def check_confirm_input(hold_id: IdLike, booking_id: IdLike | None = None, *, key: str | None = None) -> None:
    """What :meth:`Allocator.confirm_hold` refuses before sending anything."""
    parse_uuid(hold_id, "hold_id")
    _key(key, _optional_uuid(booking_id, "booking_id"))


def check_move_input(booking_id: IdLike, start_at: dt.datetime | None, end_at: dt.datetime | None) -> None:
    """What :meth:`Allocator.move_booking` refuses before sending anything."""
    check_window(start_at, end_at, required=True, subject=f"booking_id={parse_uuid(booking_id, 'booking_id')}")


# --- the API ---------------------------------------------------------------------------------------------------------


#: Generic plans for the PL/pgSQL statements: their queries are key lookups whose plan never depends on the values,
#: and the default (a custom plan per call, because the array parameters make the generic estimate look worse)
#: re-plans every statement on every call, over a third of an assign's server time. The public SQL functions (the move
#: included) set it in their SET clauses, and so, on a server with the GiST rescan bug, enable_indexscan = off
#: (tablemend.integrity). Nothing is set for the session: through a transaction-mode pooler it would not stick.


def _pool_kwargs() -> dict[str, Any]:
    """The same connections as :func:`tablemend.db.connect` (no startup options, no server-side prepared statements,
    dict rows, UTC timestamps via the pool's ``configure``), autocommit: one statement is one transaction."""
    return {"autocommit": True, **db.connect_kwargs()}


def _require_schema(conn: db.Connection, dsn: str) -> None:
    from tablemend.migrations import applied_versions, available

    applied = applied_versions(conn)
    missing = [f"{m.version}_{m.name}" for m in available() if m.version not in applied]
    if missing:
        what = "has no tablemend schema" if not applied else f"lacks migrations {', '.join(missing)}"
        raise SchemaMissing(
            f"database {db.describe_dsn(dsn)} {what}; run `tablemend migrate` first",
            hint="a database of another system (such as the origin's, with functions of the same names) is not "
            "tablemend's: point --dsn at tablemend's database",
        )


class Allocator:
    """Assign / unassign tables, hold and confirm them, change booking status: one transaction per call.

    Thread-safe: every call borrows a connection from the pool. Open with :meth:`open` (and close, or use it as a
    context manager), or wrap a pool you own with ``Allocator(pool)``.
    """

    def __init__(self, pool: ConnectionPool[Any], *, owns_pool: bool = False, record_conflicts: bool = True,
                 workaround: bool = True) -> None:
        self._pool = pool
        self._owns_pool = owns_pool
        self._record_conflicts = record_conflicts
        #: whether the server needs the GiST rescan workaround, as :meth:`open` read it (the functions carry the
        #: setting; :mod:`tablemend.integrity`)
        self.workaround = workaround

    @classmethod
    def open(cls, dsn: str | None = None, *, min_size: int = 1, max_size: int = 4, timeout: float = 30.0,
             record_conflicts: bool = True) -> Self:
        """A pool of ``min_size``..``max_size`` connections to ``dsn`` (resolved like :func:`tablemend.db.connect`).

        Waits until ``min_size`` connections are open, so an unreachable server fails here as ConnectionFailed.
        With ``record_conflicts`` every refused call of class AllocatorConflict (409) also writes an
        ``observability_events`` row (source ``capacity.rpc``, type ``capacity.rpc.conflict``, the request's ids and
        the error in ``context``), as the origin meant to and did not for the assign.
        """
        if min_size < 0 or max_size < max(min_size, 1):
            raise UsageError(f"invalid pool size min_size={min_size} max_size={max_size}")
        real = db.resolve_dsn(dsn)
        # one direct connection first: an unreachable server fails at once with libpq's reason, not a pool timeout;
        # it also checks the schema, since the origin's database has functions of the same names that would write
        # and it reads the server's GiST rescan verdict (recorded by migrate, else probed once per process)
        with db.connect(real, autocommit=True) as conn:
            _require_schema(conn, real)
            workaround = integrity.server_check(conn).workaround
            if workaround and not all(integrity.workaround_state(conn).values()):
                _log.warning("the server has (or may have) the GiST rescan bug but some allocator functions run "
                             "without enable_indexscan = off: run `tablemend db check` (docs/allocator.md §7)")
        kwargs = _pool_kwargs()
        pool: ConnectionPool[Any] = ConnectionPool(
            real, min_size=min_size, max_size=max_size, kwargs=kwargs, timeout=timeout, open=False,
            name="tablemend-allocator", configure=db.configure,
        )
        try:
            with db.translated():
                pool.open(wait=min_size > 0, timeout=kwargs["connect_timeout"])
        except ConnectionFailed as exc:
            pool.close()
            raise ConnectionFailed(f"cannot connect to {db.describe_dsn(real)}: {exc.message}") from exc
        return cls(pool, owns_pool=True, record_conflicts=record_conflicts, workaround=workaround)

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def pool(self) -> ConnectionPool[Any]:
        return self._pool

    def scoped(self, restaurant_id: IdLike, *, role: str | None = None) -> ScopedAllocator:
        """The same API on the same pool, each call one transaction in ``restaurant_id``'s tenant scope.

        The scope is the transaction-local setting ``tablemend.restaurant_id`` (row-level security and the definer
        functions key on it); with ``role`` the transaction also runs ``SET LOCAL ROLE`` to it (see
        :meth:`role_usable`). Nothing outlives the transaction, so pooled connections stay clean.
        """
        return ScopedAllocator(self._pool, parse_uuid(restaurant_id, "restaurant_id"), role,
                               record_conflicts=self._record_conflicts)

    def role_usable(self, role: str) -> bool:
        """True when ``role`` exists and the pool's user may ``SET ROLE`` to it (read from the catalog)."""
        with self._conn() as conn:
            row = conn.execute(sqlfiles.query("role_usable", "allocator.sql"), {"role": role}).fetchone()
        return bool(row and row["usable"])

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        with db.translated(), self._pool.connection() as conn:
            yield conn

    def _rows(self, name: str, params: Mapping[str, Any], file: str = "allocator.sql") -> list[dict[str, Any]]:
        query: LiteralString = sqlfiles.query(name, file)
        try:
            with self._conn() as conn:
                return list(conn.execute(query, params).fetchall())
        except AllocatorConflict as exc:
            self._record_conflict(name, params, exc)
            raise

    def _record_conflict(self, operation: str, params: Mapping[str, Any], exc: AllocatorConflict) -> None:
        """Write the origin's ``capacity.rpc.conflict`` event for a refused call (which rolled back), in a new
        transaction; a failure to record is logged and never hides the conflict itself."""
        if not self._record_conflicts:
            return
        table_ids = params.get("table_ids")
        context = {
            "source": operation,
            "bookingId": params.get("booking_id"),
            "restaurantId": params.get("restaurant_id"),
            "tableIds": list(table_ids) if table_ids is not None else None,
            "idempotencyKey": params.get("key"),
            "holdId": params.get("hold_id"),
            "error": exc.to_json(),
        }
        try:
            with self._conn() as conn:
                conn.execute(sqlfiles.query("record_conflict", "allocator.sql"), {
                    "context": json.dumps(context, default=str), "booking_id": params.get("booking_id"),
                    "restaurant_id": params.get("restaurant_id"), "hold_id": params.get("hold_id"),
                })
        except TablemendError as failed:
            _log.warning("could not record the %s conflict of %s: %s", exc.sqlstate, operation, failed.message)

    def _one(self, name: str, params: Mapping[str, Any], file: str = "allocator.sql") -> dict[str, Any]:
        rows = self._rows(name, params, file)
        if len(rows) != 1:  # every query here returns exactly one row or raises
            raise RuntimeError(f"allocator query {name} returned {len(rows)} rows")
        return rows[0]

    # --- assignment -------------------------------------------------------------------------------------------------

    def assign(
        self,
        booking_id: IdLike,
        table_ids: Iterable[IdLike],
        *,
        key: str | None = None,
        require_adjacency: bool = False,
        assigned_by: IdLike | None = None,
        start_at: dt.datetime | None = None,
        end_at: dt.datetime | None = None,
    ) -> tuple[Assignment, ...]:
        """Give the booking exactly these tables (replacing its previous set) over its window or ``[start, end)``.

        With ``key``, a retry of the same request returns the same result; a different request with that key is an
        IdempotencyMismatch naming the first differing field.
        """
        bid = parse_uuid(booking_id, "booking_id")
        ids = parse_uuids(table_ids, "table_id")
        check_window(start_at, end_at, subject=f"booking_id={bid}")
        rows = self._rows("assign", {
            "booking_id": bid, "table_ids": ids, "key": _key(key, bid), "adjacency": require_adjacency,
            "assigned_by": _optional_uuid(assigned_by, "assigned_by"), "start_at": start_at, "end_at": end_at,
        })
        return _assignments(rows)

    def unassign(self, booking_id: IdLike, table_ids: Iterable[IdLike] | None = None) -> tuple[uuid.UUID, ...]:
        """Remove the booking's tables (all, or only ``table_ids``); returns the ids removed (empty: none held)."""
        bid = parse_uuid(booking_id, "booking_id")
        ids = None if table_ids is None else parse_uuids(table_ids, "table_id")
        rows = self._rows("unassign", {"booking_id": bid, "table_ids": ids})
        return tuple(r["table_id"] for r in rows)

    # --- holds ------------------------------------------------------------------------------------------------------

    def create_hold(
        self,
        restaurant_id: IdLike,
        table_ids: Iterable[IdLike],
        start_at: dt.datetime,
        end_at: dt.datetime,
        *,
        booking_id: IdLike | None = None,
        expires_at: dt.datetime | None = None,
        ttl: dt.timedelta = DEFAULT_HOLD_TTL,
        created_by: IdLike | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Hold:
        """Hold tables over ``[start_at, end_at)`` until ``expires_at`` (default: server now + ``ttl``).

        A booking's new hold replaces its earlier ones; expired holds never block.
        """
        rid = parse_uuid(restaurant_id, "restaurant_id")
        ids = parse_uuids(table_ids, "table_id")
        check_window(start_at, end_at, required=True, subject=f"restaurant_id={rid}")
        check_hold_expiry(expires_at, ttl, subject=f"restaurant_id={rid}")
        bid = _optional_uuid(booking_id, "booking_id")
        row = self._one("create_hold", {
            "restaurant_id": rid, "table_ids": ids, "start_at": start_at, "end_at": end_at,
            "expires_at": expires_at, "ttl": ttl, "booking_id": bid,
            "created_by": _optional_uuid(created_by, "created_by"), "metadata": _metadata_json(metadata, rid),
        })
        return Hold(row["hold_id"], rid, tuple(sorted(set(ids))), start_at, end_at, row["expires_at"], bid)

    def extend_hold(self, hold_id: IdLike, *, expires_at: dt.datetime | None = None,
                    ttl: dt.timedelta = DEFAULT_HOLD_TTL) -> dt.datetime:
        """Move an active hold's expiry to ``expires_at`` (default: server now + ``ttl``); returns the new expiry."""
        hid = parse_uuid(hold_id, "hold_id")
        check_hold_expiry(expires_at, ttl, subject=f"hold_id={hid}")
        row = self._one("extend_hold", {"hold_id": hid, "expires_at": expires_at, "ttl": ttl})
        value = row["expires_at"]
        assert isinstance(value, dt.datetime)
        return value

    def release_hold(self, hold_id: IdLike) -> bool:
        """Release a hold; False when it was no longer active (releasing twice is harmless)."""
        row = self._one("release_hold", {"hold_id": parse_uuid(hold_id, "hold_id")})
        return bool(row["released"])

    def confirm_hold(
        self,
        hold_id: IdLike,
        booking_id: IdLike | None = None,
        *,
        key: str | None = None,
        require_adjacency: bool = False,
        assigned_by: IdLike | None = None,
    ) -> tuple[Assignment, ...]:
        """Assign exactly the hold's tables over its window to its booking (or ``booking_id``) and consume it."""
        hid = parse_uuid(hold_id, "hold_id")
        bid = _optional_uuid(booking_id, "booking_id")
        rows = self._rows("confirm_hold", {
            "hold_id": hid, "booking_id": bid, "key": _key(key, bid), "adjacency": require_adjacency,
            "assigned_by": _optional_uuid(assigned_by, "assigned_by"),
        })
        return _assignments(rows)

    # --- bookings ---------------------------------------------------------------------------------------------------

    def set_booking_status(self, booking_id: IdLike, status: str) -> StatusChange:
        """Change the status; a terminal one releases tables, holds, ledger and zone lock in the same transaction."""
        bid = parse_uuid(booking_id, "booking_id")
        row = self._one("set_booking_status", {"booking_id": bid, "status": parse_status(status)})
        return StatusChange(bid, row["previous"], status)

    def move_booking(self, booking_id: IdLike, start_at: dt.datetime, end_at: dt.datetime) -> BookingWindow:
        """Move the booking to ``[start_at, end_at)``; its tables move with it, or TableOccupied names the blocker.

        One call of the SQL function ``move_booking``: it locks the booking, then its tables in id order (the
        allocator's lock order), then updates the window (the bookings trigger moves the assignment rows).
        """
        bid = parse_uuid(booking_id, "booking_id")
        check_window(start_at, end_at, required=True, subject=f"booking_id={bid}")
        r = self._one("move_booking", {"booking_id": bid, "start_at": start_at, "end_at": end_at})
        return BookingWindow(r["booking_id"], r["restaurant_id"], r["start_at"], r["end_at"], r["status"])

    def booking(self, booking_id: IdLike) -> BookingState:
        """The booking's window, status and current tables."""
        bid = parse_uuid(booking_id, "booking_id")
        rows = self._rows("booking", {"booking_id": bid})
        if not rows:
            raise _booking_not_found(bid)
        r = rows[0]
        return BookingState(r["booking_id"], r["restaurant_id"], r["start_at"], r["end_at"], r["party_size"],
                            r["status"], r["assigned_zone_id"], tuple(r["table_ids"]))


    # --- auto-assign (tablemend.autoassign, docs/auto-assign.md) ----------------------------------------------------

    def quote(self, restaurant_id: IdLike, party_size: int, start_at: dt.datetime, end_at: dt.datetime, *,
              zone_id: IdLike | None = None, seating: str | None = None, limit: int = 5,
              booking_id: IdLike | None = None) -> tuple[Candidate, ...]:
        """Ranked table sets free over ``[start_at, end_at)`` that seat the party (reads only).

        No free set raises PartyTooLarge, NoFreeTables or ZoneClosed, naming why.
        """
        params = _auto_params(restaurant_id, party_size, start_at, end_at, zone_id, seating, booking_id)
        return candidates_from_rows(self._rows("quote", {**params, "limit": limit}, "autoassign.sql"))

    def hold_best_tables(self, restaurant_id: IdLike, party_size: int | None = None,
                         start_at: dt.datetime | None = None, end_at: dt.datetime | None = None, *,
                         booking_id: IdLike | None = None, zone_id: IdLike | None = None, seating: str | None = None,
                         expires_at: dt.datetime | None = None, ttl: dt.timedelta = DEFAULT_HOLD_TTL,
                         created_by: IdLike | None = None) -> BestHold:
        """Hold the best free candidate in one transaction; concurrent callers never get the same table.

        With ``booking_id``, a missing party size or window is the booking's own.
        """
        params = _auto_params(restaurant_id, party_size, start_at, end_at, zone_id, seating, booking_id,
                              window_required=booking_id is None)
        check_hold_expiry(expires_at, ttl, subject=f"restaurant_id={params['restaurant_id']}")
        row = self._one("hold_best", {**params, "expires_at": expires_at, "ttl": ttl,
                                      "created_by": _optional_uuid(created_by, "created_by")}, "autoassign.sql")
        return best_hold_from_row(row)

    def propose_repack(self, restaurant_id: IdLike | None = None, party_size: int | None = None,
                       start_at: dt.datetime | None = None, end_at: dt.datetime | None = None, *,
                       booking_id: IdLike | None = None, zone_id: IdLike | None = None,
                       seating: str | None = None) -> RepackPlan:
        """A plan of moves of other live, not-yet-seated bookings that frees a set for the party (changes nothing).

        With ``booking_id``, the restaurant, party size and window default to the booking's.
        """
        bid = _optional_uuid(booking_id, "booking_id")
        if bid is not None:
            rows = self._rows("booking_request", {"booking_id": bid}, "autoassign.sql")
            if not rows:
                raise _booking_not_found(bid)
            own = rows[0]
            restaurant_id = restaurant_id if restaurant_id is not None else own["restaurant_id"]
            party_size = party_size if party_size is not None else own["party_size"]
            if start_at is None and end_at is None:
                start_at, end_at = own["start_at"], own["end_at"]
        if restaurant_id is None:
            raise UsageError("a restaurant id (or a booking) is required")
        params = _auto_params(restaurant_id, party_size, start_at, end_at, zone_id, seating, bid)
        state = self._one("repack_state", params, "autoassign.sql")["state"]
        return propose_repack(state)

    def apply_repack(self, plan: RepackPlan, *, expires_at: dt.datetime | None = None,
                     ttl: dt.timedelta = DEFAULT_HOLD_TTL, assigned_by: IdLike | None = None) -> RepackResult:
        """Apply a proposed plan in one transaction: the moves, then a hold on the freed set (journalled).

        RepackPlanStale when anything the plan read has changed since.
        """
        check_hold_expiry(expires_at, ttl, subject=f"restaurant_id={plan.restaurant_id}")
        row = self._one("apply_repack", {
            "restaurant_id": plan.restaurant_id, "plan": json.dumps(plan.to_json()), "expires_at": expires_at,
            "ttl": ttl, "assigned_by": _optional_uuid(assigned_by, "assigned_by"),
            "booking_id": plan.booking_id}, "autoassign.sql")
        return RepackResult(row["hold_id"], tuple(row["table_ids"]), row["moved_bookings"], row["fingerprint"])


def _auto_params(restaurant_id: IdLike, party_size: int | None, start_at: dt.datetime | None,
                 end_at: dt.datetime | None, zone_id: IdLike | None, seating: str | None, booking_id: IdLike | None,
                 *, window_required: bool = True) -> dict[str, Any]:
    rid = parse_uuid(restaurant_id, "restaurant_id")
    check_window(start_at, end_at, required=window_required, subject=f"restaurant_id={rid}")
    if party_size is not None and (isinstance(party_size, bool) or not isinstance(party_size, int)):
        raise UsageError(f"invalid party size {party_size!r}: not an integer")
    return {"restaurant_id": rid, "party_size": party_size, "start_at": start_at, "end_at": end_at,
            "zone_id": _optional_uuid(zone_id, "zone_id"), "seating": seating,
            "booking_id": _optional_uuid(booking_id, "booking_id")}


class ScopedAllocator(Allocator):
    """An :class:`Allocator` whose every call is one transaction in one restaurant's tenant scope (and role)."""

    def __init__(self, pool: ConnectionPool[Any], restaurant_id: uuid.UUID, role: str | None, *,
                 record_conflicts: bool = True) -> None:
        super().__init__(pool, owns_pool=False, record_conflicts=record_conflicts)
        self.restaurant_id = restaurant_id
        self.role = role

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        with db.translated(), self._pool.connection() as conn, conn.transaction():
            if self.role is not None:
                conn.execute(psql.SQL("SET LOCAL ROLE {}").format(psql.Identifier(self.role)))
            conn.execute(sqlfiles.query("set_scope", "allocator.sql"), {"restaurant_id": self.restaurant_id})
            yield conn

    def _record_conflict(self, operation: str, params: Mapping[str, Any], exc: AllocatorConflict) -> None:
        # the telemetry row is the service's own write: the tenant role may only execute the allocator's functions
        Allocator(self._pool, record_conflicts=self._record_conflicts)._record_conflict(operation, params, exc)


def _booking_not_found(booking_id: uuid.UUID) -> BookingNotFound:
    return BookingNotFound(f"booking {booking_id} not found", details=f"booking_id={booking_id} restaurant_id=any",
                           hint="Check the booking id.")
