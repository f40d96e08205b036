"""CLI: ``tablemend quote``, ``hold best``, ``repack propose|apply``; the Allocator does the work."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from tablemend.cli_allocator import EndOption, StartOption, TtlOption, _allocator, _show_one, _ttl, parse_instant
from tablemend.clitools import DsnOption, FormatOption, OutputFormat, console, handle_errors, render_json, render_rows
from tablemend.errors import UsageError

repack_app = typer.Typer(
    help="Re-pack a window: move other bookings so a party fits.\n\n"
    "propose prints (or writes) a plan and changes nothing; apply carries it out\n"
    "in one transaction, refused if anything it read has changed.\n\n"
    "Example:\n"
    "  tablemend repack propose --booking B --out plan.json\n"
    "  tablemend repack apply plan.json",
    no_args_is_help=True,
)

PartyOption = Annotated[int | None, typer.Option("--party", help="Party size.", show_default=False)]
ZoneOption = Annotated[str | None, typer.Option(
    "--zone", help="Only tables of this zone (UUID).", show_default=False)]
SeatingOption = Annotated[str | None, typer.Option(
    "--seating", help="Only tables of this seating_type.", show_default=False)]
BookingOption = Annotated[str | None, typer.Option(
    "--booking", help="The booking (UUID): its own tables and holds do not block; its party and window are the "
    "defaults.", show_default=False)]
_CANDIDATE_COLUMNS = ("rank", "table_numbers", "zone_name", "seats", "spare_seats", "reason")


def _window(start: str | None, end: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    return parse_instant(start, "--start"), parse_instant(end, "--end")


def _plain(value: dict[str, Any], fmt: OutputFormat) -> dict[str, Any]:
    """Tuples as lists; in a table, table numbers joined as T3+T4."""
    joined = fmt is not OutputFormat.json
    return {k: ("+".join(v) if joined and k.endswith("numbers") else list(v)) if isinstance(v, tuple) else v
            for k, v in value.items()}


@handle_errors
def quote_cmd(
    restaurant: Annotated[str, typer.Argument(help="Restaurant id (UUID).", show_default=False)],
    party: Annotated[int, typer.Option("--party", help="Party size.", show_default=False)],
    start: StartOption = None,
    end: EndOption = None,
    zone: ZoneOption = None,
    seating: SeatingOption = None,
    limit: Annotated[int, typer.Option("--limit", help="How many candidates (1-100).")] = 5,
    booking: BookingOption = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Rank the table sets free over a window that seat a party.

    Least spare seats first, then fewest tables, then zone order, then table
    number; each row says why it ranks there. Reads only.

    Example:
      tablemend quote RESTAURANT --party 6 \\
          --start 2030-06-01T19:00Z --end 2030-06-01T21:00Z
    """
    start_at, end_at = _window(start, end)
    if start_at is None or end_at is None:
        raise UsageError("a quote needs --start and --end")
    with _allocator(dsn) as alloc:
        found = alloc.quote(restaurant, party, start_at, end_at, zone_id=zone, seating=seating, limit=limit,
                            booking_id=booking)
    render_rows([_plain(asdict(c), fmt) for c in found], fmt, title=f"party of {party}", columns=_CANDIDATE_COLUMNS
                if fmt is OutputFormat.table else None)


@handle_errors
def hold_best_cmd(
    restaurant: Annotated[str, typer.Argument(help="Restaurant id (UUID).", show_default=False)],
    party: PartyOption = None,
    start: StartOption = None,
    end: EndOption = None,
    booking: BookingOption = None,
    zone: ZoneOption = None,
    seating: SeatingOption = None,
    ttl: TtlOption = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Hold the best free table set for a party, race-free.

    Concurrent callers never get the same table; a loser gets the next best
    set, or an error naming why there is none.

    Example:
      tablemend hold best RESTAURANT --booking B --ttl 600
    """
    start_at, end_at = _window(start, end)
    with _allocator(dsn) as alloc:
        made = alloc.hold_best_tables(restaurant, party, start_at, end_at, booking_id=booking, zone_id=zone,
                                      seating=seating, ttl=_ttl(ttl, None)[0])
    _show_one(_plain(asdict(made), fmt), fmt)


@repack_app.command("propose")
@handle_errors
def repack_propose(
    restaurant: Annotated[str | None, typer.Argument(
        help="Restaurant id (UUID); optional with --booking.", show_default=False)] = None,
    party: PartyOption = None,
    start: StartOption = None,
    end: EndOption = None,
    booking: BookingOption = None,
    zone: ZoneOption = None,
    seating: SeatingOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan (JSON) to this file.",
                                             show_default=False)] = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Propose moves of other bookings that free a table set for a party.

    Only live bookings not yet seated move, within their zone, to tables that
    fit them over their own window. Changes nothing.

    Example:
      tablemend repack propose --booking B --out plan.json
    """
    start_at, end_at = _window(start, end)
    with _allocator(dsn) as alloc:
        plan = alloc.propose_repack(restaurant, party, start_at, end_at, booking_id=booking, zone_id=zone,
                                    seating=seating)
    doc = plan.to_json()
    if out is not None:
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if fmt is OutputFormat.json:
        render_json(doc)
        return
    console.print(f"free {'+'.join(plan.table_numbers)} for a party of {plan.party_size}"
                  f" with {len(plan.moves)} move(s); fingerprint {plan.fingerprint}")
    render_rows([{"booking_id": m.booking_id, "party": m.party_size, "from": "+".join(m.from_numbers),
                  "to": "+".join(m.to_numbers)} for m in plan.moves], fmt, title="moves")


@repack_app.command("apply")
@handle_errors
def repack_apply(
    plan_file: Annotated[Path, typer.Argument(help="A plan written by repack propose --out.", show_default=False)],
    ttl: TtlOption = None,
    dsn: DsnOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Apply a proposed plan in one transaction and hold the freed set.

    Refused, changing nothing, if anything the plan read has changed since.

    Example:
      tablemend repack apply plan.json --ttl 600
    """
    from tablemend.autoassign import RepackPlan

    try:
        plan = RepackPlan.from_json(json.loads(plan_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the plan {str(plan_file)!r}: {exc}",
                         hint="Pass a file written by tablemend repack propose --out.") from None
    with _allocator(dsn) as alloc:
        done = alloc.apply_repack(plan, ttl=_ttl(ttl, None)[0])
    _show_one(_plain(asdict(done), fmt), fmt)
