"""CLI: ``tablemend sandbox origin`` and ``tablemend demo``. Thin: the library does the work, this module prints."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from tablemend.clitools import (
    DsnOption,
    FormatOption,
    OutputFormat,
    console,
    escape,
    handle_errors,
    render_json,
    render_rows,
)
from tablemend.sandbox import StateCase

if TYPE_CHECKING:
    from tablemend.demo import DemoResult

sandbox_app = typer.Typer(help="Sandboxes of other systems' databases, for trying the doctor safely.",
                          no_args_is_help=True)


def _expected(case: StateCase) -> str:
    if case.expected_sqlstate is None:
        return f"succeeds with {case.expected_rows} row(s)"
    return f"{case.expected_sqlstate}: {case.expected_message}"


def _case_row(case: StateCase) -> dict[str, Any]:
    return {
        "code": case.code,
        "title": case.title,
        "restaurant_id": case.restaurant_id,
        "booking_id": case.booking_id,
        "table_ids": list(case.table_ids),
        "idempotency_key": case.idempotency_key,
        "start_at": case.start_at,
        "end_at": case.end_at,
        "require_adjacency": case.require_adjacency,
        "expected_sqlstate": case.expected_sqlstate,
        "expected_message": case.expected_message,
        "expected_rows": case.expected_rows,
        "blocking_booking_ids": list(case.blocking_booking_ids),
    }


@sandbox_app.command("origin")
@handle_errors
def origin_cmd(
    dsn: DsnOption = None,
    database: Annotated[str | None, typer.Option(
        "--database", help="Database to build in (created if missing). Default without --dsn: origin_sandbox; "
        "with --dsn: the DSN's own database.", show_default=False)] = None,
    states: Annotated[str, typer.Option(
        "--states", help="Comma-separated state codes of origin spec §3 (D1,D1a,…), or all.")] = "all",
    legacy_overload: Annotated[bool, typer.Option(
        "--legacy-overload", help="Also install the historical 5-argument overload (implied by D4).")] = False,
    legacy_idempotency_index: Annotated[bool, typer.Option(
        "--legacy-idempotency-index",
        help="Also create the legacy partial unique index on (booking_id, idempotency_key) (implied by D3).")] = False,
    reset: Annotated[bool, typer.Option(
        "--reset", help="Drop and recreate the named sandbox database first.")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Build the origin's schema and functions (written from spec/origin-system.md) and seed failing states."""
    from tablemend import sandbox

    codes = sandbox.parse_states(states)  # before anything is created
    result = sandbox.prepare(dsn, database=database, states=codes, legacy_overload=legacy_overload,
                             legacy_idempotency_index=legacy_idempotency_index, reset=reset)
    if fmt is OutputFormat.json:
        render_json({
            "database": result.database,
            "created": result.created,
            "built": result.built,
            "legacy_overload": result.features.legacy_overload,
            "legacy_idempotency_index": result.features.legacy_idempotency_index,
            "cases": [_case_row(c) for c in result.cases],
        })
        return
    from tablemend.db import describe_dsn

    action = "built" if result.built else "reused"
    legacy = [name for name, on in (("5-argument overload", result.features.legacy_overload),
                                     ("idempotency index", result.features.legacy_idempotency_index)) if on]
    console.print(f"origin sandbox {action} in [bold]{escape(describe_dsn(result.dsn))}[/bold]"
                  + (f" (legacy: {', '.join(legacy)})" if legacy else ""), highlight=False)
    rows = [{"code": c.code, "booking (P)": c.booking_id, "tables": "\n".join(str(t) for t in c.table_ids),
             "blockers": "\n".join(str(b) for b in c.blocking_booking_ids), "expected": _expected(c)}
            for c in result.cases]
    render_rows(rows, fmt, title=f"{len(result.cases)} seeded state(s), each in its own restaurant")


@handle_errors
def demo_cmd(
    dsn: DsnOption = None,
    database: Annotated[str, typer.Option(
        "--database", help="Scratch database for the demo (dropped and recreated on every run).")] = "tablemend_demo",
) -> None:
    """Show the origin's multi-table assignment failing with "assignment duplicate", the row that causes it, and the
    retry succeeding once that row is cleared properly. Uses the embedded PostgreSQL unless --dsn names a server."""
    from tablemend import demo

    with console.status("starting PostgreSQL and building the origin sandbox…"):
        result = demo.run(dsn, database=database)
    _render_demo(result)
    if not result.succeeded:
        raise typer.Exit(1)


def _table_label(result: DemoResult, table: uuid.UUID) -> str:
    return f"{result.table_numbers.get(table, '?')} ({table})"


def _render_demo(result: DemoResult) -> None:
    case = result.case
    tables = ", ".join(_table_label(result, t) for t in case.table_ids)
    console.print(Panel.fit(
        f"PostgreSQL {escape(result.server_version)} at {escape(result.server)}\n"
        f"database [bold]{escape(result.database)}[/bold]: the origin's tables and assign_tables_atomic_v2, "
        f"written from the spec; state D1 seeded\n"
        f"booking P {case.booking_id} asks for tables {escape(tables)}",
        title="tablemend demo", border_style="cyan"), highlight=False)

    console.print("\n[bold]1. The origin's allocator fails[/bold]", highlight=False)
    console.print("   SELECT * FROM assign_tables_atomic_v2(p_booking_id => P, p_table_ids => ARRAY[…], …)",
                  highlight=False, style="dim")
    if result.failure is None:
        console.print("   [yellow]the call unexpectedly succeeded[/yellow]")
    else:
        console.print(f"   [red]ERROR {escape(result.failure.sqlstate)}:[/red] {escape(result.failure.message)}",
                      highlight=False)
        console.print("   no DETAIL, no HINT: the message does not say which row is in the way", style="dim")

    console.print("\n[bold]2. What blocks it[/bold]: another booking's row on (table, P's slot)", highlight=False)
    console.print("   the (table_id, slot_id) unique key fires; the allocator never looks at the holder's status",
                  style="dim", highlight=False)
    table = Table(show_lines=False)
    for col in ("table", "slot", "blocking booking", "status", "row window (UTC)", "allocations"):
        table.add_column(col, overflow="fold")
    for b in result.blockers:
        window = "NULL" if b["row_start"] is None else f"{b['row_start']:%H:%M}-{b['row_end']:%H:%M}"
        table.add_row(b["table_number"], f"{b['slot_date']} {b['slot_time']:%H:%M}", str(b["blocking_booking_id"]),
                      b["blocking_status"], window, str(b["blocking_allocations"]))
    console.print(table)

    console.print("\n[bold]3. Clear it properly[/bold] (spec item 9)", highlight=False)
    for c in result.cleared:
        console.print(f"   booking {c['booking_id']} is [bold]{escape(c['status'])}[/bold], so releasing it takes no "
                      f"table from a guest.\n   unassign_tables_atomic(B, [{escape(c['table_number'])}]) removed "
                      f"{c['removed_rows']} assignment row(s) together with any allocation of B on that table "
                      f"(it had {c['removed_allocations']})", highlight=False)
    for k in result.kept:
        console.print(f"   booking {k['booking_id']} is [bold]{escape(k['status'])}[/bold]: a live booking, "
                      "left alone (a real conflict)", highlight=False)

    console.print("\n[bold]4. Retry the same call[/bold]", highlight=False)
    if result.retry_failure is not None:
        console.print(f"   [red]ERROR {escape(result.retry_failure.sqlstate)}:[/red] "
                      f"{escape(result.retry_failure.message)}", highlight=False)
        return
    rows = [{"table": result.table_numbers.get(r["table_id"], "?"), "table_id": r["table_id"],
             "window (UTC)": f"{r['start_at']:%Y-%m-%d %H:%M}-{r['end_at']:%H:%M}",
             "merge_group_id": r["merge_group_id"]} for r in result.retry_rows]
    render_rows(rows, OutputFormat.table)
    console.print(f"   [green]assigned {len(result.retry_rows)} tables to booking P[/green]", highlight=False)
