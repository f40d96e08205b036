"""The ``tablemend`` command. Thin: each command calls the library, then formats the result."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from tablemend import __version__
from tablemend.clitools import (
    DsnOption,
    FormatOption,
    OutputFormat,
    console,
    err_console,
    handle_errors,
    print_error,
    render_json,
)
from tablemend.errors import UsageError

app = typer.Typer(
    name="tablemend",
    help="Restaurant table allocator on PostgreSQL, and a doctor for broken multi-table assignments.\n\n"
    "With no --dsn / DATABASE_URL every command uses an embedded PostgreSQL cluster\n"
    "(see tablemend db). Each command has --help.\n\n"
    "Examples:\n"
    "  tablemend demo\n"
    "  tablemend doctor scan --dsn \"$DATABASE_URL\"\n"
    "  tablemend assign BOOKING TABLE_1 TABLE_2 --adjacency",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the embedded PostgreSQL cluster (in $TABLEMEND_HOME).", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        console.print(f"tablemend {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Global options."""


# --- db -----------------------------------------------------------------------------------------------------------


@db_app.command("start")
@handle_errors
def db_start() -> None:
    """Create (first time) and start the embedded cluster.

    Reuses the cluster when it is already running; a crashed one is recovered.
    Prints its connection URL.
    """
    from tablemend.embedded import EmbeddedCluster

    cluster = EmbeddedCluster()
    before = cluster.status().running
    url = cluster.start()
    for message in cluster.messages:
        console.print(f"[yellow]recovered:[/yellow] {message}")
    state = "already running" if before else "started"
    console.print(f"embedded PostgreSQL {cluster.status().version} {state} in {cluster.home}")
    console.print(url, highlight=False, soft_wrap=True)


@db_app.command("stop")
@handle_errors
def db_stop() -> None:
    """Stop the embedded cluster (fast shutdown)."""
    from tablemend.embedded import EmbeddedCluster

    cluster = EmbeddedCluster()
    console.print("stopped" if cluster.stop() else "not running")


@db_app.command("status")
@handle_errors
def db_status(fmt: FormatOption = OutputFormat.table) -> None:
    """Show whether the embedded cluster exists and runs.

    Exit code 0 when it is running, 1 when it is not.
    """
    from dataclasses import asdict

    from tablemend.embedded import EmbeddedCluster

    status = EmbeddedCluster().status()
    if fmt is OutputFormat.json:
        render_json({**asdict(status), "home": str(status.home)})
    else:
        console.print(f"home:        {status.home}")
        console.print(f"initialized: {status.initialized}")
        where = f" (pid {status.pid}, port {status.port})" if status.running else ""
        console.print(f"running:     {status.running}{where}")
        if status.version:
            console.print(f"version:     PostgreSQL {status.version}")
    raise typer.Exit(0 if status.running else 1)


@db_app.command("url")
@handle_errors
def db_url(
    database: Annotated[str, typer.Option(help="Database name in the URL.")] = "postgres",
) -> None:
    """Print the embedded cluster's connection URL (starts it if needed).

    The URL holds the cluster's password: keep it out of logs.

    Examples:
      psql "$(tablemend db url)"
      tablemend doctor scan --dsn "$(tablemend db url --database tablemend_demo)"
    """
    from tablemend.embedded import EmbeddedCluster

    if not database.strip():
        raise UsageError("--database must name a database")  # before anything is started
    cluster = EmbeddedCluster()
    cluster.start()
    print(cluster.url(database))


# --- migrate ------------------------------------------------------------------------------------------------------


@app.command("migrate")
@handle_errors
def migrate_cmd(dsn: DsnOption = None) -> None:
    """Install or upgrade tablemend's own schema (idempotent).

    One transaction under an advisory lock; every run is logged in
    tablemend.migration_log.
    """
    from tablemend import db
    from tablemend.migrations import migrate

    with db.connect(dsn) as conn:
        result = migrate(conn)
    if result.mode == "current":
        console.print("schema is current; nothing to do")
    else:
        verb = "installed schema (baseline of" if result.mode == "schema" else "applied ("
        console.print(f"{verb} {', '.join(result.applied)})")


# --- sandbox and demo (origin sandbox) ----------------------------------------------------------------------------

from tablemend.cli_sandbox import demo_cmd, sandbox_app  # noqa: E402  (registered here, defined there)

app.add_typer(sandbox_app, name="sandbox")
app.command("demo")(demo_cmd)


# --- doctor ---------------------------------------------------------------------------------------------------------

from tablemend.doctor.cli import doctor_app  # noqa: E402  (registered here, defined there)

app.add_typer(doctor_app, name="doctor")


# --- allocator: assign / unassign / hold / booking / sample -------------------------------------------------------

from tablemend.cli_allocator import (  # noqa: E402  (registered here, defined there)
    assign_cmd,
    booking_app,
    hold_app,
    sample_cmd,
    unassign_cmd,
)

app.command("assign")(assign_cmd)
app.command("unassign")(unassign_cmd)
app.add_typer(hold_app, name="hold")
app.add_typer(booking_app, name="booking")
app.command("sample")(sample_cmd)

# --- auto-assign: quote / hold best / repack ------------------------------------------------------------------------

from tablemend.cli_autoassign import hold_best_cmd, quote_cmd, repack_app  # noqa: E402

app.command("quote")(quote_cmd)
hold_app.command("best")(hold_best_cmd)
app.add_typer(repack_app, name="repack")


def main() -> NoReturn:
    """Console entry point. Typer's boxed usage errors (unknown option, missing argument, bad value) become one
    ``error [TMU01]: …`` line like every other error, with the command's --help as the hint; exit code 2."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # Ctrl-C / end of input at a prompt
        err_console.print("aborted")
        code = 1
    except typer.TyperException as exc:  # click's usage errors, vendored by typer
        code = exc.exit_code
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            ctx = getattr(exc, "ctx", None)
            hint = f"see '{ctx.command_path} --help'" if ctx is not None else None
            print_error(UsageError(exc.format_message(), hint=hint))
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
