"""Reviewed plans, staging to production: a :class:`~tablemend.doctor.repairs.Plan` as a file, applied exactly.

``doctor plan --out plan.json`` writes :func:`document`: the findings (with the key columns their repair runs on), every
row change with the sha256 fingerprint of its before-image, and the SQL script. ``doctor repair --plan plan.json`` runs
:func:`apply`: in one transaction it takes the allocator's locks, compares every planned row with its fingerprint and
refuses, naming each row, if one moved on; then it runs the same findings' repairs, checks that they changed exactly
the planned rows, and journals the repair with the file's sha256. A thin layer over the plan / change structures:
the repair itself is :mod:`tablemend.doctor.repairs`'.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tablemend.db import Connection, translated
from tablemend.doctor import bulk, repairs
from tablemend.doctor import profile as profiles
from tablemend.doctor.changes import ChangeLog, Recorder, RowChange
from tablemend.doctor.rules import Context, Finding, Level, Safety
from tablemend.errors import PlanDrift, PlanFileInvalid, PlanMismatch, RepairRefused, TablemendError

FORMAT = "tablemend-doctor-plan/1"


def fingerprint(image: Mapping[str, Any] | None) -> str | None:
    """sha256 of a row image's canonical JSON; None for a row that does not exist."""
    if image is None:
        return None
    return hashlib.sha256(_canonical(image).encode()).hexdigest()


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def document(p: repairs.Plan) -> dict[str, Any]:
    """The plan as a JSON-ready document (what ``plan --out`` writes)."""
    ctx = p.context
    return {
        "format": FORMAT,
        "profile": p.profile,
        "context": {"restaurant_id": ctx.restaurant_id, "booking_id": ctx.booking_id,
                    "table_ids": list(ctx.table_ids), "start_at": ctx.start_at, "end_at": ctx.end_at,
                    "slot_id": ctx.slot_id, "idempotency_key": ctx.idempotency_key},
        "findings": [{**f.as_row(), "key": dict(f.key)} for f in p.selection.apply],
        "skipped": [{**f.as_row(), "reason": why} for f, why in p.selection.skipped],
        "changes": [{"relation": c.relation, "op": c.op, "pk": dict(c.pk), "changed": c.as_row()["changed"],
                     "before_sha256": fingerprint(c.before), "before": c.before, "after": c.after,
                     "findings": list(ids)} for c, ids in p.changes],
        "sql": p.sql(),
    }


def dumps(doc: Mapping[str, Any]) -> str:
    """The file's text (stable: sorted keys), so the same plan gives the same bytes and the same sha256."""
    return json.dumps(doc, sort_keys=True, indent=2, default=_json_default) + "\n"


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | uuid.UUID):
        return str(value) if not isinstance(value, dt.datetime) else value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Loaded:
    """A parsed plan file: its sha256, context, findings and planned changes (first before-image per row)."""

    sha256: str
    profile: str
    context: Context
    findings: tuple[Finding, ...]
    changes: tuple[dict[str, Any], ...]


def load(text: str, *, source: str = "plan") -> Loaded:
    """Parse and check a plan file; :class:`PlanFileInvalid` names what is wrong."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PlanFileInvalid(f"{source} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise PlanFileInvalid(f"{source} is not a doctor plan (format {found!r}, expected {FORMAT!r})",
                              hint="write one with `tablemend doctor plan … --out plan.json`")
    try:
        c = doc["context"]
        ctx = Context(restaurant_id=_uuid(c.get("restaurant_id")), booking_id=_uuid(c.get("booking_id")),
                      table_ids=tuple(uuid.UUID(t) for t in c.get("table_ids") or ()),
                      start_at=_instant(c.get("start_at")), end_at=_instant(c.get("end_at")),
                      slot_id=_uuid(c.get("slot_id")), idempotency_key=c.get("idempotency_key"))
        findings = tuple(_finding(f) for f in doc["findings"])
        changes = tuple(doc["changes"])
        for change in changes:
            if not {"relation", "op", "pk", "before_sha256", "changed"} <= change.keys():
                raise KeyError("changes[].relation/op/pk/before_sha256/changed")
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileInvalid(f"{source} is not a complete doctor plan: {exc}") from None
    for f, raw in zip(findings, doc["findings"], strict=True):
        if f.id != raw.get("id"):
            raise PlanFileInvalid(f"{source} was edited: finding {raw.get('id')} no longer matches its key",
                                  hint="make a fresh plan instead of editing one")
    return Loaded(sha256(text), str(doc.get("profile")), ctx, findings, changes)


def _uuid(value: object) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def _instant(value: object) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(str(value))


def _finding(row: Mapping[str, Any]) -> Finding:
    return Finding(code=str(row["code"]), level=Level(row["level"]), safety=Safety(row["safety"]),
                   restaurant_id=_uuid(row.get("restaurant")), booking_id=_uuid(row.get("booking")),
                   table_id=_uuid(row.get("table")), detail=str(row["detail"]),
                   remediation=str(row.get("remediation") or ""), key=dict(row["key"]),
                   metadata=dict(row.get("metadata") or {}))


def _row_name(relation: str, pk: Mapping[str, Any]) -> str:
    return f"{relation} {_canonical(dict(pk))}"


def drift(conn: Connection, prof: profiles.Profile, planned: Sequence[Mapping[str, Any]]) -> list[str]:
    """Planned rows whose current image (locked FOR UPDATE) differs from the planned before-image."""
    recorder = Recorder(conn, prof.catalog.relations, prof.name, prof.catalog.columns)
    seen: set[str] = set()
    moved: list[str] = []
    for change in planned:
        name = _row_name(change["relation"], change["pk"])
        if name in seen:  # a row changed twice: its first before-image is the one the database must match
            continue
        seen.add(name)
        now = recorder.current(change["relation"], change["pk"])
        if fingerprint(now) != change["before_sha256"]:
            state = "is gone" if now is None else ("exists now" if change["before_sha256"] is None else "changed")
            moved.append(f"{name} {state}")
    return moved


def _shape(changes: Sequence[tuple[str, Mapping[str, Any], str, Sequence[str]]]) -> list[str]:
    return [f"{op} {_row_name(rel, pk)} ({', '.join(cols)})" for rel, pk, op, cols in changes]


def rounds(findings: Sequence[Finding]) -> list[list[Finding]]:
    """The plan's findings in the order its repair ran them: a repair applies each round's findings check by check,
    then re-detects what it exposed (a later round, possibly of a check seen before). A new round starts where a check
    reappears after another one, so every round's statements run in the planned order."""
    out: list[list[Finding]] = []
    for f in findings:
        current = out[-1] if out else None
        if current is None or (f.code != current[-1].code and any(g.code == f.code for g in current)):
            out.append([f])
        else:
            current.append(f)
    return out


def apply(conn: Connection, loaded: Loaded, *, timeouts: repairs.Timeouts | None = None) -> uuid.UUID:
    """Apply exactly the reviewed plan in one journalled transaction; the repair id."""
    timeouts = timeouts or repairs.Timeouts()
    if not loaded.findings:
        raise RepairRefused("the plan repairs nothing: it has no findings to apply",
                            hint="its skipped findings need --include or a person; make a plan that includes them")
    try:
        with translated(), conn.transaction():
            repairs.begin(conn, timeouts, loaded.context)
            prof = profiles.detect(conn)
            if prof.name != loaded.profile:
                raise PlanFileInvalid(f"the plan is for a {loaded.profile!r} database, this one is {prof.name!r}")
            selection = repairs.Selection(loaded.findings, ())
            repairs.lock_for(conn, loaded.context, selection)
            moved = drift(conn, prof, loaded.changes)
            if moved:
                raise PlanDrift(f"the database moved on since the plan: {len(moved)} planned row(s) no longer match "
                                f"their before-image; nothing was changed", details="; ".join(moved),
                                hint="make a fresh plan here (`tablemend doctor plan … --out plan.json`), review it "
                                "and apply that one")
            log = ChangeLog(conn, prof.catalog.relations, prof.name, prof.catalog.columns)
            for batch in rounds(loaded.findings):
                bulk.apply(conn, prof, batch, log)
            done = list(log.stream())
            want = _shape([(c["relation"], c["pk"], c["op"], c["changed"]) for c in loaded.changes])
            got = _shape([(c.relation, c.pk, c.op, c.as_row()["changed"]) for c, _ in done])
            if sorted(want) != sorted(got):
                extra = sorted(set(got) - set(want))
                absent = sorted(set(want) - set(got))
                raise PlanMismatch("the plan's repairs changed other rows than the plan lists; nothing was changed",
                                   details="; ".join([*(f"unplanned: {r}" for r in extra),
                                                      *(f"planned, not changed: {r}" for r in absent)]),
                                   hint="make a fresh plan here and review it")
            plan = repairs.Plan(prof.name, loaded.context, selection, tuple(done), catalog=prof.catalog)
            return repairs.journal_plan(conn, prof, plan, log, None, plan_sha256=loaded.sha256)
    except TablemendError as exc:
        raise repairs.timeouts_as_lock_errors(exc) from exc.__cause__


def changes_of(loaded: Loaded) -> list[RowChange]:
    """The planned changes as row changes (for a preview)."""
    return [RowChange(c["relation"], c["op"], c["pk"], c.get("before"), c.get("after")) for c in loaded.changes]

