"""TMD017: one of tablemend's integrity triggers is disabled.

Bad: ``ALTER TABLE booking_table_assignments DISABLE TRIGGER booking_table_assignments_after_delete`` (left behind by a
bulk load or a manual fix). With it off, deleted assignments leave ledger rows and zone locks behind and lose their
history — the origin's failure states become possible again.

Not repaired automatically (a schema change): enable the trigger, then run ``tablemend doctor scan``.
"""

from __future__ import annotations

from tablemend.doctor.rules import Category, Check, Level, Safety, register


@register
class IntegrityTriggerDisabled(Check):
    code = "TMD017"
    name = "integrity-trigger-disabled"
    title = "Integrity trigger disabled"
    category = Category.schema
    level = Level.error
    safety = Safety.human
    profiles = ("tablemend",)
    remediation = """
ALTER TABLE public.<relation> ENABLE TRIGGER <trigger>;
"""
