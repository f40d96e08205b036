"""The ``tablemend`` command. Thin: each command calls the library, then formats the result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.main

from tablemend import __version__
from tablemend import config as settings
from tablemend.clitools import (
    DsnOption,
    FormatOption,
    OutputFormat,
    announce_databases,
    console,
    err_console,
    escape,
    fail,
    handle_errors,
    print_error,
    render_json,
    render_rows,
)
from tablemend.errors import TablemendError, UsageError

if TYPE_CHECKING:
    from tablemend.integrity import ServerCheck

app = typer.Typer(
    name="tablemend",
    help="Restaurant table allocator on PostgreSQL, and a doctor for broken multi-table assignments.\n\n"
    "The server: --dsn, else $DATABASE_URL, else libpq's PG* variables (PGHOST,\n"
    "PGDATABASE, PGUSER, PGSERVICE, ...), else an embedded PostgreSQL cluster (see\n"
    "tablemend db). The first stderr line of every command names the database it\n"
    "works on. Each command has --help.\n\n"
    "Examples:\n"
    "  tablemend demo\n"
    "  tablemend doctor scan --dsn \"$DATABASE_URL\"\n"
    "  tablemend assign BOOKING TABLE_1 TABLE_2 --adjacency",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
db_app = typer.Typer(help="Manage the embedded PostgreSQL cluster (in $TABLEMEND_HOME); check a server for the "
                     "GiST rescan bug.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        console.print(f"tablemend {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    config: Annotated[str | None, typer.Option(
        "--config", envvar="TABLEMEND_CONFIG", show_default=False,
        help="Settings file (tablemend.toml, or pyproject.toml with \\[tool.tablemend]). Default: the closest one "
        "from the current directory upwards. Precedence: option > env var > file > default.")] = None,
    no_config: Annotated[bool, typer.Option("--no-config", envvar="TABLEMEND_NO_CONFIG",
                                            help="Ignore configuration files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", envvar="TABLEMEND_QUIET",
                                        help="Only results and errors: no progress, notes, `database:` line or "
                                        "summaries on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", envvar="TABLEMEND_VERBOSE",
                                          help="Also the time each check and each phase takes (stderr).")] = False,
) -> None:
    """Global options."""
    from tablemend import verbosity

    if ctx.resilient_parsing:  # shell completion: read no file, say nothing
        return
    try:
        loaded = settings.load(ctx.command, settings.locate(config, disabled=no_config))
    except TablemendError as exc:
        fail(exc)
    ctx.meta[_SETTINGS] = loaded
    ctx.default_map = loaded.default_map
    given = {"quiet": quiet, "verbose": verbose}
    for name in given:
        source = ctx.get_parameter_source(name)
        if (source is None or source.name == "DEFAULT") and name in loaded.root:
            given[name] = loaded.root[name]
    if given["quiet"] and given["verbose"]:
        fail(UsageError("--quiet and --verbose contradict each other", hint="give one of them"))
    verbosity.set_level(verbosity.Level.quiet if given["quiet"] else
                        verbosity.Level.verbose if given["verbose"] else verbosity.Level.normal)
    err_console.quiet = given["quiet"]
    announce_databases()  # quiet prints nothing (err_console is quiet); the JSON envelope still names the database


#: where the root callback keeps this run's settings (click's ``ctx.meta`` is shared by every context of a run)
_SETTINGS = "tablemend.settings"


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
    for message in cluster.messages:  # recoveries, and what it changed on the machine as root
        err_console.print(f"[yellow]note:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)
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
    check = _server_check(status.url) if status.running and status.url else None
    if fmt is OutputFormat.json:
        render_json({**asdict(status), "home": str(status.home),
                     "gist_rescan": None if check is None else check.as_dict()})
    else:
        console.print(f"home:        {status.home}")
        console.print(f"initialized: {status.initialized}")
        where = f" (pid {status.pid}, port {status.port})" if status.running else ""
        console.print(f"running:     {status.running}{where}")
        if status.version:
            console.print(f"version:     PostgreSQL {status.version}")
        if check is not None:
            console.print(f"gist rescan: {check.summary()}", highlight=False)
    raise typer.Exit(0 if status.running else 1)


def _server_check(url: str) -> ServerCheck:
    from tablemend import db, integrity

    with db.connect(url, autocommit=True) as conn:
        return integrity.server_check(conn)


@db_app.command("check")
@handle_errors
def db_check(dsn: DsnOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """Probe the server for the GiST rescan bug now; set the workaround from it.

    Run it after a server upgrade. The self-test runs in a transaction that is
    rolled back (temporary objects only). The verdict is recorded, and when the
    database has tablemend's schema the allocator functions' enable_indexscan
    is set from it (off only where the bug is). Exit code 0 when the server is
    fixed, 1 when it is affected (docs/allocator.md §7).

    Examples:
      tablemend db check
      tablemend db check --dsn "$DATABASE_URL" -f json
    """
    from tablemend import db, integrity

    with db.connect(dsn, autocommit=True) as conn:
        check = integrity.require_probe(conn)
        state = integrity.apply_workaround(conn, check) if integrity.workaround_state(conn) else {}
    if fmt is OutputFormat.json:
        render_json({"gist_rescan": check.as_dict(), "functions": state})
    else:
        console.print(f"gist rescan: {check.summary()}", highlight=False)
        if state:
            off = sum(state.values())
            console.print(f"workaround:  enable_indexscan = off in {off} of {len(state)} allocator functions",
                          highlight=False)
        else:
            console.print("workaround:  no tablemend schema here (nothing to set)")
    raise typer.Exit(0 if check.verdict is integrity.Verdict.fixed else 1)


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
    if result.server is not None:
        workaround = "on" if result.server.workaround else "off"
        console.print(f"gist rescan: {result.server.summary()}; enable_indexscan workaround {workaround}",
                      highlight=False)


@app.command("distribute")
@handle_errors
def distribute_cmd(dsn: DsnOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """Distribute tablemend's schema on Citus by restaurant (idempotent).

    Run on the coordinator after migrate: tables by restaurant_id, co-located,
    parents first; restaurant-keyed functions delegated by p_restaurant_id;
    the rest propagated. Refuses, changing nothing, on a server without Citus
    (TMS01) or a schema that would not distribute (TMS02). docs/scale.md.
    """
    from tablemend import db
    from tablemend.distribute import distribute

    with db.connect(dsn, autocommit=True) as conn:
        steps = distribute(conn)
    rows = [{"kind": s.kind, "name": s.name, "how": s.how, "state": s.state} for s in steps]
    if fmt is OutputFormat.json:
        render_json(rows)
        return
    done = sum(1 for s in steps if s.state == "done")
    console.print(f"distributed {done} object(s); {len(steps) - done} already were")
    render_rows(rows, fmt)


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


# --- HTTP service: serve / keys -----------------------------------------------------------------------------------

from tablemend.cli_service import keys_app, serve_cmd  # noqa: E402  (registered here, defined there)

app.command("serve")(serve_cmd)
app.add_typer(keys_app, name="keys")


def _plain_flags(command: Any) -> Any:
    """Boolean flags take no value: without this, typer's help shows them as `--adjacency <bool>`, which invites
    `--adjacency true B T` (and `true` becomes the booking id)."""
    for param in getattr(command, "params", ()):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in (getattr(command, "commands", None) or {}).values():
        _plain_flags(sub)
    return command


def command() -> Any:
    """The whole command tree as click runs it: plain boolean flags, and every option's environment twin."""
    return _plain_flags(settings.add_env_twins(typer.main.get_command(app)))


def _from_settings(exc: Exception) -> TablemendError | None:
    """A value from the configuration file that its option refused: the typed error naming the file and key."""
    ctx, param = getattr(exc, "ctx", None), getattr(exc, "param", None)
    if ctx is None or param is None or param.name is None:
        return None
    source = ctx.get_parameter_source(param.name)
    loaded = ctx.meta.get(_SETTINGS)
    if source is None or source.name != "DEFAULT_MAP" or loaded is None:
        return None
    path = ctx.command_path.split(" ", 1)[1] if " " in ctx.command_path else ""
    return settings.bad_value(loaded, path, param.name, exc.format_message())  # type: ignore[attr-defined]


def main() -> NoReturn:
    """Console entry point. Typer's boxed usage errors (unknown option, missing argument, bad value) become one
    ``error [TMU01]: …`` line like every other error, with the command's --help as the hint; exit code 2."""
    try:
        code = command()(standalone_mode=False)
    except typer.Abort:  # Ctrl-C / end of input at a prompt
        err_console.print("aborted")
        code = 1
    except typer.TyperException as exc:  # click's usage errors, vendored by typer
        code = exc.exit_code
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            ctx = getattr(exc, "ctx", None)
            hint = f"see '{ctx.command_path} --help'" if ctx is not None else None
            print_error(_from_settings(exc) or UsageError(exc.format_message(), hint=hint))
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
