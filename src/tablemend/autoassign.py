"""Auto-assign: quote the best table sets for a party, hold the best one race-free, re-pack a window.

Quoting and holding run in the database (``quote_tables`` and ``hold_best_tables`` in
``sql/migrations/0006_auto_assign.sql``); this module turns their rows into :class:`Candidate` / :class:`BestHold`.
The re-pack search runs here, over one snapshot read by ``repack_state`` (:func:`propose_repack`); the plan it returns
is applied by ``apply_repack_plan`` in one transaction, refused when its fingerprint no longer matches.

The same enumeration as the SQL (:func:`connected_sets`) is kept in Python for the re-pack search and for
``bench.quote``; the rules are in docs/auto-assign.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tablemend.errors import PartyTooLarge, RepackNotFound

#: Largest group of tables the quote combines (the origin's selector stops at 4 as well).
MAX_TABLES = 4
#: Target sets a re-pack search examines at most (best-ranked first).
REPACK_TARGETS = 200
#: Live statuses a re-pack may move (a checked-in party is seated: it stays).
MOVABLE_STATUSES = frozenset({"pending", "pending_allocation", "confirmed"})


@dataclass(frozen=True)
class Candidate:
    """One ranked table set; ``reason`` says why it ranks where it does."""

    rank: int
    table_ids: tuple[uuid.UUID, ...]
    table_numbers: tuple[str, ...]
    zone_id: uuid.UUID
    zone_name: str
    zone_order: int
    seats: int
    spare_seats: int
    table_count: int
    reason: str


@dataclass(frozen=True)
class BestHold:
    """The hold ``hold_best_tables`` made on its best free candidate."""

    hold_id: uuid.UUID
    rank: int
    table_ids: tuple[uuid.UUID, ...]
    table_numbers: tuple[str, ...]
    zone_id: uuid.UUID
    seats: int
    spare_seats: int
    reason: str
    start_at: dt.datetime
    end_at: dt.datetime
    expires_at: dt.datetime
    lost_to_others: int


def candidates_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[Candidate, ...]:
    return tuple(Candidate(r["rank"], tuple(r["table_ids"]), tuple(r["table_numbers"]), r["zone_id"], r["zone_name"],
                           r["zone_order"], r["seats"], r["spare_seats"], r["table_count"], r["reason"])
                 for r in rows)


def best_hold_from_row(r: Mapping[str, Any]) -> BestHold:
    return BestHold(r["hold_id"], r["rank"], tuple(r["table_ids"]), tuple(r["table_numbers"]), r["zone_id"],
                    r["seats"], r["spare_seats"], r["reason"], r["start_at"], r["end_at"], r["expires_at"],
                    r["lost_to_others"])


# --- the floor and its connected sets (the same rules as autoassign_sets in SQL) -------------------------------------


@dataclass(frozen=True)
class Table:
    id: uuid.UUID
    number: str
    zone_id: uuid.UUID
    capacity: int
    min_party_size: int
    max_party_size: int | None
    movable: bool
    assignable: bool
    seating_type: str | None = None

    @property
    def most(self) -> int:
        """The most guests this table takes: its capacity, or its max_party_size when lower."""
        return min(self.capacity, self.max_party_size if self.max_party_size is not None else self.capacity)


@dataclass
class Floor:
    """Tables in rank position (zone order, then table number) with movable same-zone adjacency by position."""

    tables: list[Table]
    zone_names: dict[uuid.UUID, str]
    zone_orders: dict[uuid.UUID, int]
    neighbours: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, tables: Sequence[Table], zones: Sequence[tuple[uuid.UUID, str, int]],
              edges: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> Floor:
        position = {zid: (order, name, str(zid)) for zid, name, order in zones}
        ordered = sorted(tables, key=lambda t: (position[t.zone_id], len(t.number), t.number.encode(), str(t.id)))
        index = {t.id: i for i, t in enumerate(ordered)}
        nb: dict[int, set[int]] = defaultdict(set)
        for a, b in edges:
            if a in index and b in index:
                ta, tb = ordered[index[a]], ordered[index[b]]
                if ta.zone_id == tb.zone_id and ta.movable and tb.movable:
                    nb[index[a]].add(index[b])
                    nb[index[b]].add(index[a])
        floor = cls(ordered, {z: n for z, n, _ in zones}, {z: o for z, _, o in zones})
        floor.neighbours = {i: sorted(s) for i, s in nb.items()}
        return floor


def connected_sets(floor: Floor, party: int, allowed: Sequence[bool], *, max_tables: int = MAX_TABLES,
                   counter: list[int] | None = None) -> Iterator[tuple[int, ...]]:
    """Every set that admits ``party`` among the ``allowed`` positions: one table, or a connected group of movable
    tables of one zone; each produced once (ESU: extend only with higher neighbours not yet adjacent to the set).

    A set admits the party when ``sum(min_party_size) <= party <= sum(most)``; growth stops at a set that already
    reaches the party or whose minimums exceed it. ``counter[0]`` is increased by the number of sets grown.
    """
    tables = floor.tables
    nbs = floor.neighbours
    grown = 0
    for root, t in enumerate(tables):
        if not allowed[root] or t.min_party_size > party:
            continue
        grown += 1
        if t.most >= party:
            yield (root,)
            continue
        if not t.movable:
            continue
        first = nbs.get(root, [])
        stack: list[tuple[tuple[int, ...], list[int], frozenset[int], int, int]] = [
            ((root,), [u for u in first if u > root and allowed[u]], frozenset([root, *first]), t.min_party_size,
             t.most)]
        while stack:
            members, ext, closed, lo, hi = stack.pop()
            for k, w in enumerate(ext):
                tw = tables[w]
                if lo + tw.min_party_size > party:
                    continue
                grown += 1
                sub = (*members, w)
                if hi + tw.most >= party:
                    yield tuple(sorted(sub))
                    continue
                if len(sub) >= max_tables:
                    continue
                w_nb = nbs.get(w, [])
                more = [u for u in w_nb if u > root and u not in closed and allowed[u]]
                stack.append((sub, ext[k + 1:] + more, closed | frozenset(w_nb), lo + tw.min_party_size,
                              hi + tw.most))
    if counter is not None:
        counter[0] += grown


def ranked(floor: Floor, party: int, sets: Iterable[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Sets in rank order (spare seats, table count, positions), minus any set containing a better one."""
    def seats(s: tuple[int, ...]) -> int:
        return sum(floor.tables[i].capacity for i in s)

    out: list[tuple[int, ...]] = []
    kept: list[frozenset[int]] = []
    for s in sorted(sets, key=lambda s: (seats(s), len(s), s)):
        fs = frozenset(s)
        if len(s) > 1 and any(k < fs for k in kept):
            continue
        kept.append(fs)
        out.append(s)
    return out


_Spans = dict[uuid.UUID, list[tuple[dt.datetime, dt.datetime, uuid.UUID | None]]]


def _occupancy(state: Mapping[str, Any]) -> tuple[dict[uuid.UUID, _Booking], _Spans, _Spans]:
    """Bookings with their tables, and per table the assignment and active-hold windows (with their booking)."""
    bookings: dict[uuid.UUID, _Booking] = {}
    busy: _Spans = defaultdict(list)
    for a in state["assignments"]:
        bid, tid = uuid.UUID(str(a["booking_id"])), uuid.UUID(str(a["table_id"]))
        b = bookings.setdefault(bid, _Booking(bid, int(a["party_size"]), str(a["status"]), _ts(a["start_at"]),
                                              _ts(a["end_at"])))
        b.tables.add(tid)
        busy[tid].append((_ts(a["start_at"]), _ts(a["end_at"]), bid))
    held: _Spans = defaultdict(list)
    for h in state["holds"]:
        owner = None if h.get("booking_id") is None else uuid.UUID(str(h["booking_id"]))
        held[uuid.UUID(str(h["table_id"]))].append((_ts(h["start_at"]), _ts(h["end_at"]), owner))
    return bookings, busy, held


def _in_scope(floor: Floor, state: Mapping[str, Any]) -> list[bool]:
    zone = None if state.get("zone_id") is None else uuid.UUID(str(state["zone_id"]))
    seating = state.get("seating_type")
    return [t.assignable and (zone is None or t.zone_id == zone) and (seating is None or t.seating_type == seating)
            for t in floor.tables]


def floor_from_state(state: Mapping[str, Any]) -> tuple[Floor, list[bool]]:
    """The floor of a ``repack_state`` document, and per position whether quote_tables would consider the table:
    assignable, in the requested zone / seating, and neither occupied by another booking nor held by another
    booking's active hold over the requested window."""
    tables = [Table(uuid.UUID(str(t["id"])), str(t["number"]), uuid.UUID(str(t["zone_id"])), int(t["capacity"]),
                    int(t["min_party_size"]), t["max_party_size"], bool(t["movable"]), bool(t["assignable"]),
                    t.get("seating_type")) for t in state["tables"]]
    zones = [(uuid.UUID(str(z["id"])), str(z["name"]), int(z["sort_order"])) for z in state["zones"]]
    edges = [(uuid.UUID(str(a)), uuid.UUID(str(b))) for a, b in state["adjacency"]]
    floor = Floor.build(tables, zones, edges)
    start, end = _ts(state["start_at"]), _ts(state["end_at"])
    me = None if state.get("booking_id") is None else uuid.UUID(str(state["booking_id"]))
    _, busy, held = _occupancy(state)
    free = [ok and not any(_overlaps(start, end, s, e) and o != me for s, e, o in busy[t.id])
            and not any(_overlaps(start, end, s, e) and (me is None or o != me) for s, e, o in held[t.id])
            for ok, t in zip(_in_scope(floor, state), floor.tables, strict=True)]
    return floor, free


def naive_sets(floor: Floor, party: int, allowed: Sequence[bool], *, max_tables: int = MAX_TABLES,
               counter: list[int] | None = None, deadline: float | None = None) -> Iterator[tuple[int, ...]]:
    """The baseline: every subset of up to ``max_tables`` tables, each tested (allowed, one zone, movable when
    combined, connected through its own tables, admits the party). ``counter[0]`` counts the subsets tested; with
    ``deadline`` (a ``time.perf_counter()`` value) it stops early."""
    tested = 0
    nbs = {i: set(v) for i, v in floor.neighbours.items()}
    combos = itertools.chain.from_iterable(itertools.combinations(range(len(floor.tables)), size)
                                           for size in range(1, max_tables + 1))
    for combo in combos:
        tested += 1
        if deadline is not None and not tested % 4096 and time.perf_counter() > deadline:
            break
        size = len(combo)
        if not all(allowed[i] for i in combo):
            continue
        ts = [floor.tables[i] for i in combo]
        if not sum(t.min_party_size for t in ts) <= party <= sum(t.most for t in ts):
            continue
        if size > 1:
            if len({t.zone_id for t in ts}) > 1 or not all(t.movable for t in ts):
                continue
            members, seen, todo = set(combo), {combo[0]}, [combo[0]]
            while todo:
                for u in nbs.get(todo.pop(), ()):
                    if u in members and u not in seen:
                        seen.add(u)
                        todo.append(u)
            if len(seen) < size:
                continue
        yield combo
    if counter is not None:
        counter[0] += tested


# --- re-pack ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepackMove:
    """Move one live, not-yet-seated booking from its tables to others, keeping its window."""

    booking_id: uuid.UUID
    party_size: int
    start_at: dt.datetime
    end_at: dt.datetime
    from_table_ids: tuple[uuid.UUID, ...]
    to_table_ids: tuple[uuid.UUID, ...]
    from_numbers: tuple[str, ...]
    to_numbers: tuple[str, ...]


@dataclass(frozen=True)
class RepackPlan:
    """A proposal: after ``moves``, the set ``table_ids`` is free for the party over ``[start_at, end_at)``.

    ``fingerprint`` digests every row the search read over ``[span_start, span_end)``; applying the plan is refused
    when it no longer matches.
    """

    restaurant_id: uuid.UUID
    booking_id: uuid.UUID | None
    party_size: int
    start_at: dt.datetime
    end_at: dt.datetime
    span_start: dt.datetime
    span_end: dt.datetime
    fingerprint: str
    zone_id: uuid.UUID
    table_ids: tuple[uuid.UUID, ...]
    table_numbers: tuple[str, ...]
    moves: tuple[RepackMove, ...]
    target_rank: int
    sets_examined: int

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON values (ids and instants as strings): what ``apply_repack_plan`` reads."""
        def iso(v: dt.datetime) -> str:
            return v.astimezone(dt.UTC).isoformat()

        return {
            "restaurant_id": str(self.restaurant_id),
            "booking_id": None if self.booking_id is None else str(self.booking_id),
            "party_size": self.party_size, "start_at": iso(self.start_at), "end_at": iso(self.end_at),
            "span_start": iso(self.span_start), "span_end": iso(self.span_end), "fingerprint": self.fingerprint,
            "zone_id": str(self.zone_id), "table_ids": [str(t) for t in self.table_ids],
            "table_numbers": list(self.table_numbers), "target_rank": self.target_rank,
            "sets_examined": self.sets_examined,
            "moves": [{"booking_id": str(m.booking_id), "party_size": m.party_size, "start_at": iso(m.start_at),
                       "end_at": iso(m.end_at), "from_table_ids": [str(t) for t in m.from_table_ids],
                       "to_table_ids": [str(t) for t in m.to_table_ids], "from_numbers": list(m.from_numbers),
                       "to_numbers": list(m.to_numbers)} for m in self.moves],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RepackPlan:
        """The inverse of :meth:`to_json` (a KeyError / ValueError for a malformed document)."""
        def ts(v: Any) -> dt.datetime:
            return dt.datetime.fromisoformat(str(v))

        return cls(
            uuid.UUID(data["restaurant_id"]), None if data.get("booking_id") is None else uuid.UUID(data["booking_id"]),
            int(data["party_size"]), ts(data["start_at"]), ts(data["end_at"]), ts(data["span_start"]),
            ts(data["span_end"]), str(data["fingerprint"]), uuid.UUID(data["zone_id"]),
            tuple(uuid.UUID(t) for t in data["table_ids"]), tuple(data.get("table_numbers", ())),
            tuple(RepackMove(uuid.UUID(m["booking_id"]), int(m["party_size"]), ts(m["start_at"]), ts(m["end_at"]),
                             tuple(uuid.UUID(t) for t in m["from_table_ids"]),
                             tuple(uuid.UUID(t) for t in m["to_table_ids"]), tuple(m.get("from_numbers", ())),
                             tuple(m.get("to_numbers", ()))) for m in data["moves"]),
            int(data.get("target_rank", 0)), int(data.get("sets_examined", 0)))


@dataclass(frozen=True)
class RepackResult:
    hold_id: uuid.UUID
    table_ids: tuple[uuid.UUID, ...]
    moved_bookings: int
    fingerprint: str


@dataclass
class _Booking:
    id: uuid.UUID
    party: int
    status: str
    start: dt.datetime
    end: dt.datetime
    tables: set[uuid.UUID] = field(default_factory=set)


def _ts(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _overlaps(a0: dt.datetime, a1: dt.datetime, b0: dt.datetime, b1: dt.datetime) -> bool:
    return a0 < b1 and b0 < a1


def propose_repack(state: Mapping[str, Any]) -> RepackPlan:
    """The best re-pack plan for the request ``state`` describes (the jsonb of ``repack_state``).

    Target sets (ranked as quote ranks them, every table treated as free) are tried best first; for each, the live,
    not-yet-seated bookings on its tables over the window must each move, within their own zone, to a set that
    admits their party and is free over their own window (no other booking's assignment or active hold, none of the
    target's tables, none of another mover's new tables when the windows overlap). The plan with the fewest moves
    wins, then the better-ranked target. A set no booking blocks is a plan with no moves. No plan:
    :class:`~tablemend.errors.RepackNotFound`; no set could ever seat the party: PartyTooLarge.
    """
    floor, _ = floor_from_state(state)
    party = int(state["party_size"])
    start, end = _ts(state["start_at"]), _ts(state["end_at"])
    rid = uuid.UUID(str(state["restaurant_id"]))
    me = None if state.get("booking_id") is None else uuid.UUID(str(state["booking_id"]))
    pos = {t.id: i for i, t in enumerate(floor.tables)}
    bookings, busy, held = _occupancy(state)

    def held_by_other(tid: uuid.UUID, s: dt.datetime, e: dt.datetime, who: uuid.UUID | None) -> bool:
        return any(_overlaps(s, e, hs, he) and (who is None or owner != who) for hs, he, owner in held[tid])

    allowed = _in_scope(floor, state)
    counter = [0]
    targets = ranked(floor, party, connected_sets(floor, party, allowed, counter=counter))
    if not targets:
        raise PartyTooLarge(f"no table or connected group of up to {MAX_TABLES} tables seats a party of {party}",
                            details=f"restaurant_id={rid} party_size={party} reason=party_too_large",
                            hint="Split the party, add adjacency between movable tables, or seat it by hand.")

    option_cache: dict[uuid.UUID, list[tuple[int, ...]]] = {}

    def options(b: _Booking, reserved: frozenset[int]) -> list[tuple[int, ...]]:
        """Sets b may move to: its zone, admits its party, free over its window except for its own tables."""
        if b.id not in option_cache:
            zone = floor.tables[pos[next(iter(b.tables))]].zone_id
            free = [t.assignable and t.zone_id == zone and not held_by_other(t.id, b.start, b.end, b.id)
                    and not any(_overlaps(b.start, b.end, s, e) and o != b.id for s, e, o in busy[t.id])
                    for t in floor.tables]
            option_cache[b.id] = ranked(floor, b.party, connected_sets(floor, b.party, free, counter=counter))
        return [o for o in option_cache[b.id] if reserved.isdisjoint(o)]

    best: tuple[int, int, RepackPlan] | None = None
    for rank, target in enumerate(targets[:REPACK_TARGETS], start=1):
        ids = [floor.tables[i].id for i in target]
        if any(held_by_other(t, start, end, me) for t in ids):
            continue
        blockers = sorted({o for t in ids for s, e, o in busy[t] if o is not None and o != me
                           and _overlaps(start, end, s, e)})
        if best is not None and len(blockers) >= best[0]:
            continue
        movers = [bookings[o] for o in blockers]
        if any(b.status not in MOVABLE_STATUSES for b in movers):
            continue
        reserved = frozenset(target)
        choice = _place(movers, [options(b, reserved) for b in movers])
        if choice is None:
            continue
        moves = tuple(RepackMove(b.id, b.party, b.start, b.end, tuple(sorted(b.tables)),
                                 tuple(sorted(floor.tables[i].id for i in c)),
                                 tuple(floor.tables[pos[t]].number for t in sorted(b.tables, key=pos.__getitem__)),
                                 tuple(floor.tables[i].number for i in c))
                      for b, c in zip(movers, choice, strict=True))
        plan = RepackPlan(rid, me, party, start, end, _ts(state["span_start"]), _ts(state["span_end"]),
                          str(state["fingerprint"]), floor.tables[target[0]].zone_id, tuple(sorted(ids)),
                          tuple(floor.tables[i].number for i in target), moves, rank, 0)
        best = (len(blockers), rank, plan)
        if not blockers:
            break
    if best is None:
        raise RepackNotFound(
            f"no re-pack frees a table set for a party of {party}",
            details=f"restaurant_id={rid} party_size={party} target_sets={len(targets)} sets_examined={counter[0]}",
            hint="Every set that fits is blocked by a seated party or a hold, or its bookings have nowhere to go.")
    return dataclasses.replace(best[2], sets_examined=counter[0])


def _place(movers: Sequence[_Booking], options: Sequence[list[tuple[int, ...]]]) -> list[tuple[int, ...]] | None:
    """The first combination (best-ranked options first, depth first) giving every mover a set, where two movers
    whose windows overlap never share a table; None when there is none."""
    chosen: list[tuple[int, ...]] = []

    def fits(k: int, option: tuple[int, ...]) -> bool:
        return all(not _overlaps(movers[k].start, movers[k].end, movers[j].start, movers[j].end)
                   or set(option).isdisjoint(chosen[j]) for j in range(k))

    def go(k: int) -> bool:
        if k == len(movers):
            return True
        for option in options[k]:
            if fits(k, option):
                chosen.append(option)
                if go(k + 1):
                    return True
                chosen.pop()
        return False

    return list(chosen) if go(0) else None
