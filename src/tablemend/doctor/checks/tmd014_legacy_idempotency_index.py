"""TMD014: the legacy partial unique index on (booking_id, idempotency_key) is still installed.

Bad: ``CREATE UNIQUE INDEX … ON booking_table_assignments (booking_id, idempotency_key) WHERE idempotency_key IS NOT
NULL`` (dropped by M/20251028064000 on patched databases). Every multi-table call with a key collides with itself on
the second table: ``assignment duplicate for table <second table>`` (state D3).

Not repaired automatically (a schema change): drop the index.
"""

from __future__ import annotations

import dataclasses

from tablemend.doctor.rules import Category, Check, ErrorSignature, Finding, Level, Safety, register


@register
class LegacyIdempotencyIndex(Check):
    code = "TMD014"
    name = "legacy-idempotency-index"
    title = "Legacy (booking_id, idempotency_key) unique index"
    category = Category.schema
    level = Level.error
    safety = Safety.human
    errors = (ErrorSignature("P0001", "assign_tables_atomic_v2 assignment duplicate for table %"),)
    remediation = """
DROP INDEX public.<index>;  -- the (booking_id, idempotency_key) unique index (as M/20251028064000 does)
"""

    def with_remediation(self, finding: Finding) -> Finding:
        """The statement with this finding's index in it (its name is known: a placeholder cannot be run)."""
        index = str(finding.key.get("index") or "")
        if not index:
            return super().with_remediation(finding)
        qualified = index if "." in index else f"public.{index}"  # regclass text, quoted where it must be
        return dataclasses.replace(finding, remediation=f"DROP INDEX {qualified};  -- as M/20251028064000 does")
