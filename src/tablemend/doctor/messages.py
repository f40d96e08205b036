"""The origin allocator's error messages, by shape: what ``explain --error`` accepts and what each one names.

Each shape is the primary message text (or, for ``allocations_no_overlap``, its DETAIL) of one error the origin's
``assign_tables_atomic_v2`` (docs/origin-system.md §2) or its main caller raises, with the SQLSTATE the caller sees.
A pasted message is matched anywhere in the text (a client's ``error [P0001]:`` prefix or a trailing DETAIL is fine);
the ids it names are typed: a *table* is added to P's table set, a *booking* must be P itself.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from tablemend.errors import ErrorNotRecognised, UsageError

_ID = r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"


@dataclass(frozen=True)
class Shape:
    name: str
    sqlstate: str
    text: str  # the message as the docs show it
    pattern: str  # regex; groups named table / booking / zone / constraint
    meaning: str


def _p(text: str) -> str:
    return text.replace("<table>", _ID.replace("(", "(?P<table>", 1)).replace(
        "<booking>", _ID.replace("(", "(?P<booking>", 1)).replace("<zone>", _ID).replace(
        "<constraint>", r'"?(?P<constraint>[A-Za-z0-9_]+)"?')


SHAPES: tuple[Shape, ...] = (
    Shape("duplicate", "P0001", "assign_tables_atomic_v2 assignment duplicate for table <table>",
          _p(r"assignment duplicate for table <table>"),
          "another booking's row holds (table, P's slot): step 14c"),
    Shape("allocation-overlap", "P0001", "allocations_no_overlap (DETAIL: Resource <table> overlaps requested window "
          "for booking <booking>)", _p(r"Resource <table> overlaps requested window for booking <booking>"),
          "another booking's real allocation overlaps P's window on the table: step 14a"),
    Shape("merge-overlap", "P0001", "allocations_no_overlap (DETAIL: Merge group overlaps requested window for booking "
          "<booking>)", _p(r"Merge group overlaps requested window for booking <booking>"),
          "the merge-group allocation collided: step 13 (new ids every call: practically never)"),
    Shape("allocations-no-overlap", "P0001", "allocations_no_overlap", r"\ballocations_no_overlap\b",
          "a real allocation overlaps P's window (paste the DETAIL too to name the table): step 13/14a"),
    Shape("hold-conflict-real", "22023", 'unrecognized format() type specifier " "',
          r'unrecognized format\(\) type specifier " "',
          "a hold window of another booking overlaps P's window: step 11, whose RAISE fails in format()"),
    Shape("hold-conflict", "P0001", "Hold conflict prevents assignment for booking <booking>",
          _p(r"Hold conflict prevents assignment for booking <booking>"),
          "step 11 as documented (only a database whose function was fixed raises it)"),
    Shape("idempotency-mismatch", "P0003", "assign_tables_atomic_v2 idempotency mismatch for booking <booking>",
          _p(r"idempotency mismatch for booking <booking>"),
          "P's ledger row for this key names another table set: step 10"),
    Shape("no-assignments", "P0003", "assign_tables_atomic_v2 returned no assignments for booking <booking>",
          _p(r"returned no assignments for booking <booking>"),
          "confirm_hold_assignment_tx got 0 rows: a ledger replay of assignments that are gone (step 10)"),
    Shape("unique", "23505", 'duplicate key value violates unique constraint "<constraint>"',
          _p(r"violates unique constraint <constraint>"),
          "raw unique violation: (table, slot) via P's own old row, or the ledger's (booking, table_set_hash)"),
    Shape("exclusion", "23P01", 'conflicting key value violates exclusion constraint "<constraint>"',
          _p(r"violates exclusion constraint <constraint>"),
          "raw exclusion violation: another booking's row overlaps P's window at another slot"),
    Shape("zone-lock", "23514", "Booking <booking> locked to zone <zone>, cannot assign zone <zone>",
          _p(r"Booking <booking> locked to zone <zone>, cannot assign zone <zone>"),
          "bookings.assigned_zone_id names another zone: step 7"),
    Shape("other-zone-rows", "23514", "Booking <booking> already has assignments in a different zone",
          _p(r"Booking <booking> already has assignments in a different zone"),
          "P still holds rows in another zone: step 6"),
    Shape("not-adjacent", "23514", "Table <table> is not adjacent to the selected set",
          _p(r"Table <table> is not adjacent to the selected set"), "adjacency required and missing: step 8"),
    Shape("table-invalid", "23514", "Table <table> is inactive | is not assigned to a zone | belongs to a different "
          "restaurant",
          _p(r"Table <table> (?:is inactive|is not assigned to a zone|belongs to a different restaurant)"),
          "a requested table cannot be used: step 5"),
    Shape("zones-differ", "23514", "All tables must belong to the same zone (found <zone>, expected <zone>)",
          r"All tables must belong to the same zone", "the requested tables span zones: step 5"),
    Shape("not-movable", "23514", "Merged assignments require movable tables (<table> is fixed)",
          _p(r"Merged assignments require movable tables \(<table> is"), "a fixed table in a multi-table request"),
    Shape("tables-missing", "P0002", "Unable to load all requested tables for booking <booking>",
          _p(r"Unable to load all requested tables for booking <booking>"), "a requested table does not exist"),
    Shape("booking-missing", "P0002", "Booking <booking> not found", _p(r"Booking <booking> not found"),
          "P does not exist"),
    Shape("capacity", "P0001", "capacity_exceeded_post_assignment", r"\bcapacity_exceeded_post_assignment\b",
          "the tables seat fewer than the party: step 16"),
    Shape("ambiguous-overload", "42725", "function assign_tables_atomic_v2(…) is not unique",
          r"assign_tables_atomic_v2\(.*\) is not unique", "a call naming 5 or fewer arguments meets both overloads"),
)


@dataclass(frozen=True)
class ParsedError:
    shape: Shape
    table_id: uuid.UUID | None
    booking_id: uuid.UUID | None
    constraint: str | None


def parse(message: str | None, booking_id: uuid.UUID) -> ParsedError | None:
    """The shape of a pasted allocator error, its table; refuses unknown text or a message about another booking."""
    if message is None:
        return None
    for shape in SHAPES:
        match = re.search(shape.pattern, message)
        if match is None:
            continue
        groups = match.groupdict()
        booking = uuid.UUID(groups["booking"]) if groups.get("booking") else None
        if booking is not None and booking != booking_id:
            raise UsageError(f"--error is about booking {booking}, not --booking {booking_id}",
                             hint=f"run explain with --booking {booking}")
        table = uuid.UUID(groups["table"]) if groups.get("table") else None
        return ParsedError(shape, table, booking, groups.get("constraint"))
    raise ErrorNotRecognised(f"--error {message!r} matches none of the origin allocator's known messages",
                             hint="paste the message as the database reported it; the known shapes are listed in "
                             "docs/doctor.md (\"Error messages explain understands\")")


def table_named(sqlstate: str | None, message: str | None, details: str | None) -> uuid.UUID | None:
    """The table a real error names (the duplicate's message, or allocations_no_overlap's DETAIL), if any."""
    for text in (message, details):
        if not text:
            continue
        for shape in SHAPES:
            match = re.search(shape.pattern, text)
            if match and match.groupdict().get("table"):
                return uuid.UUID(match.group("table"))
    return None


def markdown() -> str:
    """The shapes as a Markdown table (docs/doctor.md)."""
    rows = ["| SQLSTATE | message | what it means |", "|---|---|---|"]
    for s in SHAPES:
        rows.append(f"| {s.sqlstate} | `{s.text}` | {s.meaning} |")
    return "\n".join(rows)
