"""The origin sandbox: the database the origin's users have today, reproducible.

:func:`build_origin` installs the origin's tables and functions (``sql/origin/``, written from
``docs/origin-system.md`` §1-§2) into a database. :func:`seed_state` seeds one failing state of §3 in a restaurant of
its own and returns a :class:`StateCase`: the booking whose (re)assignment fails, the call to make, the exact error the
origin raises, and the other bookings whose rows cause it. :func:`call_assign` makes that call.

The doctor builds on this API; keep names and fields stable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, LiteralString

from psycopg.rows import dict_row

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.errors import UsageError

ORIGIN_STATES: tuple[str, ...] = (
    "D1", "D1a", "D1b", "D1c", "D2", "D3", "D4", "stale-own-slot", "overlap-other-slot", "leftover-allocation",
    "ledger-replay-empty", "ledger-hash-collision", "orphan-merge-groups", "zone-lock-drift",
)

#: historical points of the origin's schema (spec §1-§3) that live databases sit at: name -> (what it is, SQL files
#: applied after the newest schema). The legacy pieces of D3 / D4 are variants too.
ORIGIN_VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "newest": ("the newest intended schema (spec §1)", ()),
    "no-window": ("before M/20251107060000: no generated bta.assignment_window", ("origin/variant_no_window.sql",)),
    "no-hold-status": ("before M/20251117190000: no table_holds.status", ("origin/variant_no_hold_status.sql",)),
    "deferred-exclusion": ("before M/20251113203000: allocations_resource_window_excl, DEFERRABLE INITIALLY DEFERRED",
                           ("origin/variant_deferred_exclusion.sql",)),
    "exclusion-first": ("hand-patched: the (table_id, slot_id) key is newer than the bta exclusion constraint",
                        ("origin/variant_exclusion_first.sql",)),
    "legacy-index": ("before M/20251028064000: the partial unique index on (booking_id, idempotency_key)",
                     ("origin/legacy_idempotency_index.sql",)),
    "legacy-overload": ("the historical 5-argument overload still installed", ("origin/legacy_overload.sql",)),
    "early-november": ("no window column, no hold status and the deferred allocation exclusion together",
                       ("origin/variant_no_window.sql", "origin/variant_no_hold_status.sql",
                        "origin/variant_deferred_exclusion.sql")),
}

DUPLICATE_MESSAGE = "assign_tables_atomic_v2 assignment duplicate for table {table_id}"
_SQL = "origin/sandbox.sql"
#: the restaurant every seed uses; its service date is this many days ahead, so no seeded booking is in the past
_DAYS_AHEAD = 30
_TIMEZONE = "Europe/London"


def _q(name: str) -> LiteralString:
    return sqlfiles.query(name, _SQL)


@dataclass(frozen=True)
class StateCase:
    """One seeded state and the call that shows it."""

    code: str  # one of ORIGIN_STATES
    title: str
    restaurant_id: uuid.UUID
    booking_id: uuid.UUID  # P: the booking whose (re)assignment fails
    table_ids: tuple[uuid.UUID, ...]  # what P's call requests
    idempotency_key: str | None
    start_at: dt.datetime | None  # custom window passed to the call, None = the booking's own
    end_at: dt.datetime | None
    require_adjacency: bool
    expected_sqlstate: str | None  # None when the call succeeds (empty replay / hygiene-only states)
    expected_message: str | None  # exact primary message the origin raises (ids filled in)
    expected_rows: int | None  # e.g. 0 for the silent empty replay; None when it raises
    blocking_booking_ids: tuple[uuid.UUID, ...]  # other bookings whose rows cause it (may be empty)

    def call_args(self) -> dict[str, object]:
        """The 7 named ``p_*`` arguments of ``assign_tables_atomic_v2``."""
        return {
            "p_booking_id": self.booking_id,
            "p_table_ids": list(self.table_ids),
            "p_idempotency_key": self.idempotency_key,
            "p_require_adjacency": self.require_adjacency,
            "p_assigned_by": None,
            "p_start_at": self.start_at,
            "p_end_at": self.end_at,
        }


@dataclass(frozen=True)
class SampleIds:
    """What :func:`seed_sample` created (tables in creation order: main zone first)."""

    restaurant_id: uuid.UUID
    zone_ids: tuple[uuid.UUID, ...]
    table_ids: tuple[uuid.UUID, ...]
    booking_ids: tuple[uuid.UUID, ...]
    slot_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class OriginFeatures:
    installed: bool
    legacy_overload: bool
    legacy_idempotency_index: bool
    #: tablemend's own schema is there (``tablemend.schema_migrations``): its tables share the origin's names
    tablemend_schema: bool = False


# --- building -----------------------------------------------------------------------------------------------------


def origin_features(conn: Connection) -> OriginFeatures:
    """Whether the origin schema is installed, and which legacy pieces it carries."""
    with translated():
        cur = conn.cursor(row_factory=dict_row)
        installed = bool(cur.execute(_q("installed_tables")).fetchall())
        row = cur.execute(_q("legacy_pieces")).fetchone()
    assert row is not None
    return OriginFeatures(installed, bool(row["legacy_overload"]), bool(row["legacy_idempotency_index"]),
                          bool(row["tablemend_schema"]))


def parse_variant(name: str) -> str:
    """A known variant name, or a UsageError listing them."""
    if name not in ORIGIN_VARIANTS:
        raise UsageError(f"unknown origin variant {name!r}; known: {', '.join(ORIGIN_VARIANTS)}")
    return name


def build_origin(conn: Connection, *, legacy_overload: bool = False, legacy_idempotency_index: bool = False,
                 variant: str = "newest", rls: bool = False) -> None:
    """Create the origin's schema and functions in the connected database, in one transaction.

    ``legacy_overload`` adds the 5-argument overload (state D4); ``legacy_idempotency_index`` the partial unique index
    on ``(booking_id, idempotency_key)`` (state D3); ``variant`` (see :data:`ORIGIN_VARIANTS`) builds the schema at
    one of the origin's historical points; ``rls`` the origin's tenant row-level security policies on
    ``app.restaurant_id`` (:func:`enable_rls`). Refuses a database that already has the origin's tables.
    """
    files = ORIGIN_VARIANTS[parse_variant(variant)][1]
    with translated(), conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        existing = [r["name"] for r in cur.execute(_q("installed_tables")).fetchall()]
        if existing:
            raise UsageError(
                f"the origin's tables already exist in this database ({', '.join(existing)})",
                hint="use a fresh database, or `tablemend sandbox origin --reset`",
            )
        conn.execute(sqlfiles.read("origin/schema.sql"))
        conn.execute(sqlfiles.read("origin/functions.sql"))
        if legacy_overload and "origin/legacy_overload.sql" not in files:
            conn.execute(sqlfiles.read("origin/legacy_overload.sql"))
        if legacy_idempotency_index and "origin/legacy_idempotency_index.sql" not in files:
            conn.execute(sqlfiles.read("origin/legacy_idempotency_index.sql"))
        for name in files:
            conn.execute(sqlfiles.read(name))
        if rls:
            enable_rls(conn)


def enable_rls(conn: Connection) -> None:
    """The origin's tenant policies: each tenant table shows only the rows of the restaurant in ``app.restaurant_id``
    (to roles that neither own the tables nor have BYPASSRLS)."""
    with translated(), conn.transaction():
        conn.execute(sqlfiles.read("origin/rls.sql"))


# --- seeding helpers ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """One restaurant: zone "Main" with tables T1-T6 (T6 fixed) and zone "Terrace" with U1-U2."""

    restaurant_id: uuid.UUID
    main_zone: uuid.UUID
    terrace_zone: uuid.UUID
    t: tuple[uuid.UUID, ...]  # T1..T6
    u: tuple[uuid.UUID, ...]  # U1..U2
    day: dt.date


@dataclass(frozen=True)
class _Booking:
    id: uuid.UUID
    start_at: dt.datetime
    end_at: dt.datetime


def _one(conn: Connection, query: LiteralString, params: dict[str, Any]) -> dict[str, Any]:
    row = conn.cursor(row_factory=dict_row).execute(query, params).fetchone()
    assert row is not None
    return row


def _layout(conn: Connection, label: str) -> _Layout:
    slug = f"{label.lower()}-{uuid.uuid4().hex[:8]}"
    rid = _one(conn, _q("insert_restaurant"), {"name": f"Sandbox {label}", "slug": slug, "timezone": _TIMEZONE})["id"]
    main = _one(conn, _q("insert_zone"), {"restaurant_id": rid, "name": "Main", "sort_order": 1,
                                          "area_type": "indoor"})["id"]
    terrace = _one(conn, _q("insert_zone"), {"restaurant_id": rid, "name": "Terrace", "sort_order": 2,
                                             "area_type": "outdoor"})["id"]
    for capacity in (2, 4, 6):
        conn.execute(_q("insert_allowed_capacity"), {"restaurant_id": rid, "capacity": capacity,
                                                     "label": f"{capacity} seats"})
    t: list[uuid.UUID] = []
    for n, (capacity, mobility) in enumerate([(2, "movable"), (2, "movable"), (4, "movable"), (4, "movable"),
                                              (4, "movable"), (6, "fixed")], start=1):
        t.append(_one(conn, _q("insert_table"), {"restaurant_id": rid, "zone_id": main, "table_number": f"T{n}",
                                                 "capacity": capacity, "mobility": mobility, "section": "main"})["id"])
    u = [_one(conn, _q("insert_table"), {"restaurant_id": rid, "zone_id": terrace, "table_number": f"U{n}",
                                         "capacity": 4, "mobility": "movable", "section": "terrace"})["id"]
         for n in (1, 2)]
    for a, b in [(t[0], t[1]), (t[1], t[2]), (t[2], t[3]), (t[3], t[4]), (u[0], u[1])]:
        conn.execute(_q("insert_adjacency"), {"table_a": a, "table_b": b})
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=_DAYS_AHEAD)
    return _Layout(rid, main, terrace, tuple(t), tuple(u), day)


def _booking(conn: Connection, lay: _Layout, name: str, start: str = "19:00", end: str = "21:00",
             status: str = "pending", party: int = 4) -> _Booking:
    row = _one(conn, _q("insert_booking"), {
        "restaurant_id": lay.restaurant_id, "customer_name": name, "booking_date": lay.day,
        "start_time": dt.time.fromisoformat(start), "end_time": dt.time.fromisoformat(end), "party_size": party,
        "status": status, "reference": f"{name.upper()}-{uuid.uuid4().hex[:6]}",
    })
    return _Booking(row["id"], row["start_at"], row["end_at"])


def _assign(conn: Connection, booking: uuid.UUID, tables: list[uuid.UUID], key: str | None = None,
            start_at: dt.datetime | None = None, end_at: dt.datetime | None = None) -> None:
    conn.execute(_q("assign"), {"p_booking_id": booking, "p_table_ids": tables, "p_idempotency_key": key,
                                "p_require_adjacency": False, "p_assigned_by": None, "p_start_at": start_at,
                                "p_end_at": end_at})


def _slot(conn: Connection, lay: _Layout, at: str) -> uuid.UUID:
    row = _one(conn, _q("slot_for"), {"restaurant_id": lay.restaurant_id, "slot_date": lay.day,
                                      "slot_time": dt.time.fromisoformat(at)})
    return uuid.UUID(str(row["id"]))


def _status(conn: Connection, booking: uuid.UUID, status: str) -> None:
    conn.execute(_q("set_status"), {"booking_id": booking, "status": status})


def _drop_allocation(conn: Connection, booking: uuid.UUID, table: uuid.UUID) -> None:
    conn.execute(_q("delete_table_allocation"), {"booking_id": booking, "table_id": table})


def _dup(table: uuid.UUID) -> str:
    return DUPLICATE_MESSAGE.format(table_id=table)


def _case(code: str, title: str, lay: _Layout, p: _Booking, tables: list[uuid.UUID], *,
          key: str | None = None, start_at: dt.datetime | None = None, end_at: dt.datetime | None = None,
          sqlstate: str | None = None, message: str | None = None, rows: int | None = None,
          blocking: tuple[uuid.UUID, ...] = ()) -> StateCase:
    return StateCase(code=code, title=title, restaurant_id=lay.restaurant_id, booking_id=p.id,
                     table_ids=tuple(tables), idempotency_key=key, start_at=start_at, end_at=end_at,
                     require_adjacency=False, expected_sqlstate=sqlstate, expected_message=message,
                     expected_rows=rows, blocking_booking_ids=blocking)


# --- the states ---------------------------------------------------------------------------------------------------
# P requests [T1, T2] (X = T1) at 19:00-21:00 unless a state says otherwise.


def _d1(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    b = _booking(conn, lay, "B")
    _assign(conn, b.id, [x])
    _status(conn, b.id, "cancelled")
    _drop_allocation(conn, b.id, x)  # cancelling released the allocation; the bta row stayed
    p = _booking(conn, lay, "P")
    return _case("D1", "cancelled booking B still holds (X, S); its allocation is gone", lay, p, [x, y],
                 sqlstate="P0001", message=_dup(x), blocking=(b.id,))


def _d1a(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    b = _booking(conn, lay, "B", status="no_show")
    conn.execute(_q("insert_raw_assignment"), {"booking_id": b.id, "table_id": x, "slot_id": _slot(conn, lay, "19:00"),
                                               "start_at": None, "end_at": None, "notes": "legacy row, no window"})
    p = _booking(conn, lay, "P")
    return _case("D1a", "no-show booking B holds (X, S) with a NULL window (legacy row)", lay, p, [x, y],
                 sqlstate="P0001", message=_dup(x), blocking=(b.id,))


def _d1b(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    b = _booking(conn, lay, "B")
    _assign(conn, b.id, [x])
    _status(conn, b.id, "confirmed")
    moved = _one(conn, _q("move_booking"), {"booking_id": b.id, "start_time": dt.time(21, 30),
                                            "end_time": dt.time(23, 0)})
    conn.execute(_q("sync_windows"), {"booking_id": b.id, "table_ids": None, "start_at": moved["start_at"],
                                      "end_at": moved["end_at"]})
    p = _booking(conn, lay, "P")
    return _case("D1b", "booking B moved to 21:30; its row kept the stale slot S of 19:00", lay, p, [x, y],
                 sqlstate="P0001", message=_dup(x), blocking=(b.id,))


def _d1c(conn: Connection, lay: _Layout) -> StateCase:
    x, y, w, v = lay.t[0], lay.t[1], lay.t[2], lay.t[3]
    b = _booking(conn, lay, "B")
    _assign(conn, b.id, [x, w])
    _status(conn, b.id, "confirmed")
    _assign(conn, b.id, [w, v])  # B moved to [W, V]; v2 never deletes B's old row on X
    _drop_allocation(conn, b.id, x)  # synchronizeAssignments prunes allocations outside the new set
    p = _booking(conn, lay, "P")
    return _case("D1c", "booking B moved to other tables; its row on X stayed, its allocation on X was pruned", lay,
                 p, [x, y], sqlstate="P0001", message=_dup(x), blocking=(b.id,))


def _d2(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    b = _booking(conn, lay, "B")
    _assign(conn, b.id, [x])  # B's call won the race and committed (X, S)
    _status(conn, b.id, "confirmed")
    p = _booking(conn, lay, "P")
    start, end = p.end_at, p.end_at + dt.timedelta(hours=2)  # P's custom window does not overlap B's
    return _case("D2", "race: B committed (X, S) while P waited; P's custom window does not overlap", lay, p,
                 [x, y], start_at=start, end_at=end, sqlstate="P0001", message=_dup(x), blocking=(b.id,))


def _d3(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    p = _booking(conn, lay, "P")
    second = sorted([x, y])[1]  # the first table's row makes the second one collide on (P, key)
    return _case("D3", "legacy partial unique index on (booking_id, idempotency_key), multi-table call with a key",
                 lay, p, [x, y], key=f"d3-{uuid.uuid4().hex[:12]}", sqlstate="P0001", message=_dup(second))


def _d4(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    p = _booking(conn, lay, "P")
    message = ("function public.assign_tables_atomic_v2(p_booking_id => uuid, p_table_ids => uuid[], "
               "p_idempotency_key => text, p_require_adjacency => boolean, p_assigned_by => uuid) is not unique")
    return _case("D4", "historical 5-argument overload installed: a 5-argument call is ambiguous", lay, p, [x, y],
                 sqlstate="42725", message=message)


def _stale_own_slot(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    b = _booking(conn, lay, "B")
    _assign(conn, b.id, [x])
    _status(conn, b.id, "PRIORITY_WAITLIST")
    _drop_allocation(conn, b.id, x)
    p = _booking(conn, lay, "P", start="16:00", end="18:00")
    _assign(conn, p.id, [x, y])  # P holds X at slot 16:00 ...
    moved = _one(conn, _q("move_booking"), {"booking_id": p.id, "start_time": dt.time(19, 0),
                                            "end_time": dt.time(21, 0)})  # ... and is edited to 19:00
    p = _Booking(p.id, moved["start_at"], moved["end_at"])
    return _case("stale-own-slot", "P holds X at its old slot; waitlisted B holds (X, S) of P's new time", lay, p,
                 [x, y], sqlstate="23505",
                 message="duplicate key value violates unique constraint "
                         '"booking_table_assignments_table_id_slot_id_key"',
                 blocking=(b.id,))


def _overlap_other_slot(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    b = _booking(conn, lay, "B")
    _status(conn, b.id, "cancelled")
    conn.execute(_q("insert_raw_assignment"), {"booking_id": b.id, "table_id": x, "slot_id": None,
                                               "start_at": b.start_at, "end_at": b.end_at,
                                               "notes": "direct assignment: no slot, no allocation"})
    p = _booking(conn, lay, "P")
    return _case("overlap-other-slot", "cancelled B's direct row on X overlaps P's window, with no slot", lay, p,
                 [x, y], sqlstate="23P01",
                 message='conflicting key value violates exclusion constraint "no_overlapping_table_assignments"',
                 blocking=(b.id,))


def _leftover_allocation(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    b = _booking(conn, lay, "B")
    _assign(conn, b.id, [x])
    conn.execute(_q("delete_booking_assignments"), {"booking_id": b.id})  # the status route deletes bta rows only
    _status(conn, b.id, "cancelled")
    p = _booking(conn, lay, "P")
    return _case("leftover-allocation", "cancelled B kept its non-shadow allocation on X over P's window", lay, p,
                 [x, y], sqlstate="P0001", message="allocations_no_overlap", blocking=(b.id,))


def _ledger_seed(conn: Connection, lay: _Layout) -> tuple[_Booking, list[uuid.UUID], str]:
    # One table: a multi-table keyed call would hit the legacy index (D3) first in a database that also has it.
    x = lay.t[4]
    p = _booking(conn, lay, "P", party=4)
    key = f"k-{uuid.uuid4().hex[:12]}"
    _assign(conn, p.id, [x], key=key)
    conn.execute(_q("unassign"), {"booking_id": p.id, "table_ids": None})  # leaves the ledger row behind
    return p, [x], key


def _ledger_replay_empty(conn: Connection, lay: _Layout) -> StateCase:
    p, tables, key = _ledger_seed(conn, lay)
    return _case("ledger-replay-empty", "P's ledger row outlived its assignments: same key replays 0 rows", lay, p,
                 tables, key=key, rows=0)


def _ledger_hash_collision(conn: Connection, lay: _Layout) -> StateCase:
    p, tables, _ = _ledger_seed(conn, lay)
    return _case("ledger-hash-collision", "P's ledger row outlived its assignments: a new key collides on the hash",
                 lay, p, tables, key=f"k-{uuid.uuid4().hex[:12]}", sqlstate="23505",
                 message='duplicate key value violates unique constraint '
                         '"booking_assignment_idempotency_booking_hash_key"')


def _orphan_merge_groups(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    p = _booking(conn, lay, "P")
    _assign(conn, p.id, [x, y])
    _assign(conn, p.id, [x, y])  # every multi-table call adds a merge group; the earlier one is orphaned
    return _case("orphan-merge-groups", "P's earlier merge_group allocations are referenced by nothing", lay, p,
                 [x, y], rows=2)


def _zone_lock_drift(conn: Connection, lay: _Layout) -> StateCase:
    x, y = lay.t[0], lay.t[1]
    p = _booking(conn, lay, "P")
    _assign(conn, p.id, list(lay.u))  # P was seated on the terrace ...
    conn.execute(_q("delete_booking_assignments"), {"booking_id": p.id})  # ... reset-bookings deleted its rows only
    return _case("zone-lock-drift", "P's assigned_zone_id still locks it to the terrace", lay, p, [x, y],
                 sqlstate="23514",
                 message=f"Booking {p.id} locked to zone {lay.terrace_zone}, cannot assign zone {lay.main_zone}")


_SEEDS = {
    "D1": _d1, "D1a": _d1a, "D1b": _d1b, "D1c": _d1c, "D2": _d2, "D3": _d3, "D4": _d4,
    "stale-own-slot": _stale_own_slot, "overlap-other-slot": _overlap_other_slot,
    "leftover-allocation": _leftover_allocation, "ledger-replay-empty": _ledger_replay_empty,
    "ledger-hash-collision": _ledger_hash_collision, "orphan-merge-groups": _orphan_merge_groups,
    "zone-lock-drift": _zone_lock_drift,
}
assert tuple(_SEEDS) == ORIGIN_STATES


def parse_states(text: str) -> tuple[str, ...]:
    """``"D1,D2"`` or ``"all"`` -> state codes, validated (UsageError naming every unknown code)."""
    if text.strip().lower() == "all":
        return ORIGIN_STATES
    codes = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [c for c in codes if c not in _SEEDS]
    if unknown or not codes:
        raise UsageError(f"unknown state code(s): {', '.join(unknown) or '(none given)'}; "
                         f"known: {', '.join(ORIGIN_STATES)}, or all")
    return tuple(dict.fromkeys(codes))


def seed_state(conn: Connection, code: str) -> StateCase:
    """Seed one state of §3 in a new restaurant of its own (committed unless ``conn`` is inside a transaction)."""
    seed = _SEEDS.get(code)
    if seed is None:
        raise UsageError(f"unknown state code {code!r}; known: {', '.join(ORIGIN_STATES)}")
    with conn.transaction():
        features = origin_features(conn)
        if not features.installed:
            raise UsageError("the origin schema is not installed in this database", hint="build_origin(conn) first")
        if code == "D3" and not features.legacy_idempotency_index:
            raise UsageError("state D3 needs the legacy idempotency index",
                             hint="build_origin(conn, legacy_idempotency_index=True)")
        if code == "D4" and not features.legacy_overload:
            raise UsageError("state D4 needs the legacy 5-argument overload",
                             hint="build_origin(conn, legacy_overload=True)")
        with translated():
            return seed(conn, _layout(conn, code))


def seed_sample(conn: Connection) -> SampleIds:
    """One restaurant, 2 zones, 8 tables with adjacencies, slots, and a few bookings (two of them assigned)."""
    with translated(), conn.transaction():
        lay = _layout(conn, "sample")
        alice = _booking(conn, lay, "Alice", "18:00", "20:00", party=2)
        bob = _booking(conn, lay, "Bob", "19:00", "21:00", party=6)
        cara = _booking(conn, lay, "Cara", "20:30", "22:00", party=4)
        _assign(conn, alice.id, [lay.t[0]], key="sample-alice")
        _assign(conn, bob.id, [lay.t[2], lay.t[3]])
        _status(conn, bob.id, "confirmed")
        slots = tuple(_slot(conn, lay, at) for at in ("18:00", "19:00", "20:30"))
    return SampleIds(lay.restaurant_id, (lay.main_zone, lay.terrace_zone), (*lay.t, *lay.u),
                     (alice.id, bob.id, cara.id), slots)


def call_query(case: StateCase) -> LiteralString:
    """The SQL of the case's call. D4's caller is a legacy one that names only the first 5 arguments."""
    return _q("call_v2_five_args") if case.code == "D4" else _q("call_v2")


def call_assign(conn: Connection, case: StateCase) -> list[dict[str, Any]]:
    """Call ``public.assign_tables_atomic_v2`` with the case's named arguments, in its own transaction (savepoint).

    Every case passes all 7 named arguments, except D4, whose state is precisely that a 5-argument caller hits the
    ambiguous overload. Errors come back as :class:`tablemend.errors.TablemendError` with the server's SQLSTATE.
    """
    args = case.call_args()
    if case.code == "D4":
        args = {k: v for k, v in args.items() if k not in ("p_start_at", "p_end_at")}
    with translated(), conn.transaction():
        rows = conn.cursor(row_factory=dict_row).execute(call_query(case), args).fetchall()
        conn.execute(_q("check_deferred"))  # as the caller's COMMIT would (deferred-exclusion variant)
    return [dict(r) for r in rows]


# --- a sandbox database, as the CLI makes it --------------------------------------------------------------------------

DEFAULT_DATABASE = "origin_sandbox"


@dataclass(frozen=True)
class SandboxResult:
    """What :func:`prepare` made: where, whether it created the database / built the schema, and the seeded cases."""

    dsn: str
    database: str
    created: bool
    built: bool
    features: OriginFeatures
    cases: tuple[StateCase, ...]


def prepare(dsn: str | None, *, database: str | None = None, states: tuple[str, ...] = ORIGIN_STATES,
            legacy_overload: bool = False, legacy_idempotency_index: bool = False,
            reset: bool = False, variant: str = "newest", rls: bool = False) -> SandboxResult:
    """Create (or reuse) a sandbox database, build the origin in it when missing, and seed ``states``.

    Without ``dsn`` the database ``database`` (default ``origin_sandbox``) is made on the default server (embedded
    cluster unless ``DATABASE_URL`` / ``PG*`` say otherwise). With ``dsn`` and no ``database`` it builds in the DSN's
    own database. Requesting D3 / D4 implies the legacy piece it needs. ``reset`` drops and recreates only a database
    named by ``database`` (or the default one), never the DSN's own.
    """
    unknown = [c for c in states if c not in _SEEDS]
    if unknown:
        raise UsageError(f"unknown state code(s): {', '.join(unknown)}; known: {', '.join(ORIGIN_STATES)}")
    parse_variant(variant)
    from tablemend import databases
    from tablemend.db import connect, resolve_dsn

    if dsn is None and database is None:
        database = DEFAULT_DATABASE
    if dsn is not None and database is None and reset:
        raise UsageError("--reset drops a database only when it is named: add --database NAME",
                         hint="tablemend never drops the database a --dsn points at")
    want_overload = legacy_overload or "D4" in states
    want_index = legacy_idempotency_index or "D3" in states
    created = False
    if database is not None:
        server = resolve_dsn(dsn)
        created = databases.ensure(server, database, reset=reset)
        target = databases.dsn_for(server, database)
    else:
        assert dsn is not None
        target = dsn
    built = False
    with connect(target, autocommit=True) as conn:
        features = origin_features(conn)
        if features.tablemend_schema:  # same table names as the origin's: not an origin sandbox missing pieces
            raise UsageError(f"database {conn.info.dbname} holds tablemend's own schema (its migrations are "
                             "applied), not the origin's: the origin sandbox needs a database of its own",
                             hint="drop --dsn to use the embedded default, or pass --database NAME for a new one")
        if not features.installed:
            build_origin(conn, legacy_overload=want_overload, legacy_idempotency_index=want_index, variant=variant,
                         rls=rls)
            built = True
        elif (want_overload and not features.legacy_overload) or (want_index and not features.legacy_idempotency_index):
            missing = [name for name, wanted, present in (
                ("the 5-argument overload", want_overload, features.legacy_overload),
                ("the legacy idempotency index", want_index, features.legacy_idempotency_index),
            ) if wanted and not present]
            raise UsageError(f"the existing origin sandbox lacks {' and '.join(missing)}",
                             hint="rebuild it with --reset (with --database NAME when --dsn is given)")
        features = origin_features(conn)
        cases = tuple(seed_state(conn, code) for code in states)
        name = database if database is not None else (conn.info.dbname or "?")
    return SandboxResult(target, name, created, built, features, cases)
