"""Shared pieces of the CLI layer: common options, output rendering, and the error → exit-code boundary.

Only the CLI modules import this. Library code never prints and never exits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tablemend.errors import TablemendError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)
#: errors: printed even with ``-q`` (which makes ``err_console`` quiet)
alert_console = Console(stderr=True)


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"


DsnOption = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        envvar="TABLEMEND_DSN",
        help="PostgreSQL connection string. Default: $DATABASE_URL, then libpq's PG* variables (any of PGHOST, "
        "PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSERVICE, ...), then the embedded cluster.",
        show_default=False,
    ),
]
class ReportFormat(str, enum.Enum):
    """Output of the doctor's scan and gate: the common two, plus the formats CI tools read."""

    table = "table"
    json = "json"
    github = "github"
    sarif = "sarif"
    junit = "junit"


ReportFormatOption = Annotated[
    ReportFormat,
    typer.Option("--format", "-f", envvar="TABLEMEND_FORMAT",
                 help="A readable table, JSON, GitHub Actions annotations (::error title=…::…), SARIF 2.1.0 or "
                 "JUnit XML."),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", envvar="TABLEMEND_FORMAT", help="Output as a readable table or as JSON."),
]


def json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "lower") and hasattr(value, "upper"):  # psycopg Range
        return {"lower": getattr(value, "lower", None), "upper": getattr(value, "upper", None)}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: object) -> str:
    return json.dumps(value, default=json_default, indent=2, sort_keys=False)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=json_default)
    if isinstance(value, dt.datetime):
        return format_instant(value)
    if isinstance(value, list | tuple) and value and all(isinstance(v, uuid.UUID) for v in value):
        return "\n".join(str(v) for v in value)  # one id a line: each stays whole
    return str(value)


def format_instant(value: dt.datetime) -> str:
    """Every instant in readable output: seconds and the UTC offset, e.g. ``2030-06-01 19:00:00+00:00``."""
    return value.isoformat(sep=" ", timespec="seconds")


#: a column holding one of these is never wrapped: an id split over two lines cannot be copied
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def print_table(table: Table, rows: Sequence[Sequence[str]]) -> None:
    """Print a rich table whose id columns never wrap. When it cannot fit a terminal, each row is printed as
    ``key: value`` lines instead (a terminal would fold the long lines); a pipe or file gets the wider table."""
    widths = []
    for index, column in enumerate(table.columns):
        cells = [str(column.header), *(row[index] for row in rows if index < len(row))]
        if any(_ID.search(cell) for cell in cells):
            column.no_wrap = True
            column.overflow = "ignore"
            widths.append(max(len(line) for cell in cells for line in cell.splitlines() or [""]))
        else:  # rich wraps these at spaces: their longest word is what they need
            widths.append(max((len(word) for cell in cells for word in cell.split()), default=1))
    needed = sum(widths) + 3 * len(widths) + 1  # one space of padding each side, and the borders
    if needed > console.width and console.is_terminal:
        if table.title:
            console.print(str(table.title), highlight=False, soft_wrap=True)
        names = [str(c.header) for c in table.columns]
        for row in rows:
            console.print()
            _print_pairs(dict(zip(names, row, strict=False)))
        return
    before = console.width
    console.width = max(before, needed)  # print() can only narrow its width, not widen it
    try:
        console.print(table, crop=False)
    finally:
        console.width = before


def render_record(value: Mapping[str, Any], fmt: OutputFormat) -> None:
    """One record: JSON, or ``key: value`` lines (the form an id can be copied from whatever the terminal's width)."""
    if fmt is OutputFormat.json:
        render_json(dict(value))
        return
    _print_pairs({key: (", ".join(_cell(v) for v in item) or "-") if isinstance(item, list | tuple)
                  else ("-" if item is None else _cell(item)) for key, item in value.items()})


def _print_pairs(pairs: Mapping[str, str]) -> None:
    width = max((len(k) for k in pairs), default=0)
    for key, text in pairs.items():
        lines = text.splitlines() or [""]
        console.print(f"{key + ':':<{width + 1}} {escape(lines[0])}", highlight=False, soft_wrap=True)
        for more in lines[1:]:
            console.print(f"{'':<{width + 1}} {escape(more)}", highlight=False, soft_wrap=True)


def dumps_plain(value: object) -> str:
    """Machine JSON: the same bytes whatever stdout or stderr is connected to (no colour, no wrapping)."""
    return json.dumps(value, default=json_default, indent=2, ensure_ascii=False)


def dumps_line(value: object) -> str:
    """Machine JSON on one line (for streams of many rows)."""
    return json.dumps(value, default=json_default, ensure_ascii=False)


def write_out(text: str) -> None:
    """Write machine output to stdout directly: never through rich, which a live progress display redirects."""
    sys.stdout.write(text)
    sys.stdout.flush()


def render_rows(
    rows: Sequence[Mapping[str, Any]],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    columns: Iterable[str] | None = None,
) -> None:
    """Print rows as a rich table or as a JSON array (the envelope's ``result``)."""
    if fmt is OutputFormat.json:
        render_json([dict(r) for r in rows])
        return
    cols = list(columns) if columns is not None else (list(rows[0].keys()) if rows else [])
    table = Table(title=title, show_lines=False)
    for col in cols:
        table.add_column(col, overflow="fold")
    cells = [[_cell(row.get(c)) for c in cols] for row in rows]
    for line in cells:
        table.add_row(*line)
    if not rows:
        console.print(f"[dim]{title + ': ' if title else ''}no rows[/dim]")
    else:
        print_table(table, cells)


def render_json(value: object, *, profile: str | None = None) -> None:
    """A command's JSON result, in the envelope every command's JSON shares (see :func:`envelope`)."""
    write_out(dumps_plain(envelope(value, profile=profile)) + "\n")


#: the databases this process connected to, in order, each with where its DSN came from (the first time)
_targets: dict[str, dict[str, str]] = {}


def _remember(target: Any) -> None:
    where = f"{target.host}:{target.port}/{target.dbname}"
    _targets.setdefault(where, {**target.as_dict(), "source": target.source})
    _targets[where] = _targets.pop(where)  # the last one connected to comes last


#: the doctor profile the command works with, once it is known (envelope's "profile")
_profile: list[str] = []


def note_profile(name: str) -> None:
    _profile[:] = [name]


def database_entry(conn: Any) -> dict[str, str]:
    """The envelope's ``database`` for a connection: host, port, dbname, user and how it was chosen (``source``)."""
    where = database_of(conn)
    known = _targets.get(f"{where['host']}:{where['port']}/{where['dbname']}")
    return dict(known) if known is not None else {**where, "source": "dsn"}


def command_name() -> str:
    """The running command without the program name (``doctor scan``, ``hold create``)."""
    # typer 0.29 (pinned below 0.30) runs commands on its own copy of click, so that copy holds the context
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    path = ctx.command_path if ctx is not None else ""
    return path.split(" ", 1)[1] if " " in path else path


def envelope(result: object, *, profile: str | None = None, key: str = "result") -> dict[str, Any]:
    """The one JSON shape of every command's output: ``{"tool", "version", "command", "database": {host, port,
    dbname, user, source} or null, "profile", "result"}`` (``"error"`` instead of ``"result"`` for an error). The
    database is the one the command last connected to; ``source`` says how it was chosen (``dsn``, ``DATABASE_URL``,
    ``PG*``, ``embedded``)."""
    from tablemend import __version__

    database = next(reversed(_targets.values()), None) if _targets else None
    return {"tool": "tablemend", "version": __version__, "command": command_name(),
            "database": dict(database) if database is not None else None,
            "profile": profile or (_profile[0] if _profile else None), key: result}


ProgressFn = Callable[[str, int, "int | None"], None]


def _quiet(phase: str, done: int, total: int | None) -> None:
    return None


@contextmanager
def progress_display() -> Iterator[ProgressFn]:
    """A progress callback ``(phase, done, total)`` drawn on stderr when stderr is a terminal (phase, count, rate,
    ETA), and a no-op otherwise (and with ``-q``); with ``-v`` each phase's time is also printed on stderr. stdout is
    never touched: machine output stays the same bytes either way."""
    from tablemend import verbosity

    with _drawn_progress() as draw:
        if not verbosity.verbose():
            yield draw
            return
        watch = verbosity.Stopwatch(say, "phase")

        def update(phase: str, done: int, total: int | None) -> None:
            watch.start(phase)
            draw(phase, done, total)

        try:
            yield update
        finally:
            watch.stop()


def say(line: str) -> None:
    """One line of commentary on stderr (silenced by ``-q``)."""
    err_console.print(escape(line), highlight=False, soft_wrap=True)


@contextmanager
def _drawn_progress() -> Iterator[ProgressFn]:
    if not err_console.is_terminal or err_console.quiet:
        yield _quiet
        return
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("starting", total=None, rate="")
        phase_start: list[Any] = ["", time.monotonic()]

        def update(phase: str, done: int, total: int | None) -> None:
            now = time.monotonic()
            new_phase = phase != phase_start[0]
            if new_phase:
                phase_start[:] = [phase, now]
            elapsed = now - phase_start[1]
            rate = f"{done / elapsed:,.0f}/s" if done and elapsed > 0.5 else ""
            bar.update(task, description=phase, completed=done, total=total, rate=rate)
            if new_phase:  # every phase is drawn at least once, however fast (the timer alone skips quick ones)
                bar.refresh()

        yield update


def database_of(conn: Any) -> dict[str, str]:
    """Server and database of a connection, for JSON output and titles (no password)."""
    info = conn.info
    return {"host": info.host or "?", "port": str(info.port), "dbname": info.dbname, "user": info.user}


def announce_databases() -> None:
    """Say on stderr, once per database, which server and database this command works on (the first line of every
    command that connects; issue 12: a clean report must never be about a database the user did not name)."""
    from tablemend import db

    said: set[str] = set()

    def say(target: db.Target) -> None:
        where = f"{target.host}:{target.port}/{target.dbname}"
        if where not in said:
            said.add(where)
            err_console.print(f"database: {escape(target.describe())}", highlight=False, soft_wrap=True)

    db.on_connect(say)
    db.on_connect(_remember)


@contextmanager
def working(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner with ``message`` on stderr while a long step runs, then one summary line with the time taken; on a
    terminal only (a pipe or a CI log gets nothing extra, and stdout is never touched). Yields ``done(summary)``."""
    if not err_console.is_terminal:
        yield lambda summary: None
        return
    import time

    started = time.monotonic()
    said: list[str] = []
    with err_console.status(message):
        yield said.append
    took = time.monotonic() - started
    err_console.print(f"{escape(said[-1] if said else message)} in {took:.1f}s", highlight=False, soft_wrap=True)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`TablemendError` into one clear line on stderr and the error's exit code (no traceback). With
    ``--format json`` the error is also on stdout, as the envelope with ``"error": {code, message, details, hint}``
    (the HTTP API's error object) instead of ``"result"``, so a script reading stdout always gets valid JSON."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (TablemendError, KeyboardInterrupt) as caught:  # Ctrl-C: the same one line, and valid JSON on stdout
            exc = caught if isinstance(caught, TablemendError) else interrupted()
            if getattr(kwargs.get("fmt"), "value", None) == "json":  # OutputFormat or ReportFormat
                write_out(dumps_plain(envelope(exc.to_json(), key="error")) + "\n")
            fail(exc)

    return wrapper


def interrupted() -> TablemendError:
    """The error a Ctrl-C becomes (exit code 130, as a shell reports SIGINT)."""
    from tablemend.errors import Interrupted

    return Interrupted("interrupted", hint="an open transaction was rolled back; `tablemend doctor journal` lists "
                                           "what earlier transactions committed")


def print_error(exc: TablemendError) -> None:
    """``error [CODE]: message`` as one line on stderr, then the optional indented ``detail:`` / ``hint:`` lines."""
    lines = [f"[bold red]error[/bold red] [{exc.sqlstate}]: {escape(exc.message)}"]
    if exc.details:
        lines.append(f"  detail: {escape(exc.details)}")
    if exc.hint:
        lines.append(f"  hint: {escape(exc.hint)}")
    alert_console.print("\n".join(lines), highlight=False, soft_wrap=True)


def fail(exc: TablemendError) -> NoReturn:
    print_error(exc)
    raise typer.Exit(exc.exit_code)


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


def is_interactive() -> bool:
    return sys.stdin.isatty()
