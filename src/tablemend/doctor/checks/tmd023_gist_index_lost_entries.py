"""TMD023: a GiST index of an occupancy table no longer returns some of the table's live rows.

Bad: the GiST rescan bug (TMD022, docs/allocator.md §7) marked live entries of ``booking_table_assignments_no_overlap``
(or another occupancy index: hold members; the origin's assignments, hold windows, allocations) dead. The rows are
still in the table, but lookups and the exclusion constraint miss them: a second booking of the same table and time
commits without an error. Found by counting each table's rows per restaurant sequentially and through the index.
That reads every occupancy index whole and its table again (several times a read of the tables), so a scan of the
whole database or of one restaurant runs it only when asked: ``tablemend doctor scan --verify-indexes`` (or naming it:
``--check TMD023``); a ``--booking`` scan and ``tablemend doctor repair`` run it always.

Repaired: ``REINDEX INDEX CONCURRENTLY`` by ``tablemend doctor repair --all-safe`` (or ``--include`` the finding),
after the repair transaction, journalled as an action that has no undo; the live-overlap check runs before the
rebuild (overlapping rows are named and the rebuild refused, since it would fail on them) and again after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psycopg import sql

from tablemend.db import Connection
from tablemend.doctor import profile as profiles
from tablemend.doctor import reindex
from tablemend.doctor.rules import Category, Check, Context, Finding, Level, Safety, register
from tablemend.errors import RepairRefused


@register
class GistIndexLostEntries(Check):
    code = "TMD023"
    name = "gist-index-lost-entries"
    title = "Occupancy index lost live entries"
    category = Category.server
    level = Level.error
    safety = Safety.safe  # a rebuild changes no row
    profiles = ("origin", "tablemend")
    remediation = """
REINDEX INDEX CONCURRENTLY public.<index>;  -- after checking for live overlaps; tablemend doctor repair does both
"""

    def detect(self, conn: Connection, ctx: Context) -> Iterator[Finding]:
        for idx in reindex.present(conn, profiles.detect(conn).name):
            result = reindex.compare(conn, idx, ctx.restaurant_id)
            if not result.checked or not result.lost:
                continue
            restaurants = result.restaurants
            only = next(iter(restaurants)) if len(restaurants) == 1 else None
            per = ", ".join(f"restaurant {r}: {n}" for r, n in restaurants.items())
            row: dict[str, Any] = {
                "restaurant_id": only,
                "detail": f"index {idx.index} on {idx.relation} misses {result.lost} live row(s) ({per}): lookups "
                          "and the exclusion constraint do not see them",
                "key": {"index": idx.qualified},
                "metadata": {"relation": f"public.{idx.relation}", "lost": result.lost,
                             "restaurants": {str(r): n for r, n in restaurants.items()},
                             "missing_rows": {str(r): list(ids) for r, ids in result.missing.items()}},
            }
            yield self.to_finding(row)

    def repair(self, conn: Connection, finding: Finding) -> None:
        raise RepairRefused(f"{finding.id} is rebuilt outside the repair transaction",
                            hint="tablemend doctor repair runs the rebuild after its transaction")

    def manual_sql(self, finding: Finding) -> str | None:
        name = str(finding.key.get("index", "")).removeprefix("public.")
        statement = sql.SQL("REINDEX INDEX CONCURRENTLY {};").format(sql.Identifier("public", name))
        return ("-- outside a transaction block, after checking the table for live overlaps\n"
                + statement.as_string(None))
