"""TMD032: a foreign key into a table the doctor's repairs delete from has no index on its referencing columns.

Bad: ``booking_table_assignments.allocation_id REFERENCES allocations (id) ON DELETE SET NULL`` with no index on
``allocation_id`` (the origin's schema). Every ``allocations`` row deleted — by a repair, or by the origin's own
``sync_table_hold_windows`` trigger when a hold member goes — makes PostgreSQL look for referencing rows with a
sequential scan of the whole assignment table, so a repair that deletes N allocations reads that table N times:
hours at 500,000 bookings. The allocator does not fail; the repair (and the origin's unassign) crawl.

Remedy: ``CREATE INDEX CONCURRENTLY … (allocation_id)``, which ``tablemend doctor repair --create-indexes`` runs
first (outside the repair transaction, journalled, dropped again by ``undo``). Reported when the referencing table
holds at least 50,000 rows; ``plan`` and ``repair`` estimate the cost of repairing without the index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import ClassVar

from tablemend.db import Connection, translated
from tablemend.doctor.rules import Category, Check, Context, Finding, Level, Safety, register


@register
class UnindexedForeignKey(Check):
    code = "TMD032"
    name = "unindexed-foreign-key"
    title = "Unindexed foreign key into a table repairs delete from"
    category = Category.performance
    level = Level.info
    safety = Safety.human
    profiles = ("origin", "tablemend")
    remediation = """
CREATE INDEX CONCURRENTLY <table>_<columns>_idx ON <table> (<columns>);  -- or: doctor repair --create-indexes
"""
    #: smaller referencing tables are scanned fast enough not to matter
    min_rows: ClassVar[int] = 50_000

    def detect(self, conn: Connection, ctx: Context) -> Iterator[Finding]:
        with translated():
            rows = conn.execute(self.sql()["detect"], {**ctx.params(), "min_rows": self.min_rows}).fetchall()
        for row in rows:
            yield self.to_finding(row)

    def with_remediation(self, finding: Finding) -> Finding:
        statement = finding.metadata.get("index_sql")
        return dataclasses.replace(finding, remediation=str(statement) if statement else self.remediation.strip())
