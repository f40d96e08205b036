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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
        help="PostgreSQL connection string. Default: $DATABASE_URL, then libpq's PG* variables (when PGHOST is set), "
        "then the embedded cluster.",
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


def render_rows(
    rows: Sequence[Mapping[str, Any]],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    columns: Iterable[str] | None = None,
) -> None:
    """Print rows as a rich table or as a JSON array."""
    if fmt is OutputFormat.json:
        console.print_json(dumps([dict(r) for r in rows]))
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
    console.print_json(dumps(value))


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
