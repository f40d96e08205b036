"""Shared pieces of the CLI layer: common options, output rendering, and the error → exit-code boundary.

Only the CLI modules import this. Library code never prints and never exits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
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
        return value.isoformat(sep=" ", timespec="minutes")
    return str(value)


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
    """Print rows as a rich table or as a JSON array."""
    if fmt is OutputFormat.json:
        write_out(dumps_plain([dict(r) for r in rows]) + "\n")
        return
    cols = list(columns) if columns is not None else (list(rows[0].keys()) if rows else [])
    table = Table(title=title, show_lines=False)
    for col in cols:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in cols))
    if not rows:
        console.print(f"[dim]{title + ': ' if title else ''}no rows[/dim]")
    else:
        console.print(table)


def render_json(value: object) -> None:
    write_out(dumps_plain(value) + "\n")


ProgressFn = Callable[[str, int, "int | None"], None]


def _quiet(phase: str, done: int, total: int | None) -> None:
    return None


@contextmanager
def progress_display() -> Iterator[ProgressFn]:
    """A progress callback ``(phase, done, total)`` drawn on stderr when stderr is a terminal (phase, count, rate,
    ETA), and a no-op otherwise. stdout is never touched: machine output stays the same bytes either way."""
    if not err_console.is_terminal:
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
            if phase != phase_start[0]:
                phase_start[:] = [phase, now]
            elapsed = now - phase_start[1]
            rate = f"{done / elapsed:,.0f}/s" if done and elapsed > 0.5 else ""
            bar.update(task, description=phase, completed=done, total=total, rate=rate)

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


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`TablemendError` into one clear line on stderr and the error's exit code (no traceback)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TablemendError as exc:
            fail(exc)
        except KeyboardInterrupt:
            err_console.print("[red]interrupted[/red]")
            raise typer.Exit(130) from None

    return wrapper


def print_error(exc: TablemendError) -> None:
    """``error [CODE]: message`` as one line on stderr, then the optional indented ``detail:`` / ``hint:`` lines."""
    lines = [f"[bold red]error[/bold red] [{exc.sqlstate}]: {escape(exc.message)}"]
    if exc.details:
        lines.append(f"  detail: {escape(exc.details)}")
    if exc.hint:
        lines.append(f"  hint: {escape(exc.hint)}")
    err_console.print("\n".join(lines), highlight=False, soft_wrap=True)


def fail(exc: TablemendError) -> NoReturn:
    print_error(exc)
    raise typer.Exit(exc.exit_code)


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


def is_interactive() -> bool:
    return sys.stdin.isatty()
