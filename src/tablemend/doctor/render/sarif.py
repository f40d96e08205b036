"""SARIF 2.1.0 (``--format sarif``): the OASIS static-analysis format code-scanning services and CI tools read.

One run: ``tool.driver`` names tablemend, its version and every rule that ran (id = check code, title, the rule's
docstring, category and default level); each finding is a result with its rule, level (``info`` → ``note``), a
message naming the rows, a *logical* location (the database relation and the row key: a finding has no file), a
fingerprint that stays the same for the same state across runs (the finding id) and the remediation in its
properties. ``invocations`` carries the exit code; ``run.properties`` the database, profile and scope. An error is a
run with ``executionSuccessful: false`` and the error as a tool execution notification, so a CI upload step still
gets a valid log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tablemend.doctor.gate import GateResult, Verdict
from tablemend.doctor.render import DOCS, TOOL, Report, RuleInfo, key_text, worst_of
from tablemend.doctor.rules import Finding, Level

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
LEVELS = {Level.error: "error", Level.warning: "warning", Level.info: "note"}
#: the fingerprint's name and version (bump the version if the finding id ever changes its recipe)
FINGERPRINT = "tablemendFindingId/v1"


def _driver(report: Report, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": TOOL, "version": report.version, "semanticVersion": report.version,
            "informationUri": DOCS, "rules": rules}


def rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    summary = rule.description.split("\n", 1)[0]
    return {
        "id": rule.code,
        "name": "".join(word.capitalize() for word in rule.name.split("-")),  # SARIF wants a Pascal-case name
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": summary},
        "help": {"text": f"{rule.description}\n\nManual remediation:\n{rule.remediation}",
                 "markdown": f"{rule.description}\n\nManual remediation:\n\n```sql\n{rule.remediation}\n```"},
        "defaultConfiguration": {"level": LEVELS[rule.level]},
        # no helpUri: SARIF wants an absolute URI there, and the docs ship with the project (properties.docs)
        "properties": {"category": rule.category, "safety": rule.safety, "tags": [rule.category, rule.safety],
                       "slug": rule.name, "docs": rule.anchor},
    }


def _location(f: Finding, rule: RuleInfo | None) -> dict[str, Any]:
    key = key_text(f.key) or f.id
    relation = rule.relation if rule is not None else None
    if relation is not None:
        where = {"name": key, "fullyQualifiedName": f"{relation}({key})", "kind": "row"}
    else:  # a catalog object or the server, named by the key itself
        where = {"name": key, "fullyQualifiedName": key, "kind": "object"}
    return {"logicalLocations": [where]}


def result(f: Finding, rule: RuleInfo | None, index: int | None) -> dict[str, Any]:
    title = rule.title if rule is not None else f.code
    out: dict[str, Any] = {"ruleId": f.code}
    if index is not None:
        out["ruleIndex"] = index
    out.update({
        "level": LEVELS[f.level],
        "message": {"text": f"{title}: {f.detail}"},
        "locations": [_location(f, rule)],
        "partialFingerprints": {FINGERPRINT: f.id},
        "properties": {"findingId": f.id, "title": title, "category": rule.category if rule else None,
                       "safety": f.safety.value, "restaurant": f.restaurant_id, "booking": f.booking_id,
                       "table": f.table_id, "key": dict(f.key), "remediation": f.remediation,
                       "metadata": dict(f.metadata)},
    })
    return out


def _run(report: Report, driver_rules: list[dict[str, Any]], results: list[dict[str, Any]], *, exit_code: int,
         ok: bool = True, notifications: list[dict[str, Any]] | None = None,
         properties: dict[str, Any] | None = None) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": ok, "exitCode": exit_code}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "tool": {"driver": _driver(report, driver_rules)},
        "automationDetails": {"id": f"{TOOL}/{report.command.replace(' ', '-')}/{report.where}/"},
        "invocations": [invocation],
        "results": results,
        "properties": {"command": report.command, "database": dict(report.database), "profile": report.profile,
                       "scope": report.scope or "database", **(properties or {})},
    }


def log(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$schema": SCHEMA, "version": VERSION, "runs": runs}


def scan(findings: Iterable[Finding], report: Report) -> tuple[dict[str, Any], Level | None]:
    """The SARIF log of a scan, and the worst level found."""
    found = list(findings)
    worst = worst_of(found)
    codes = list(report.rules) + sorted({f.code for f in found} - set(report.rules))
    infos = {code: report.rule(code) for code in codes}
    known = [code for code in codes if infos[code] is not None]
    index = {code: n for n, code in enumerate(known)}
    descriptors = [rule_descriptor(infos[code]) for code in known]  # type: ignore[arg-type]
    results = [result(f, infos.get(f.code), index.get(f.code)) for f in found]
    return log([_run(report, descriptors, results, exit_code=report.exit_code(worst))]), worst


def error(report: Report, code: str, message: str, exit_code: int) -> dict[str, Any]:
    """A log for a run that failed before it had a report: no results, the error as a notification."""
    note = {"level": "error", "message": {"text": message}, "descriptor": {"id": code}}
    return log([_run(report, [], [], exit_code=exit_code, ok=False, notifications=[note])])


# --- gate -------------------------------------------------------------------------------------------------------


def _gate_rule(v: Verdict) -> dict[str, Any]:
    c = v.constraint
    return {"id": c.key, "name": "".join(w.capitalize() for w in c.name.split("_")),
            "shortDescription": {"text": f"{c.kind} constraint {c.name} can be created"},
            "fullDescription": {"text": f"{c.definition} on {c.relation}"},
            "defaultConfiguration": {"level": "error"},
            "properties": {"category": "schema", "constraint": c.name, "relation": c.relation, "kind": c.kind,
                           "docs": f"{DOCS}#pre-migration-gate"}}


def gate(result_: GateResult, report: Report) -> dict[str, Any]:
    """One result per blocking group (duplicates, an overlapping pair, an unindexable row) of each constraint that
    cannot be created; counts beyond ``--limit`` are in the rule's result properties."""
    rules = [_gate_rule(v) for v in result_.verdicts]
    results: list[dict[str, Any]] = []
    for n, v in enumerate(result_.verdicts):
        c = v.constraint
        for b in v.blockers:
            ids = [str(r.get("row_id")) for r in b.rows]
            results.append({
                "ruleId": c.key, "ruleIndex": n, "level": "error",
                "message": {"text": f"{c.definition} cannot be created on {c.relation}: {b.group}; rows "
                                    f"{', '.join(ids)}"},
                "locations": [{"logicalLocations": [{"name": f"row_id={i}", "fullyQualifiedName":
                                                     f"{c.relation}(row_id={i})", "kind": "row"}]} for i in ids],
                "partialFingerprints": {"tablemendGateGroup/v1": f"{c.key}:{','.join(sorted(ids))}"},
                "properties": {"group": b.group, "rows": [dict(r) for r in b.rows], "blocking_groups": v.groups},
            })
    summary = {"creatable": result_.creatable,
               "constraints": {v.constraint.key: {"applicable": v.applicable, "creatable": v.creatable,
                                                  "blocking_groups": v.groups, "note": v.note}
                               for v in result_.verdicts}}
    return log([_run(report, rules, results, exit_code=0 if result_.creatable else 1, properties=summary)])
