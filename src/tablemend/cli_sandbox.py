"""CLI: ``tablemend sandbox origin`` and ``tablemend demo``. Thin: the library does the work, this module prints."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel

from tablemend.clitools import (
    DsnOption,
    FormatOption,
    OutputFormat,
    console,
    err_console,
    escape,
    handle_errors,
    render_json,
    render_rows,
    working,
)
from tablemend.sandbox import StateCase

if TYPE_CHECKING:
    from tablemend.demo import DemoResult

sandbox_app = typer.Typer(help="Sandboxes of other systems' databases, to try the doctor safely.",
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
    variant: Annotated[str, typer.Option(
        "--variant", help="The origin's schema at a historical point: newest, no-window, no-hold-status, "
        "deferred-exclusion, exclusion-first, legacy-index, legacy-overload, early-november.")] = "newest",
    rls: Annotated[bool, typer.Option(
        "--rls", help="Also enable the origin's tenant row-level security (app.restaurant_id) on a new build.")]
    = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Build the origin's schema and functions, and seed failing states.

    The origin's tables and functions are written from docs/origin-system.md;
    each state (D1, D1a, …) is seeded in its own restaurant, with the call that
    fails and the error it raises.

    Examples:
      tablemend sandbox origin --database origin_sandbox --states D1,D2
      tablemend sandbox origin --database old_origin --variant no-window --reset
      tablemend doctor scan --dsn "$(tablemend db url --database origin_sandbox)"
    """
    from tablemend import sandbox

    codes = sandbox.parse_states(states)  # before anything is created
    sandbox.parse_variant(variant)
    with working(f"building the origin sandbox and seeding {len(codes)} state(s)…") as done:
        result = sandbox.prepare(dsn, database=database, states=codes, legacy_overload=legacy_overload,
                                 legacy_idempotency_index=legacy_idempotency_index, reset=reset, variant=variant,
                                 rls=rls)
        done(f"origin sandbox: {len(result.cases)} state(s) seeded")
    if not result.built and result.cases:  # said even with -f json: it is not the machine output
        err_console.print(f"note: the sandbox already existed; {len(result.cases)} state(s) were seeded in new "
                          "restaurants beside what it holds (--reset starts over)", highlight=False, soft_wrap=True)
    if fmt is OutputFormat.json:
        render_json({
            "database": result.database,
            "created": result.created,
            "built": result.built,
            "variant": variant if result.built else None,
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
    undo: Annotated[str | None, typer.Option(
        "--undo", metavar="REPAIR_ID", help="Undo the repair a demo run printed, for real: release P's new "
        "assignment, then restore the removed row (one transaction).", show_default=False)] = None,
) -> None:
    """Watch the doctor explain, plan and repair a failing assignment.

    A scratch database (recreated every run) gets the origin's schema and
    functions and state D1: booking P asks for two tables and the origin's
    assign_tables_atomic_v2 fails with "assignment duplicate". The doctor
    explains the row in the way, plans the repair (nothing written), repairs it
    in one journalled transaction, and the same call then succeeds. Uses the
    embedded PostgreSQL unless --dsn (or DATABASE_URL) names a server.

    Examples:
      tablemend demo
      tablemend demo --dsn postgresql://me@db.example/postgres --database my_demo
    """
    from tablemend import demo

    if undo is not None:
        rid = _repair_id(undo)
        undone = demo.undo(dsn, rid, database=database)
        console.print(f"released booking P {undone.booking_id}; repair {undone.repair_id} undone by {undone.undo_id}",
                      highlight=False, soft_wrap=True)
        return
    with working("starting PostgreSQL and building the origin sandbox…") as done:  # stderr: stdout is the story
        result = demo.run(dsn, database=database)
        done("demo database built and repaired")
    _render_demo(result)
    if not result.succeeded:
        raise typer.Exit(1)


def _table(result: DemoResult, table: uuid.UUID | str | None) -> str:
    """A table as the demo names it: T1, T2 (the seeded table numbers), the id when it is not one of P's."""
    if table is None:
        return "?"
    key = table if isinstance(table, uuid.UUID) else uuid.UUID(str(table))
    return result.table_numbers.get(key, str(key))


def _hhmm(value: object) -> str:
    """'19:00' from an ISO timestamp (as jsonb metadata holds it) or a datetime."""
    import datetime as dt

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return f"{value:%H:%M}" if isinstance(value, dt.datetime) else "?"


def _step(number: int, title: str, command: str) -> None:
    console.print(f"\n[bold]{number}. {title}[/bold]  [dim]{escape(command)}[/dim]", highlight=False)


def _say(text: str, *, style: str | None = None) -> None:
    console.print(f"   {text}", highlight=False, style=style, soft_wrap=True)


def _render_demo(result: DemoResult) -> None:
    case = result.case
    tables = ", ".join(f"{_table(result, t)} ({t})" for t in case.table_ids)
    console.print(Panel.fit(
        f"PostgreSQL {escape(result.server_version)} at {escape(result.server)}\n"
        "the origin's schema and assign_tables_atomic_v2 (written from docs/origin-system.md), seeded with state "
        f"{escape(case.code)} of its §3: {escape(case.title)}\n"
        "(X = table T1, S = the booking slot of P's window)\n"
        f"booking P {case.booking_id} asks for tables {escape(tables)}",
        title="tablemend demo", border_style="cyan"), highlight=False)

    _step(1, "The origin's allocator fails", "assign_tables_atomic_v2(P, [T1, T2], …)")
    if result.failure is None:
        _say("[yellow]the call unexpectedly succeeded[/yellow]")
    else:
        _say(f"[red]ERROR {escape(result.failure.sqlstate)}:[/red] {escape(result.failure.message)}")
        _say("no DETAIL, no HINT: the message does not say which row is in the way", style="dim")

    _render_explain(result)
    _render_plan(result)

    _step(4, "Repair", "tablemend doctor repair --booking P --tables T1,T2 --yes")
    repair = result.repair
    if repair is None or repair.repair_id is None:
        _say("[yellow]nothing repaired[/yellow]")
    else:
        _say(f"repair [bold]{repair.repair_id}[/bold]: {len(repair.plan.changes)} row change(s) in one transaction")
        _say("journalled with before-images in tablemend_doctor.journal, so it can be undone", style="dim")

    _step(5, "Retry", "the same call, to the database's own assign_tables_atomic_v2")
    if result.retry_failure is not None:
        _say(f"[red]ERROR {escape(result.retry_failure.sqlstate)}:[/red] {escape(result.retry_failure.message)}")
        return
    rows = [{"table": _table(result, r["table_id"]), "table_id": r["table_id"],
             "window (UTC)": f"{r['start_at']:%Y-%m-%d %H:%M}-{r['end_at']:%H:%M}"} for r in result.retry_rows or ()]
    render_rows(rows, OutputFormat.table)
    groups = {str(r["merge_group_id"]) for r in result.retry_rows or () if r.get("merge_group_id")}
    _say(f"[green]assigned {len(rows)} tables to booking P[/green]"
         + (f" (merge group {', '.join(sorted(groups))})" if groups else ""))

    if result.repair_id is not None:
        console.print(f"\nto undo: {escape(_undo_command(result))}", highlight=False, soft_wrap=True)
        _say("(releases P's new assignment with the origin's own unassign_tables_atomic, then puts the removed row "
             "back exactly as it was, in one transaction; `tablemend doctor undo` alone refuses, naming the row, "
             "while P holds that table)", style="dim")
        if not result.embedded and _has_password(result.dsn):
            _say("(the password is left out of the DSN: set PGPASSWORD)", style="dim")
    if result.embedded:
        console.print("the embedded PostgreSQL keeps running in the background for the commands above; "
                      "`tablemend db stop` stops it", highlight=False, soft_wrap=True)


def _render_explain(result: DemoResult) -> None:
    _step(2, "Explain", "tablemend doctor explain --booking P --tables T1,T2")
    explanation = result.explanation
    if explanation is None or not explanation.blockers:
        _say("[yellow]the doctor finds nothing in the way[/yellow]")
        return
    for blocker in explanation.blockers:
        f = blocker.finding
        meta = f.metadata
        if f.code == "TMD001":
            _say(f"[bold]{f.id}[/bold] ({f.safety.value}): booking B {f.booking_id} is "
                 f"[bold]{escape(str(meta.get('status', '?')))}[/bold] but still holds {_table(result, f.table_id)} "
                 f"at P's slot ({_hhmm(explanation.context.start_at)})")
            _say(f"row:    booking_table_assignments {meta.get('assignment_id', '?')} (B on "
                 f"{_table(result, f.table_id)}, {_hhmm(meta.get('start_at'))}-{_hhmm(meta.get('end_at'))} UTC)")
        else:
            _say(f"[bold]{f.id}[/bold] ({f.safety.value}): {escape(f.detail)}")
        _say(f"causes: {escape(blocker.error)}")
        _say(f"why:    {escape(blocker.why.rstrip('.'))}")
        if f.code == "TMD001":
            _say("        its row takes P's (table, slot) key, and the allocator never looks at the holder's status",
                 style="dim")


def _render_plan(result: DemoResult) -> None:
    _step(3, "Plan", "tablemend doctor plan --booking P --tables T1,T2")
    plan = result.plan
    if plan is None or not plan.changes:
        _say("[yellow]no row changes[/yellow]")
        return
    rows = [{"op": change.op, "table": change.relation.removeprefix("public."),
             "row": ", ".join(str(v) for v in change.pk.values())} for change, _ in plan.changes]
    render_rows(rows, OutputFormat.table)
    findings = sorted({i for _, ids in plan.changes for i in ids})
    _say(f"for {', '.join(findings)}; computed in a transaction that was rolled back: nothing written yet",
         style="dim")


def _undo_command(result: DemoResult) -> str:
    """The command that undoes the demo's repair for real, to paste into a shell: the server's DSN (never its
    password) and the demo database's name, as the demo was run."""
    import shlex

    from tablemend.demo import DEFAULT_DATABASE

    words = ["tablemend", "demo", "--undo", str(result.repair_id)]
    if result.given_dsn:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        parts = {k: v for k, v in conninfo_to_dict(result.given_dsn).items() if k != "password" and v is not None}
        words += ["--dsn", make_conninfo("", **parts)]
    if result.database != DEFAULT_DATABASE:
        words += ["--database", result.database]
    return shlex.join(words)


def _repair_id(value: str) -> uuid.UUID:
    from tablemend.errors import UsageError

    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise UsageError(f"--undo must be the repair id the demo printed (a uuid), got {value!r}") from None


def _has_password(dsn: str) -> bool:
    from psycopg.conninfo import conninfo_to_dict

    return bool(conninfo_to_dict(dsn).get("password"))
