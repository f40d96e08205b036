"""Complete or refuse: how every doctor transaction reads.

A doctor read runs with ``row_security = off`` (pg_dump's rule, ``SET LOCAL``: no session state), so a role that
row-level security would filter gets one :class:`~tablemend.errors.RowSecurityRefused` naming the tables, never a
subset reported as the whole. The narrower scope is explicit: under ``--restaurant R`` the doctor reads as R
(``app.restaurant_id``, the origin's tenant setting, again transaction-local), checks that it sees R itself and every
row R's visible rows refer to, and every output says it covers R only.
"""

from __future__ import annotations

import uuid

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.errors import RestaurantScopeIncomplete, RowSecurityRefused

_SQL = "doctor/access.sql"
_WAYS_OUT = ("connect as a role that owns these tables or has BYPASSRLS (the doctor reads with row_security = off, "
             "as pg_dump does), or scope the run explicitly with --restaurant R")


def begin(conn: Connection, restaurant_id: uuid.UUID | None = None) -> None:
    """Set the current transaction's read rules; refuse (changing nothing) when the reads could be incomplete.

    ``restaurant_id`` is an *explicit* scope only (``--restaurant``); a booking's own restaurant is not one.
    """
    with translated():
        if restaurant_id is None:
            conn.execute(sqlfiles.query("complete_reads", _SQL))
            filtered = _filtered(conn)
            if filtered:
                raise RowSecurityRefused(
                    f"row-level security would hide rows of {', '.join(filtered)} from the doctor; it refuses to "
                    "report a subset as the whole database", details=f"tables: {', '.join(filtered)}",
                    hint=_WAYS_OUT)
            return
        conn.execute(sqlfiles.query("restaurant_reads", _SQL), {"restaurant_id": str(restaurant_id)})
        if _filtered(conn):
            _check_restaurant(conn, restaurant_id)


def _filtered(conn: Connection) -> list[str]:
    return [str(r["relation"]) for r in conn.execute(sqlfiles.query("filtered_relations", _SQL)).fetchall()]


def _check_restaurant(conn: Connection, restaurant_id: uuid.UUID) -> None:
    """Under row-level security: R must be visible, and no visible row of R may point at a row the doctor cannot see."""
    params = {"restaurant_id": str(restaurant_id)}
    hint = f"check the row-level security policies for restaurant {restaurant_id}, or {_WAYS_OUT.split(', or ')[0]}"
    row = conn.execute(sqlfiles.query("restaurant_visible", _SQL), params).fetchone()
    if not (row and row["ok"]):
        raise RestaurantScopeIncomplete(f"restaurant {restaurant_id} is not visible to this role under "
                                        "row-level security (or does not exist)", hint=hint)
    origin = conn.execute(sqlfiles.query("has_origin_tables", _SQL)).fetchone()
    if not (origin and origin["ok"]):
        return
    hidden = [f"{r['relation']} ({r['n']})" for r in
              conn.execute(sqlfiles.query("restaurant_hidden_references", _SQL), params).fetchall() if r["n"]]
    if hidden:
        raise RestaurantScopeIncomplete(
            f"under row-level security the doctor sees rows of restaurant {restaurant_id} that refer to rows it "
            f"cannot see: {', '.join(hidden)}", hint=hint)


def scope_note(restaurant_id: uuid.UUID | None) -> str | None:
    """What every output says under an explicit restaurant scope."""
    return None if restaurant_id is None else f"covers restaurant {restaurant_id} only"
