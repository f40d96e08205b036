"""CLI: ``tablemend assign / unassign / hold … / booking … / sample``; :class:`tablemend.Allocator` does the work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tablemend.clitools import (
    DsnOption,
    FormatOption,
    OutputFormat,
    console,
    handle_errors,
    render_json,
    render_record,
    render_rows,
    working,
)
from tablemend.errors import UsageError

if TYPE_CHECKING:
    from tablemend.allocator import Allocator, Assignment

hold_app = typer.Typer(
    help="Hold tables for a while: quote, hold, then confirm.\n\n"
    "A hold blocks other bookings until it expires, is released, or is confirmed\n"
    "into an assignment.\n\n"
    "Example:\n"
    "  tablemend hold create RESTAURANT T1 T2 --booking B \\\n"
    "      --start 2030-06-01T19:00Z --end 2030-06-01T21:00Z\n"
    "  tablemend hold confirm HOLD",
    no_args_is_help=True,
)
booking_app = typer.Typer(help="Change a booking's status or window, or show it.",
                          no_args_is_help=True)

StartOption = Annotated[str | None, typer.Option(
    "--start", help="Window start, ISO 8601 (e.g. 2030-06-01T19:00:00Z; no offset means UTC).", show_default=False)]
EndOption = Annotated[str | None, typer.Option(
    "--end", help="Window end (exclusive), ISO 8601.", show_default=False)]
KeyOption = Annotated[str | None, typer.Option(
    "--key", help="Idempotency key: a retry with the same key and request returns the same result.",
    show_default=False)]
AdjacencyOption = Annotated[bool, typer.Option(
    "--adjacency", help="Require the tables to form one connected group of adjacent tables.")]
AssignedByOption = Annotated[str | None, typer.Option(
    "--assigned-by", help="UUID of the user making the change (kept on the rows).", show_default=False)]
_ASSIGNMENT_COLUMNS = ("table_id", "start_at", "end_at", "merge_group_id")


def parse_instant(value: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 instant; without an offset it is taken as UTC (the allocator works in UTC)."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"invalid {name} {value!r}: not an ISO 8601 date-time",
                         hint="e.g. 2030-06-01T19:00:00Z") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _checks() -> Any:
    """The allocator module, whose input checks run before any connection (imported late: the CLI starts fast)."""
    from tablemend import allocator

    return allocator


@contextmanager
def _allocator(dsn: str | None) -> Iterator[Allocator]:
    from tablemend.allocator import Allocator

    with Allocator.open(dsn, min_size=1, max_size=1) as alloc:
        yield alloc


def _show_assignments(rows: Iterable[Assignment], fmt: OutputFormat, title: str) -> None:
    render_rows([asdict(r) for r in rows], fmt, title=title, columns=_ASSIGNMENT_COLUMNS)


def _show_one(value: dict[str, Any], fmt: OutputFormat) -> None:
    render_record({k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}, fmt)


# --- assign / unassign -----------------------------------------------------------------------------------------------


@handle_errors
def assign_cmd(
    booking: Annotated[str, typer.Argument(help="Booking id (UUID).", show_default=False)],
    tables: Annotated[list[str], typer.Argument(help="One or more table ids (UUIDs).", show_default=False)],
    key: KeyOption = None,
    adjacency: AdjacencyOption = False,
    start: StartOption = None,
    end: EndOption = None,
    assigned_by: AssignedByOption = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Give a booking exactly these tables, replacing its previous set.

    Over the booking's own window, or --start/--end. Refusals name what blocks:
    the occupying booking, the hold, the missing capacity.

    Examples:
      tablemend assign 6f1d…b0 2a9c…11 7e41…3f --adjacency --key req-42
      tablemend assign BOOKING TABLE -f json \\
          --start 2030-06-01T19:00Z --end 2030-06-01T21:00Z
    """
    start_at, end_at = parse_instant(start, "--start"), parse_instant(end, "--end")
    _checks().check_assign_input(booking, tables, key=key, start_at=start_at, end_at=end_at)
    with _allocator(dsn) as alloc:
        rows = alloc.assign(booking, tables, key=key, require_adjacency=adjacency, assigned_by=assigned_by,
                            start_at=start_at, end_at=end_at)
    _show_assignments(rows, fmt, f"booking {booking}")


@handle_errors
def unassign_cmd(
    booking: Annotated[str, typer.Argument(help="Booking id (UUID).", show_default=False)],
    tables: Annotated[list[str] | None, typer.Argument(
        help="Table ids to remove (default: all of the booking's tables).", show_default=False)] = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Remove a booking's tables (all, or the ones named).

    Its ledger, merge group and zone lock go with them.

    Examples:
      tablemend unassign BOOKING
      tablemend unassign BOOKING TABLE_2 -f json
    """
    with _allocator(dsn) as alloc:
        removed = alloc.unassign(booking, tables or None)
    render_rows([{"table_id": t} for t in removed], fmt, title=f"removed from booking {booking}",
                columns=("table_id",))


# --- holds ------------------------------------------------------------------------------------------------------------


TtlOption = Annotated[int | None, typer.Option(
    "--ttl", help="Seconds until the hold expires (server clock). Default: 300.", min=1, show_default=False)]
ExpiresOption = Annotated[str | None, typer.Option(
    "--expires", help="Expiry instant, ISO 8601 (instead of --ttl).", show_default=False)]


def _ttl(ttl: int | None, expires: str | None) -> tuple[dt.timedelta, dt.datetime | None]:
    """--ttl or --expires, never both (both were accepted, and --ttl silently ignored)."""
    if ttl is not None and expires is not None:
        raise UsageError("give --ttl or --expires, not both")
    return dt.timedelta(seconds=300 if ttl is None else ttl), parse_instant(expires, "--expires")


@hold_app.command("create")
@handle_errors
def hold_create(
    restaurant: Annotated[str, typer.Argument(help="Restaurant id (UUID).", show_default=False)],
    tables: Annotated[list[str], typer.Argument(help="Table ids to hold.", show_default=False)],
    start: StartOption = None,
    end: EndOption = None,
    booking: Annotated[str | None, typer.Option(
        "--booking", help="The booking the hold is for (its earlier holds are replaced).", show_default=False)] = None,
    ttl: TtlOption = None,
    expires: ExpiresOption = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Hold tables over [--start, --end) for --ttl seconds.

    The hold blocks other bookings on those tables until it expires, is
    released, or is confirmed.

    Example:
      tablemend hold create RESTAURANT T1 T2 --booking B --ttl 600 \\
          --start 2030-06-01T19:00Z --end 2030-06-01T21:00Z
    """
    start_at, end_at = parse_instant(start, "--start"), parse_instant(end, "--end")
    if start_at is None or end_at is None:
        raise UsageError("a hold needs --start and --end")
    lifetime, expires_at = _ttl(ttl, expires)
    _checks().check_hold_input(restaurant, tables, start_at, end_at, expires_at=expires_at, ttl=lifetime)
    with _allocator(dsn) as alloc:
        made = alloc.create_hold(restaurant, tables, start_at, end_at, booking_id=booking,
                                 expires_at=expires_at, ttl=lifetime)
    _show_one(asdict(made), fmt)


@hold_app.command("extend")
@handle_errors
def hold_extend(
    hold: Annotated[str, typer.Argument(help="Hold id (UUID).", show_default=False)],
    ttl: TtlOption = None,
    expires: ExpiresOption = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Move an active hold's expiry.

    An expired hold cannot come back.

    Example:
      tablemend hold extend HOLD --ttl 600
    """
    lifetime, until = _ttl(ttl, expires)
    _checks().check_extend_input(hold, expires_at=until, ttl=lifetime)
    with _allocator(dsn) as alloc:
        expires_at = alloc.extend_hold(hold, expires_at=until, ttl=lifetime)
    _show_one({"hold_id": hold, "expires_at": expires_at}, fmt)


@hold_app.command("release")
@handle_errors
def hold_release(
    hold: Annotated[str, typer.Argument(help="Hold id (UUID).", show_default=False)],
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Release a hold.

    Prints released=false when the hold was no longer active.

    Example:
      tablemend hold release HOLD
    """
    with _allocator(dsn) as alloc:
        released = alloc.release_hold(hold)
    _show_one({"hold_id": hold, "released": released}, fmt)


@hold_app.command("confirm")
@handle_errors
def hold_confirm(
    hold: Annotated[str, typer.Argument(help="Hold id (UUID).", show_default=False)],
    booking: Annotated[str | None, typer.Option(
        "--booking", help="Booking to confirm for (needed when the hold has none).", show_default=False)] = None,
    key: KeyOption = None,
    adjacency: AdjacencyOption = False,
    assigned_by: AssignedByOption = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Assign the hold's tables to its booking, consuming the hold.

    Exactly the hold's tables, over the hold's window.

    Example:
      tablemend hold confirm HOLD --key confirm-42
    """
    _checks().check_confirm_input(hold, booking, key=key)
    with _allocator(dsn) as alloc:
        rows = alloc.confirm_hold(hold, booking, key=key, require_adjacency=adjacency, assigned_by=assigned_by)
    _show_assignments(rows, fmt, f"hold {hold} confirmed")


# --- bookings --------------------------------------------------------------------------------------------------------


@booking_app.command("set-status")
@handle_errors
def booking_set_status(
    booking: Annotated[str, typer.Argument(help="Booking id (UUID).", show_default=False)],
    status: Annotated[str, typer.Argument(
        help="pending, pending_allocation, confirmed, checked_in, completed, cancelled, no_show or "
        "PRIORITY_WAITLIST.", show_default=False)],
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Change a booking's status.

    A terminal status (cancelled, no_show, completed, PRIORITY_WAITLIST)
    releases its tables, holds, ledger and zone lock in the same transaction.

    Example:
      tablemend booking set-status BOOKING cancelled
    """
    from tablemend.allocator import parse_status

    parse_status(status)
    with _allocator(dsn) as alloc:
        change = alloc.set_booking_status(booking, status)
    _show_one({**asdict(change), "released": change.released}, fmt)


@booking_app.command("move")
@handle_errors
def booking_move(
    booking: Annotated[str, typer.Argument(help="Booking id (UUID).", show_default=False)],
    start: StartOption = None,
    end: EndOption = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Move a booking to a new window; its tables move with it.

    The new window is [--start, --end); when a table is taken then, the move is
    refused, naming the blocker.

    Example:
      tablemend booking move BOOKING \\
          --start 2030-06-01T20:00Z --end 2030-06-01T22:00Z
    """
    start_at, end_at = parse_instant(start, "--start"), parse_instant(end, "--end")
    if start_at is None or end_at is None:
        raise UsageError("a move needs --start and --end")
    _checks().check_move_input(booking, start_at, end_at)
    with _allocator(dsn) as alloc:
        moved = alloc.move_booking(booking, start_at, end_at)
    _show_one(asdict(moved), fmt)


@booking_app.command("show")
@handle_errors
def booking_show(
    booking: Annotated[str, typer.Argument(help="Booking id (UUID).", show_default=False)],
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show a booking's window, status and tables.

    Example:
      tablemend booking show BOOKING -f json
    """
    with _allocator(dsn) as alloc:
        state = alloc.booking(booking)
    _show_one(asdict(state), fmt)


# --- sample ----------------------------------------------------------------------------------------------------------


@handle_errors
def sample_cmd(
    restaurants: Annotated[int, typer.Option("--restaurants", help="How many restaurants.", min=1, max=10_000)] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same rows (ids are uuid5 of the seed).")] = 1,
    day: Annotated[str | None, typer.Option(
        "--day", help="First day of bookings, YYYY-MM-DD (default: tomorrow, UTC). Fix it for identical times.",
        show_default=False)] = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Load deterministic sample data into tablemend's own schema.

    Restaurants with zones, 10-40 tables each with adjacency, and a few hundred
    live bookings over the coming week, seated through the allocator itself.
    Runs migrate first if needed; a sample already loaded with this seed is
    left alone.

    Examples:
      tablemend sample
      tablemend sample --restaurants 50 --seed 7 --day 2030-06-01 -f json
    """
    from tablemend.sample import load_sample

    first: dt.date | None = None
    if day is not None:
        try:
            first = dt.date.fromisoformat(day)
        except ValueError:
            raise UsageError(f"invalid --day {day!r}: expected YYYY-MM-DD") from None
    with working(f"loading sample data (seed {seed}, {restaurants} restaurant(s))…") as done:
        result = load_sample(dsn, seed=seed, restaurants=restaurants, day=first)
        done(f"sample: {result.counts.get('bookings', 0)} booking(s) in {len(result.restaurant_ids)} restaurant(s) "
             + ("loaded" if result.loaded else "already there"))
    if fmt is OutputFormat.json:
        render_json(asdict(result))
        return
    state = "loaded" if result.loaded else "already present (nothing written)"
    console.print(f"sample seed={result.seed} day={result.day}: {state}"
                  f"{'; schema installed first' if result.migrated else ''}")
    render_rows([result.counts], fmt)
