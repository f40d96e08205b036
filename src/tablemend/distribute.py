"""Distribute tablemend's schema on Citus by restaurant (``tablemend distribute``, docs/scale.md).

Run on the coordinator of a Citus cluster, on a database that ``tablemend migrate`` brought up to date. It refuses,
changing nothing, when the database has no Citus (:class:`~tablemend.errors.CitusMissing`), has pending migrations
(:class:`~tablemend.errors.SchemaNotMigrated`) or a schema that would not distribute
(:class:`~tablemend.errors.SchemaNotDistributable`, from :func:`tablemend.distribution.check`). Then, one step at a
time and skipping what is already done (so a second run, or a run after a failure, finishes the job):

1. ``restaurants`` becomes a distributed table by ``id``; every other table of ``public`` by ``restaurant_id``,
   co-located with it, parents before children (foreign keys between distributed tables need their target first);
2. every function of ``public`` is distributed: the restaurant-keyed ones (first argument ``p_restaurant_id``) with
   it as distribution argument, co-located with ``restaurants`` and ``force_delegation``, so a call, also inside a
   transaction block, is delegated to the node that holds the restaurant; the others are only propagated to every
   node (helpers, trigger functions, the origin's entries);
3. the ``allocations`` view is reported: Citus propagates it with the tables it reads (a view it kept local to the
   coordinator is named, so the operator can re-create it).

Citus runs the row-level triggers on the shards; it accepts tables with triggers only with
``citus.enable_unsafe_triggers``, set here for the distributing transaction alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

from tablemend import distribution, migrations, sqlfiles
from tablemend.db import Connection, translated
from tablemend.errors import CitusMissing, DistributeFailed, SchemaNotDistributable, SchemaNotMigrated, TablemendError

_Q = "distribute.sql"
ROOT = "restaurants"
TENANT_ARGUMENT = "p_restaurant_id"


def _q(name: str) -> LiteralString:
    return sqlfiles.query(name, _Q)


@dataclass(frozen=True)
class Step:
    """One thing distribute did (``done``) or found already done (``already``)."""

    kind: str  # "table", "function", "view"
    name: str
    how: str
    state: str


def citus_version(conn: Connection) -> str | None:
    """The Citus extension version installed in the database, or None."""
    with translated():
        row = conn.execute(_q("citus_version")).fetchone()
    return str(row["version"]) if row else None


def require_citus(conn: Connection) -> str:
    """The installed Citus version, or :class:`CitusMissing`."""
    version = citus_version(conn)
    if version is None:
        with translated():
            row = conn.execute(_q("citus_available")).fetchone()
        available = row is not None
        raise CitusMissing(
            "the server has no Citus: the citus extension is not installed in this database",
            details=f"database={conn.info.dbname} citus_available={'yes' if available else 'no'}",
            hint=("run CREATE EXTENSION citus on the coordinator (citus must be in shared_preload_libraries)"
                  if available else "install Citus on every node, or keep the single-server schema"))
    return version


def table_order(conn: Connection) -> list[str]:
    """The tables of ``public``: ``restaurants`` first, then every table after the tables its foreign keys name."""
    with translated():
        tables = [str(r["name"]) for r in conn.execute(_q("tables")).fetchall()]
        edges = [(str(r["child"]), str(r["parent"])) for r in conn.execute(_q("foreign_keys")).fetchall()]
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in edges:
        if child != parent and child in parents and parent in parents:
            parents[child].add(parent)
    order: list[str] = []
    while len(order) < len(tables):
        ready = sorted(t for t in tables if t not in order and parents[t] <= set(order))
        if not ready:
            raise DistributeFailed("the tables' foreign keys form a cycle",
                                   details="tables=" + ",".join(t for t in tables if t not in order))
        order.extend(sorted(ready, key=lambda t: (t != ROOT, t)))
    return order


def distribute(conn: Connection) -> list[Step]:
    """Distribute the schema (see the module's docstring); returns every step, done now or already. Idempotent."""
    require_citus(conn)
    waiting = migrations.pending(conn)
    if waiting:
        raise SchemaNotMigrated(f"{len(waiting)} tablemend migration(s) are not applied",
                                details="pending=" + ",".join(m.version for m in waiting),
                                hint="run tablemend migrate on the coordinator first")
    distribution.apply_plan_mode(conn)  # Citus is installed: the single server's forced generic plans go
    defects = distribution.check(conn)
    if defects:
        raise SchemaNotDistributable(
            f"the schema has {len(defects)} defect(s) that keep it from distributing by restaurant",
            details=" ".join(f"{d.cause}={d.subject}" for d in defects[:20]),
            hint="tablemend.distribution.check(conn) lists each with what is wrong")
    steps: list[Step] = []
    for table in table_order(conn):
        steps.append(_distribute_table(conn, table))
    with translated():
        functions = conn.execute(_q("functions")).fetchall()
    for f in functions:
        steps.append(_distribute_function(conn, str(f["signature"]), str(f["first_arg"]), f["colocated"],
                                          f["distributed"]))
    steps.append(_view_state(conn, "allocations"))
    return steps


def _run(conn: Connection, what: str, name: str, query: LiteralString, params: dict[str, str]) -> None:
    try:
        with translated(), conn.transaction():
            conn.execute("SELECT set_config('citus.enable_unsafe_triggers', 'on', true)")
            conn.execute(query, params)
    except TablemendError as exc:
        raise DistributeFailed(f"Citus refused to distribute {what} {name}: {exc.message}",
                               details=f"{what}={name} sqlstate={exc.sqlstate}", hint=exc.hint) from exc


def _distribute_table(conn: Connection, table: str) -> Step:
    with translated():
        row = conn.execute(_q("table_distribution"), {"table": table}).fetchone()
    column = "id" if table == ROOT else "restaurant_id"
    how = f"by {column}" + ("" if table == ROOT else f", co-located with {ROOT}")
    if row is not None:
        return Step("table", table, how, "already")
    params = {"table": table, "column": column}
    _run(conn, "table", table, _q("distribute_root" if table == ROOT else "distribute_tenant_table"), params)
    return Step("table", table, how, "done")


def _distribute_function(conn: Connection, signature: str, first_arg: str, colocated: object,
                         distributed: object) -> Step:
    keyed = first_arg == TENANT_ARGUMENT
    how = f"delegated by {TENANT_ARGUMENT}" if keyed else "propagated"
    if distributed and (not keyed or colocated):
        return Step("function", signature, how, "already")
    params = {"function": signature, "argument": TENANT_ARGUMENT, "root": ROOT}
    _run(conn, "function", signature, _q("distribute_keyed_function" if keyed else "propagate_function"), params)
    return Step("function", signature, how, "done")


def _view_state(conn: Connection, view: str) -> Step:
    # Citus propagates a view once the tables it reads are distributed; one it kept local is reported, not rebuilt
    with translated():
        row = conn.execute(_q("view_distributed"), {"view": view}).fetchone()
    if row is None:
        return Step("view", view, "absent", "already")
    return Step("view", view, "propagated" if row["distributed"] else "local to the coordinator", "already")
