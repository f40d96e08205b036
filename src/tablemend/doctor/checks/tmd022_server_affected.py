"""TMD022: the server has the GiST rescan bug, so exclusion constraints can miss live rows.

Bad: PostgreSQL 15.18 or 18.6 (measured; any build whose self-test fails): a plain GiST index scan that stops early
and is rescanned in the same statement marks a live entry of the index dead. Lookups and the exclusion constraint's own
check then miss that row, and an overlapping booking can commit (docs/allocator.md §7).

Not repaired by the doctor (the server binary is the defect): upgrade PostgreSQL to a minor release whose self-test
passes (measured fixed: 15.20), run ``tablemend db check``, and look for damage with ``tablemend doctor scan --check
TMD023``.
"""

from __future__ import annotations

from collections.abc import Iterator

from tablemend import integrity
from tablemend.db import Connection, translated
from tablemend.doctor.rules import Category, Check, Context, Finding, Level, Safety, register


@register
class ServerAffected(Check):
    code = "TMD022"
    name = "server-gist-rescan-bug"
    title = "Server has the GiST rescan bug"
    category = Category.server
    level = Level.warning
    safety = Safety.human
    profiles = ("origin", "tablemend")
    remediation = f"""
Upgrade PostgreSQL to a minor release known fixed (measured: {integrity.KNOWN_FIXED}; affected: \
{", ".join(integrity.KNOWN_AFFECTED)}), then run `tablemend db check` (it re-probes and turns the workaround off).
Meanwhile tablemend runs its allocator functions and pool with enable_indexscan = off (bitmap scans stay), which keeps
its own sessions from causing the damage; other clients' plain GiST scans still can. Run `tablemend doctor scan --check
TMD023` regularly: a damaged index is rebuilt with REINDEX INDEX CONCURRENTLY by `tablemend doctor repair`.
"""

    def detect(self, conn: Connection, ctx: Context) -> Iterator[Finding]:
        """The probe's verdict (from the cache: a scan's snapshot is read-only, so the scanner probes before it)."""
        check = integrity.cached(conn)
        if check is None or check.verdict is not integrity.Verdict.affected:
            return
        with translated():
            row = conn.execute(self.sql()["detect"], {
                "server_version": check.server_version, "heap_rows": check.heap_rows,
                "index_rows": check.index_rows, "cached": check.cached}).fetchone()
        if row is not None:
            yield self.to_finding(row)
