"""``tablemend serve`` and ``tablemend keys …``: thin commands over :mod:`tablemend.api` and :mod:`tablemend.keys`."""

from __future__ import annotations

import logging
import sys
import uuid
from typing import Annotated

import typer

from tablemend import db
from tablemend.clitools import DsnOption, FormatOption, OutputFormat, console, err_console, handle_errors, render_rows
from tablemend.errors import UsageError

keys_app = typer.Typer(help="API keys of the HTTP service (stored hashed, scoped to restaurants and scopes).",
                       no_args_is_help=True)


def _restaurants(values: list[str] | None) -> list[uuid.UUID]:
    out = []
    for value in values or []:
        try:
            out.append(uuid.UUID(value.strip()))
        except ValueError:
            raise UsageError(f"invalid --restaurant {value!r}: not a UUID") from None
    return out


@keys_app.command("create")
@handle_errors
def keys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. backend-eu.")],
    restaurant: Annotated[list[str] | None, typer.Option("--restaurant", help="Restaurant id (repeatable).")] = None,
    all_restaurants: Annotated[bool, typer.Option("--all-restaurants", help="Every restaurant (an operator key).")]
    = False,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="read, assign, repair (repeatable).")] = None,
    dsn: DsnOption = None,
) -> None:
    """Create a key and print it once (only its hash is stored).

    Examples:
      tablemend keys create --name backend --restaurant R --scope read --scope assign
      tablemend keys create --name oncall --all-restaurants --scope read --scope repair
    """
    from tablemend import keys

    with db.connect(dsn, autocommit=True) as conn:
        created = keys.create(conn, name, restaurants=_restaurants(restaurant), all_restaurants=all_restaurants,
                              scopes=scope or ["read"])
    err_console.print(f"key {created.key.id} ({', '.join(sorted(created.key.scopes))}); shown once, store it now:")
    print(created.secret)


@keys_app.command("list")
@handle_errors
def keys_list(dsn: DsnOption = None, revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")]
              = False, fmt: FormatOption = OutputFormat.table) -> None:
    """List keys (prefix, restaurants, scopes; never the key)."""
    from tablemend import keys

    with db.connect(dsn, autocommit=True) as conn:
        rows = [k.as_row() for k in keys.list_keys(conn, include_revoked=revoked)]
    render_rows(rows, fmt, title="API keys")


@keys_app.command("revoke")
@handle_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see `tablemend keys list`).")],
                dsn: DsnOption = None) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    from tablemend import keys

    try:
        kid = uuid.UUID(key_id.strip())
    except ValueError:
        raise UsageError(f"invalid KEY_ID {key_id!r}: not a UUID") from None
    with db.connect(dsn, autocommit=True) as conn:
        key = keys.revoke(conn, kid)
    console.print(f"revoked {key.id} ({key.name})", highlight=False)


@handle_errors
def serve_cmd(
    dsn: DsnOption = None,
    host: Annotated[str, typer.Option("--host", envvar="TABLEMEND_HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", envvar="TABLEMEND_PORT", help="Port to listen on.", min=0,
                                      max=65535)] = 8080,
    sample: Annotated[bool, typer.Option("--sample", help="Load a demo restaurant when the database has none.")]
    = False,
    pool: Annotated[int, typer.Option("--pool", help="Allocator pool size.", min=1, max=100)] = 8,
    service_role: Annotated[str | None, typer.Option(
        "--service-role", envvar="TABLEMEND_SERVICE_ROLE", show_default=False,
        help="Role the allocator's functions run as, when it exists (default tablemend_service).")] = None,
    readonly_role: Annotated[str | None, typer.Option(
        "--readonly-role", envvar="TABLEMEND_READONLY_ROLE", show_default=False,
        help="Role reads (get_booking) run as, when it exists (default tablemend_readonly).")] = None,
) -> None:
    """Serve the HTTP API, the doctor and the operations page.

    PostgREST-compatible RPC at /rest/v1/rpc/<function>, the doctor under
    /doctor, the page at /, /healthz, /readyz, /metrics, /openapi.json. With no
    --dsn the embedded database is used (and migrated). With no API key in the
    database, a one-time admin key is printed. Ctrl-C / SIGTERM finish the
    requests in flight, then stop.

    Examples:
      tablemend serve --sample
      tablemend serve --dsn "$DATABASE_URL" --host 0.0.0.0 --port 8080
    """
    import uvicorn

    from tablemend import keys
    from tablemend.api import Service, Settings, create_app
    from tablemend.migrations import migrate

    real = db.resolve_dsn(dsn)
    with db.connect(real, autocommit=True) as conn:
        if dsn is None and not sample:
            migrate(conn)  # the embedded database is tablemend's own
        if sample:
            from tablemend.sample import ensure_schema, load, plan

            ensure_schema(conn)
            if not conn.execute("SELECT EXISTS (SELECT 1 FROM restaurants) AS x").fetchone()["x"]:  # type: ignore[index]
                load(conn, plan(seed=1, restaurants=1))
                err_console.print("loaded a demo restaurant (tablemend sample --restaurants 1)")
        if keys.active_count(conn) == 0:
            created = keys.create(conn, "serve-admin", all_restaurants=True, scopes=keys.SCOPES)
            err_console.print(f"no API key in the database: created admin key {created.key.id} (all restaurants, "
                              "read/assign/repair). Shown once; revoke it with `tablemend keys revoke`:")
            print(created.secret, flush=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    defaults = Settings()
    settings = Settings(service_role=service_role or defaults.service_role,
                        readonly_role=readonly_role or defaults.readonly_role)
    service = Service.open(real, settings, max_size=pool)
    app = create_app(service, close_on_shutdown=True)
    print(f"serving on http://{host}:{port}/ (database {db.describe_dsn(real)})", flush=True)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", timeout_graceful_shutdown=10)
