"""``tablemend doctor …``: thin typer commands over :mod:`tablemend.doctor`; parsing, output and exit codes only."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer

from tablemend import db, integrity, verbosity
from tablemend.clitools import (
    DsnOption,
    FormatOption,
    OutputFormat,
    ReportFormat,
    ReportFormatOption,
    console,
    database_entry,
    err_console,
    escape,
    is_interactive,
    note_profile,
    progress_display,
    render_json,
    render_rows,
    say,
    write_out,
)
from tablemend.doctor import costs, indexes, journal, planfile, reindex, repairs, selection
from tablemend.doctor import explainer as explain_mod
from tablemend.doctor import profile as profiles
from tablemend.doctor.cli_plan import (
    emit_plan,
    print_plan,
    repair_plan_file,
    scope_of,
    warn_slow,
    write_file,
)
from tablemend.doctor.cli_settings import IgnoreOption, SelectOption, baseline_pass, given, selected_codes
from tablemend.doctor.render import Report, RuleInfo
from tablemend.doctor.render import table as render_table
from tablemend.doctor.render.machine import doctor_command
from tablemend.doctor.rules import Check, Context, Finding, Level
from tablemend.doctor.scanner import checks as applicable_checks
from tablemend.doctor.scanner import context, narrowed, not_applicable, scan
from tablemend.errors import FindingsRemain, RepairRefused, TablemendError, UsageError

doctor_app = typer.Typer(
    help="Find and repair the states that make multi-table assignment fail.\n\n"
    "scan finds them. For one failing booking P: explain says what blocks it,\n"
    "plan shows the row changes, repair applies them (journalled), verify\n"
    "proves the retry works, undo restores. Rules and runbooks: docs/doctor.md.\n\n"
    "Examples:\n"
    "  tablemend doctor scan --dsn \"$DATABASE_URL\"\n"
    "  tablemend doctor explain --booking P --error \"…duplicate for table X\"\n"
    "  tablemend doctor repair --booking P --retry --yes",
    no_args_is_help=True,
)

ProfileOption = Annotated[str | None, typer.Option("--profile", envvar="TABLEMEND_DOCTOR_PROFILE",
                                                   help="origin | tablemend (default: detected from the catalog).")]
RestaurantOption = Annotated[str | None, typer.Option("--restaurant", help="Only this restaurant (uuid).")]
BookingOption = Annotated[str | None, typer.Option("--booking", help="Booking P (uuid) whose assignment fails.")]
TablesOption = Annotated[str | None, typer.Option("--tables", help="Comma-separated table ids P requests "
                                                  "(default: P's current or last requested set).")]
StartOption = Annotated[str | None, typer.Option("--start", help="Custom window start (ISO 8601; UTC if no offset).")]
EndOption = Annotated[str | None, typer.Option("--end", help="Custom window end (ISO 8601).")]
KeyOption = Annotated[str | None, typer.Option("--key", help="Idempotency key of P's call.")]
IncludeOption = Annotated[list[str] | None, typer.Option("--include", help="Finding id to apply even if it is "
                                                         "'confirm' (repeatable).")]
LockTimeout = Annotated[str, typer.Option("--lock-timeout", envvar="TABLEMEND_DOCTOR_LOCK_TIMEOUT",
                                          help="Give up (changing nothing) when a lock takes longer.")]
StatementTimeout = Annotated[str, typer.Option("--statement-timeout", envvar="TABLEMEND_DOCTOR_STATEMENT_TIMEOUT",
                                               help="Give up (changing nothing) when a statement takes longer; "
                                               "auto fits the planned work (at least 60s).")]



# --- parsing ----------------------------------------------------------------------------------------------------


def _uuid(value: str | None, what: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise UsageError(f"{what} must be a uuid, got {value!r}") from None


def _uuids(value: str | None, what: str) -> tuple[uuid.UUID, ...]:
    if value is None:
        return ()
    ids = tuple(u for part in value.split(",") if part.strip() if (u := _uuid(part, what)) is not None)
    if not ids:  # an empty list once meant "P's current tables", silently
        raise UsageError(f"{what} names no table; leave it out to use P's current or last requested set")
    return ids


def _instant(value: str | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{what} must be an ISO 8601 timestamp, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _level(value: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise UsageError(f"--fail-on must be one of info, warning, error; got {value!r}") from None


def _connect(dsn: str | None) -> db.Connection:
    return db.connect(dsn, autocommit=True)


def _ctx(conn: db.Connection, *, restaurant: str | None = None, booking: str | None = None,
         tables: str | None = None, start: str | None = None, end: str | None = None,
         key: str | None = None, profile: str | None = None) -> Context:
    ctx = _context(conn, restaurant=restaurant, booking=booking, tables=tables, start=start, end=end, key=key,
                   profile=profile)
    note_profile(profiles.detect(conn, profile).name)  # the JSON envelope's "profile"
    if ctx.booking_id is not None and not ctx.table_ids:
        err_console.print(f"note: booking {ctx.booking_id} has no current or last table set; pass --tables to "
                          "check what blocks a request", highlight=False)
    return ctx


def _context(conn: db.Connection, *, restaurant: str | None, booking: str | None, tables: str | None,
             start: str | None, end: str | None, key: str | None, profile: str | None) -> Context:
    return context(conn, restaurant_id=_uuid(restaurant, "--restaurant"), booking_id=_uuid(booking, "--booking"),
                   table_ids=_uuids(tables, "--tables"), start_at=_instant(start, "--start"),
                   end_at=_instant(end, "--end"), idempotency_key=key,
                   profile=profiles.detect(conn, profile).name if booking else None)


# --- scan -------------------------------------------------------------------------------------------------------


def _with_progress(items: Iterator[Finding], checks: Sequence[Check], bind: Any) -> Iterator[Finding]:
    from rich.progress import Progress

    # stdout is not redirected into the live display: `scan -f json > f.json` in a terminal writes the findings
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal,
                  redirect_stdout=False, redirect_stderr=False) as progress:
        task = progress.add_task("scanning", total=len(checks))
        watch = verbosity.Stopwatch(say, "check") if verbosity.verbose() else None

        def advance(check: Check) -> None:
            progress.update(task, advance=1, description=f"{check.code} {check.title}")
            if watch is not None:
                watch.start(f"{check.code} {check.name}")

        bind(advance)
        yield from items
        if watch is not None:
            watch.stop()


@doctor_app.command("scan")
@doctor_command
def scan_cmd(dsn: DsnOption = None, profile: ProfileOption = None, restaurant: RestaurantOption = None,
             booking: BookingOption = None, tables: TablesOption = None, start: StartOption = None,
             end: EndOption = None,
             check: Annotated[list[str] | None, typer.Option("--check", help="Only these codes (repeatable).")] = None,
             fail_on: Annotated[str, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this "
                                                  "level (info, warning, error).")] = "warning",
             fmt: ReportFormatOption = ReportFormat.table, select: SelectOption = None, ignore: IgnoreOption = None,
             baseline_file: Annotated[str | None, typer.Option("--baseline", help="Report, count and fail only on "
                                                               "findings not in this baseline file.")] = None,
             write_baseline: Annotated[str | None, typer.Option("--write-baseline", help="Record the findings as "
                                                                "the accepted baseline in this file (exit 0).")]
             = None,
             verify_indexes: Annotated[bool, typer.Option("--verify-indexes", help="Also compare every occupancy "
                                                          "index with its table (TMD023): a whole-database or "
                                                          "--restaurant scan leaves it out otherwise, as it reads "
                                                          "each index whole.")] = False) -> None:
    """Find the inconsistent states (read-only).

    The whole database, one --restaurant, or what blocks one --booking P.
    Exit code 0 with no findings, 1 with findings at or above --fail-on, 2 on
    error. --format json writes every finding in the JSON envelope; github
    one GitHub Actions annotation per finding; sarif a SARIF 2.1.0 log; junit
    JUnit XML (docs/doctor.md, Output formats).

    Examples:
      tablemend doctor scan --fail-on error
      tablemend doctor scan --booking P --tables T1,T2 -f json
      tablemend doctor scan -f sarif > doctor.sarif
    """
    threshold = _level(fail_on)
    selection.validate(check, select, ignore)  # before connecting: nothing is done with a bad code
    accepted = baseline_pass(baseline_file, write_baseline)
    with _connect(dsn) as conn:
        ctx = _ctx(conn, restaurant=restaurant, booking=booking, tables=tables, start=start, end=end,
                   profile=profile)
        prof = profiles.detect(conn, profile)
        note_profile(prof.name)
        codes, left = narrowed(prof, ctx, selection.resolve(prof, check, select, ignore),
                               selection.patterns(check) + selection.patterns(select), verify_indexes=verify_indexes)
        selected = [c for c in applicable_checks(prof, codes, booking=ctx.booking_id is not None)
                    if c.code not in {out.code for out, _ in left}]
        _note_variants(prof, codes, selected)
        for out, why in left:
            err_console.print(f"note: {out.code} ({escape(out.title)}) not run: {escape(why)}", highlight=False,
                              soft_wrap=True)
        hook: list[Any] = []
        stream = scan(conn, profile=prof, ctx=ctx, codes=codes, on_check=lambda c: hook[0](c) if hook else None,
                      verify_indexes=verify_indexes)
        accepted.codes, accepted.ctx = frozenset(c.code for c in selected), ctx
        findings = accepted.filter(_with_progress(stream, selected, hook.append))
        scope = scope_of(ctx)
        where = database_entry(conn)
        report = Report("doctor scan", where, prof.name, scope, {c.code: RuleInfo.of(type(c)) for c in selected},
                        threshold)
        if fmt is ReportFormat.table:
            server = integrity.cached(conn)  # the scan probed before its snapshot; TMD022 when affected
            verdict = f"; GiST rescan self-test: {server.verdict.value}" if server is not None else ""
            only = f", {scope} only" if scope else ""
            worst = render_table.scan(findings, f"doctor scan ({prof.name}{only}{verdict}) of {report.where}")
        else:
            from tablemend.doctor.render.machine import scan_report

            worst = scan_report(fmt, findings, report)
    for line in accepted.finish():
        err_console.print(escape(line), highlight=False, soft_wrap=True)
    if worst is not None and worst.rank >= threshold.rank and write_baseline is None:
        raise typer.Exit(1)


def _note_variants(prof: profiles.Profile, codes: Sequence[str] | None, selected: Sequence[Check]) -> None:
    """On stderr: checks this schema variant cannot run, and checks that run an equivalent query."""
    for skipped, needs in not_applicable(prof, codes):
        err_console.print(f"note: {skipped.code} ({skipped.title}) not applicable: needs {', '.join(needs)}",
                          highlight=False)
    for c in selected:
        absent = [feature for feature, _ in c.degraded if not prof.catalog.has(feature)]
        if absent:
            err_console.print(f"note: {c.code} uses its equivalent query without {', '.join(absent)}",
                              highlight=False)


# --- explain ----------------------------------------------------------------------------------------------------


@doctor_app.command("explain")
@doctor_command
def explain_cmd(booking: Annotated[str, typer.Option("--booking", help="Booking P (uuid).")],
                dsn: DsnOption = None, profile: ProfileOption = None, restaurant: RestaurantOption = None,
                tables: TablesOption = None, start: StartOption = None, end: EndOption = None, key: KeyOption = None,
                error: Annotated[str | None, typer.Option("--error", help='The error P got, e.g. "… assignment '
                                                          'duplicate for table <id>".')] = None,
                probe: Annotated[bool, typer.Option(help="Call the database's allocator in a rolled-back "
                                                    "transaction to show its actual answer.")] = True,
                fmt: FormatOption = OutputFormat.table) -> None:
    """Explain what blocks booking P's assignment, and why.

    Lists the rows P's call meets in the order the allocator meets them (the
    first one raises the error), each with its booking and status, the error
    it causes and the repair; calls the database's allocator in a rolled-back
    transaction for its actual answer (--no-probe skips that) and ends with a
    verdict: the error, the blocking rows and the exact repair command.

    Examples:
      tablemend doctor explain --booking P
      tablemend doctor explain --booking P --error "…duplicate for table X"
    """
    with _connect(dsn) as conn:
        note_profile(profiles.detect(conn, profile).name)  # the JSON envelope's "profile"
        result = explain_mod.explain(
            conn, booking_id=_uuid(booking, "--booking"),  # type: ignore[arg-type]
            table_ids=_uuids(tables, "--tables"), start_at=_instant(start, "--start"),
            end_at=_instant(end, "--end"), idempotency_key=key, error=error, profile=profile, probe=probe,
            restaurant_id=_uuid(restaurant, "--restaurant"))
    scope = scope_of(result.context)
    if fmt is OutputFormat.json:
        render_json({"scope": scope or "database", **result.as_dict()})
        return
    ctx = result.context
    console.print(f"booking {ctx.booking_id}: tables {', '.join(map(str, ctx.table_ids))}", highlight=False,
                  soft_wrap=True)
    slot = ctx.slot_id or "none"
    console.print(f"window {ctx.start_at} → {ctx.end_at}, slot {slot}", highlight=False)
    if result.allocator is not None:
        answer = (f"succeeds ({len(result.allocator.rows)} rows)" if result.allocator.ok
                  else f"fails: [{result.allocator.sqlstate}] {result.allocator.message}")
        console.print(f"the database's allocator now: {escape(answer)}", highlight=False, soft_wrap=True)
    if not result.blockers:
        console.print("nothing in the doctor's checks blocks this assignment")
    for n, b in enumerate(result.blockers, 1):
        f = b.finding
        label = f"{n}." if b.blocks else "hygiene:"
        console.print(f"\n{label} [bold]{f.id}[/bold] ({f.safety.value}) {escape(f.detail)}", highlight=False,
                      soft_wrap=True)
        console.print(f"  causes: {escape(b.error)}", highlight=False, soft_wrap=True)
        console.print(f"  state:  {escape(b.why)}", highlight=False, soft_wrap=True)
        console.print("  repair:\n    " + escape(b.repair).replace("\n", "\n    "), highlight=False,
                      soft_wrap=True)
    v = result.verdict
    if v is None:
        return
    console.print(f"\n[bold]verdict[/bold]: {escape(v.error)} ({v.source})", highlight=False, soft_wrap=True)
    if v.note:
        console.print(f"  note: {escape(v.note)}", highlight=False, soft_wrap=True)
    if v.blocking:
        console.print(f"  blocking: {', '.join(v.blocking)}" + (f" (bookings {', '.join(map(str, v.bookings))})"
                                                                 if v.bookings else ""), highlight=False,
                      soft_wrap=True)
    if v.person:
        console.print(f"  a person decides first: {', '.join(v.person)} (human: never repaired automatically)",
                      highlight=False, soft_wrap=True)
    if v.command:
        console.print(f"  repair: {escape(v.command)}", highlight=False, soft_wrap=True)


# --- plan / repair ----------------------------------------------------------------------------------------------


@doctor_app.command("plan")
@doctor_command
def plan_cmd(dsn: DsnOption = None, profile: ProfileOption = None, restaurant: RestaurantOption = None,
             booking: BookingOption = None, tables: TablesOption = None, start: StartOption = None,
             end: EndOption = None, include: IncludeOption = None,
             sql: Annotated[bool, typer.Option("--sql", help="Print the repair as a SQL script to review.")] = False,
             out: Annotated[str | None, typer.Option("--out", help="Also write the plan to this file (findings, row "
                                                     "changes with before-image fingerprints, SQL) for "
                                                     "`repair --plan`.")] = None,
             fmt: FormatOption = OutputFormat.table, select: SelectOption = None,
             ignore: IgnoreOption = None) -> None:
    """Show the row changes a repair would make; nothing is written.

    The repair runs in a transaction that is always rolled back, and its row
    changes stream out as they are read (memory stays flat). --sql prints it
    as a script to review instead.

    Examples:
      tablemend doctor plan --booking P
      tablemend doctor plan --restaurant R --sql > repair.sql
      tablemend doctor plan --booking P --out plan.json
    """
    selection.validate(None, select, ignore)
    with _connect(dsn) as conn, progress_display() as progress:
        ctx = _ctx(conn, restaurant=restaurant, booking=booking, tables=tables, start=start, end=end,
                   profile=profile)
        codes = selected_codes(conn, profile, select, ignore, include)

        def emit(p: repairs.Plan, changes: repairs.ChangeStream) -> None:
            warn_slow(p)
            if out is not None:
                text = planfile.dumps(planfile.document(dataclasses.replace(p, changes=tuple(changes))))
                write_file(out, text)
                err_console.print(f"wrote {out} (sha256 {planfile.sha256(text)}): review it, then "
                                  f"`tablemend doctor repair --plan {out}`", highlight=False, soft_wrap=True)
            if sql:
                write_out(p.sql())
            else:
                emit_plan(p, changes, fmt)

        repairs.plan(conn, ctx, profile=profile, include=include or (), codes=codes, progress=progress, emit=emit)


@doctor_app.command("repair")
@doctor_command
def repair_cmd(dsn: DsnOption = None, profile: ProfileOption = None, restaurant: RestaurantOption = None,
               booking: BookingOption = None, tables: TablesOption = None, start: StartOption = None,
               end: EndOption = None, key: KeyOption = None, include: IncludeOption = None,
               all_safe: Annotated[bool, typer.Option("--all-safe", help="Apply every safe finding.")] = False,
               yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before writing.")] = False,
               retry: Annotated[bool, typer.Option("--retry", help="Also run P's assignment in the same "
                                                   "transaction (kept only if it succeeds).")] = False,
               adjacency: Annotated[bool, typer.Option("--adjacency", help="p_require_adjacency for --retry.")]
               = False,
               plan_file: Annotated[str | None, typer.Option("--plan", help="Apply exactly this reviewed plan "
                                                             "file (from `plan --out`); refused, naming the rows, if "
                                                             "the database moved on since.")] = None,
               batch: Annotated[int | None, typer.Option("--batch", help="At most N findings per transaction, "
                                                         "each journalled and undoable on its own (default: one "
                                                         "all-or-nothing transaction).")] = None,
               create_indexes: Annotated[bool, typer.Option("--create-indexes", help="First create the indexes "
                                                            "TMD032 recommends (CONCURRENTLY, journalled, dropped "
                                                            "by undo).")] = False,
               lock_timeout: LockTimeout = "5s", statement_timeout: StatementTimeout = "auto",
               fmt: FormatOption = OutputFormat.table, select: SelectOption = None,
               ignore: IgnoreOption = None) -> None:
    """Apply repairs in one journalled transaction; print the repair id.

    Every changed row is journalled with its before-image, so `tablemend doctor
    undo ID` can restore it. Asks before writing unless --yes; --retry also runs
    P's assignment in the same transaction and keeps nothing if it fails. The
    statement timeout fits the planned work unless given.

    Examples:
      tablemend doctor repair --booking P --retry --yes
      tablemend doctor repair --all-safe --yes --create-indexes
      tablemend doctor repair --plan plan.json --yes
    """
    selection.validate(None, select, ignore)
    if plan_file is not None:
        if (booking or all_safe or include or retry or batch is not None or create_indexes or tables or start
                or end or key or given(restaurant=restaurant, select=select, ignore=ignore)):
            raise UsageError("--plan applies exactly the reviewed plan: drop --booking, --all-safe, --include, "
                             "--retry, --batch, --create-indexes and the scope options")
        repair_plan_file(dsn, plan_file, yes=yes, timeouts=repairs.Timeouts(lock_timeout, statement_timeout),
                          fmt=fmt)
        return
    if booking is None and not all_safe and not include:
        raise UsageError("choose what to repair: --booking P, --all-safe, --include FINDING, or --plan FILE")
    if retry and booking is None:
        raise UsageError("--retry needs --booking")
    timeouts = repairs.Timeouts(lock_timeout, statement_timeout)
    with _connect(dsn) as conn, progress_display() as progress:
        ctx = _ctx(conn, restaurant=restaurant, booking=booking, tables=tables, start=start, end=end, key=key,
                   profile=profile)
        codes = selected_codes(conn, profile, select, ignore, include)
        apply_safe = all_safe or booking is not None
        if not yes:
            if not is_interactive():
                raise RepairRefused("refusing to write without confirmation: stdin is not a terminal",
                                    hint="review with `tablemend doctor plan`, then pass --yes")
            preview = repairs.plan(conn, ctx, profile=profile, all_safe=apply_safe, include=include or (),
                                   codes=codes, timeouts=timeouts, progress=progress)
            print_plan(preview, OutputFormat.table)
            warn_slow(preview)
            if not typer.confirm(f"apply {preview.count} row change(s)?", default=False):
                raise RepairRefused("not confirmed; nothing was changed")
        index_entry = None
        if create_indexes:
            progress("creating indexes (CONCURRENTLY)", 0, None)
            index_entry = indexes.create(conn)
            for name in index_entry.indexes if index_entry is not None else ():
                err_console.print(f"created index {name}", highlight=False)

        def said(estimate: costs.Estimate) -> None:
            warn_slow(repairs.Plan("", ctx, repairs.Selection((), ()), (), 0, estimate))

        # damaged occupancy indexes first, outside any transaction: the row checks read through them
        actions = [] if codes is not None and not reindex.ACTION_CODES & set(codes) else \
            reindex.rebuild_selected(conn, ctx, profile=profile, all_safe=all_safe, include=include or ())
        for action in actions:
            err_console.print(f"rebuilt {action.index} (action {action.action_id}): {action.lost_before} lost "
                              f"entries before, {action.lost_after} after; live overlaps after: "
                              f"{len(action.overlaps)}", highlight=False)
        result = repairs.repair(conn, ctx, profile=profile, all_safe=apply_safe, include=include or (),
                                codes=codes, retry=retry, adjacency=adjacency, explicit_window=start is not None,
                                timeouts=timeouts, batch=batch, progress=progress, collect=False,
                                on_estimate=said, indexes_checked=reindex.sound(actions, all_safe=all_safe))
    if actions and result.repair_id is None and result.allocator is None:
        if fmt is OutputFormat.json:
            render_json({"repair_id": None, "findings": [], "changes": 0,
                         "actions": [a.as_dict() for a in actions]})
        return
    if result.repair_id is None and result.allocator is None:
        skipped = result.plan.selection.skipped
        if skipped:
            raise FindingsRemain(f"nothing was repaired: {len(skipped)} finding(s) need --include or a person",
                                 details="; ".join(f"{f.id} ({why})" for f, why in skipped),
                                 hint="review them with `tablemend doctor plan`; apply a confirm finding with "
                                 "--include ID")
        err_console.print("nothing to repair")
        if fmt is OutputFormat.json:  # a script reading stdout still gets the envelope
            render_json({"repair_id": None, "findings": [], "changes": 0, "actions": []})
        return
    if result.plan.selection.skipped:  # one print: a rich print per finding is ~1 ms (thousands at 500k bookings)
        err_console.print("\n".join(f"left: {f.id} ({why})" for f, why in result.plan.selection.skipped),
                          highlight=False, soft_wrap=True, markup=False)
    summary: dict[str, Any] = {"scope": scope_of(ctx) or "database", "repair_id": result.repair_id,
                               "findings": [f.id for f in result.plan.selection.apply], "changes": result.plan.count}
    if len(result.repair_ids) > 1:
        summary["repair_ids"] = list(result.repair_ids)
    if index_entry is not None:
        summary["index_repair_id"] = index_entry.journal_id
    if result.allocator is not None:
        summary["assigned"] = result.allocator.rows
    if actions:
        summary["actions"] = [a.as_dict() for a in actions]
    if fmt is OutputFormat.json:
        render_json(summary)
        return
    ids = ", ".join(str(i) for i in result.repair_ids) or str(result.repair_id)
    console.print(f"repair {ids}: {summary['changes']} row change(s) for "
                  f"{len(summary['findings'])} finding(s)", highlight=False)
    if result.allocator is not None:
        console.print(f"assignment succeeded: {len(result.allocator.rows)} row(s)")


def _note_detected(conn: db.Connection) -> None:
    """The JSON envelope's "profile" for a command that works on any doctor database (undo, journal): the detected
    one, or null where none matches (the command's own error then says what is missing)."""
    with contextlib.suppress(TablemendError):
        note_profile(profiles.detect(conn).name)


@doctor_app.command("undo")
@doctor_command
def undo_cmd(repair_id: Annotated[str, typer.Argument(help="The id `doctor repair` printed.")],
             dsn: DsnOption = None, lock_timeout: LockTimeout = "5s", statement_timeout: StatementTimeout = "auto",
             fmt: FormatOption = OutputFormat.table) -> None:
    """Undo one repair: restore the rows it changed.

    The restore is a new journal entry. It refuses, naming the row, when data
    written after the repair conflicts with a restored row.

    Example:
      tablemend doctor undo 3f1c…e2
    """
    rid = _uuid(repair_id, "REPAIR_ID")
    assert rid is not None
    with _connect(dsn) as conn, progress_display() as progress:
        _note_detected(conn)
        undo_id = repairs.undo(conn, rid, timeouts=repairs.Timeouts(lock_timeout, statement_timeout),
                               progress=progress)
    if fmt is OutputFormat.json:
        render_json({"undo_id": undo_id, "repair_id": rid})
    else:
        console.print(f"undone: repair {rid} (journal entry {undo_id})", highlight=False)


@doctor_app.command("verify")
@doctor_command
def verify_cmd(booking: Annotated[str, typer.Option("--booking", help="Booking P (uuid).")],
               dsn: DsnOption = None, profile: ProfileOption = None, tables: TablesOption = None,
               start: StartOption = None, end: EndOption = None, key: KeyOption = None,
               adjacency: Annotated[bool, typer.Option("--adjacency", help="p_require_adjacency.")] = False,
               include: IncludeOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """Check that P's assignment succeeds after the repair (rolled back).

    Applies P's pending repair, calls the database's own allocator, then rolls
    everything back. Exit code 0 when the assignment succeeds, 1 when it fails.
    """
    with _connect(dsn) as conn, progress_display() as progress:
        ctx = _ctx(conn, booking=booking, tables=tables, start=start, end=end, key=key, profile=profile)
        result = repairs.verify(conn, ctx, profile=profile, include=include or (), adjacency=adjacency,
                                explicit_window=start is not None, progress=progress)
    out = result.allocator
    if fmt is OutputFormat.json:
        render_json({"ok": out.ok, "rows": list(out.rows), "sqlstate": out.sqlstate, "message": out.message,
                     "details": out.details, "repairs": [f.id for f in result.plan.selection.apply],
                     "before": None if result.before is None else {"ok": result.before.ok,
                                                                   "sqlstate": result.before.sqlstate,
                                                                   "message": result.before.message}})
    elif out.ok:
        console.print(f"ok: after {len(result.plan.selection.apply)} repair(s) the allocator assigns "
                      f"{len(out.rows)} table(s) (rolled back)", highlight=False)
        render_rows(list(out.rows), fmt)
    else:
        # the verdict is the command's output, on stdout like its success and its JSON (the exit code says failure)
        console.print(f"still fails after {len(result.plan.selection.apply)} repair(s): [{out.sqlstate}] "
                      f"{escape(out.message or '')}", highlight=False, soft_wrap=True)
    if not out.ok:
        raise typer.Exit(1)


@doctor_app.command("journal")
@doctor_command
def journal_cmd(dsn: DsnOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List the repairs and undos recorded in tablemend_doctor.journal."""
    with _connect(dsn) as conn:
        _note_detected(conn)
        rows = journal.entries(conn)
    render_rows(rows, fmt, title="doctor journal")


@doctor_app.command("docs")
@doctor_command
def docs_cmd(output: Annotated[str | None, typer.Option("--output", "-o", help="Where to write (default "
                                                      "docs/doctor.md, or docs/verification.md).")] = None,
             verification: Annotated[bool, typer.Option("--verification", help="The by-hand remediation and "
                                                        "verification steps instead.")] = False,
             check: Annotated[bool, typer.Option("--check", help="Exit 1 when the file differs.")] = False) -> None:
    """Write docs/doctor.md (or docs/verification.md) from the code, or --check it."""
    from pathlib import Path

    if verification:
        from tablemend.doctor.verification import render
    else:
        from tablemend.doctor.docs import render

    output = output or ("docs/verification.md" if verification else "docs/doctor.md")
    text = render()
    path = Path(output)
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            err_console.print(f"{output} is out of date; run `tablemend doctor docs`")
            raise typer.Exit(1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


# --- gate (helper C2) -------------------------------------------------------------------------------------------


@doctor_app.command("gate")
@doctor_command
def gate_cmd(dsn: DsnOption = None, profile: ProfileOption = None,
             constraint: Annotated[list[str] | None, typer.Option(
                 "--constraint", help="Only these (repeatable): bta_booking_table, bta_table_slot, bta_no_overlap, "
                 "allocations_no_overlap.")] = None,
             limit: Annotated[int, typer.Option("--limit", help="Blocking groups / pairs shown per constraint "
                                                "(all are counted).")] = 50,
             fmt: ReportFormatOption = ReportFormat.table) -> None:
    """Check that the unique / exclusion constraints fit today's data.

    A read-only pre-migration check: could each constraint be created now? Exit
    code 0 when all can, 1 when one cannot (its blocking rows are listed), 2 on
    error. --format github / sarif / junit for CI.
    """
    from tablemend.doctor import gate as gate_mod

    with _connect(dsn) as conn, progress_display() as progress:
        progress("checking constraints", 0, None)
        result = gate_mod.gate(conn, profile=profile, keys=constraint, limit=limit)
        where = database_entry(conn)
    from tablemend.doctor.cli_gate import render

    note_profile(result.profile)
    render(result, Report("doctor gate", where, result.profile), fmt)
    if not result.creatable:
        raise typer.Exit(1)
