"""JUnit XML (``--format junit``): the report CI servers (GitLab, Jenkins, Azure, CircleCI) show as a test run.

A scan is one ``<testsuite>`` per check that ran (named by code and title, its category a property). A check with
no finding is one passing ``<testcase>``; otherwise each finding is a ``<testcase>`` named by its id, so a CI page
lists every row to look at: a ``<failure>`` (type = level, message = the detail, text = the remediation) when the
finding is at or above ``--fail-on``, else a passing case with the detail in ``<system-out>``. The counts therefore
agree with the exit code: failures > 0 exactly when the scan exits 1. The gate is one suite with a case per
constraint: failed when it cannot be created, skipped when it does not apply.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence

from tablemend.doctor.gate import GateResult
from tablemend.doctor.render import TOOL, Report, RuleInfo, key_text, worst_of
from tablemend.doctor.rules import Finding, Level


def _properties(parent: ET.Element, values: dict[str, str]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=value)


def _suites(report: Report) -> ET.Element:
    root = ET.Element("testsuites", name=f"{TOOL} {report.command} {report.where}")
    return root


def _count(root: ET.Element) -> None:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        counts = {"tests": len(cases), "failures": sum(1 for c in cases if c.find("failure") is not None),
                  "errors": sum(1 for c in cases if c.find("error") is not None),
                  "skipped": sum(1 for c in cases if c.find("skipped") is not None)}
        for name, value in counts.items():
            suite.set(name, str(value))
            totals[name] += value
    for name in ("tests", "failures", "errors"):
        root.set(name, str(totals[name]))


def _text(root: ET.Element) -> str:
    _count(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _finding_case(suite: ET.Element, f: Finding, rule: RuleInfo | None, report: Report) -> None:
    category = rule.category if rule is not None else "unknown"
    title = rule.title if rule is not None else f.code
    case = ET.SubElement(suite, "testcase", name=f"{f.id} {title}", classname=f"{TOOL}.{category}.{f.code}")
    text = (f"{title} ({category}, {f.level.value}, {f.safety.value})\n{f.detail}\nrow: {key_text(f.key)}\n"
            f"database: {report.where}\nremediation:\n{f.remediation}")
    if report.fails(f):
        failure = ET.SubElement(case, "failure", type=f.level.value, message=f"{f.code} {title}: {f.detail}")
        failure.text = text
    else:
        ET.SubElement(case, "system-out").text = text


def scan(findings: Iterable[Finding], report: Report) -> tuple[str, Level | None]:
    """The JUnit XML of a scan, and the worst level found."""
    found = list(findings)
    by_code: dict[str, list[Finding]] = {}
    for f in found:
        by_code.setdefault(f.code, []).append(f)
    codes = list(report.rules) + sorted(set(by_code) - set(report.rules))
    root = _suites(report)
    for code in codes:
        rule = report.rule(code)
        title = rule.title if rule is not None else code
        suite = ET.SubElement(root, "testsuite", name=f"{code} {title}")
        _properties(suite, {"category": rule.category if rule else "unknown", "database": report.where,
                            "profile": report.profile or "", "scope": report.scope or "database"})
        items: Sequence[Finding] = by_code.get(code, ())
        if not items:
            ET.SubElement(suite, "testcase", name=f"{code} {title}",
                          classname=f"{TOOL}.{rule.category if rule else 'unknown'}.{code}")
        for f in items:
            _finding_case(suite, f, rule, report)
    return _text(root), worst_of(found)


def error(report: Report, code: str, message: str) -> str:
    """A run that failed before it had a report: one suite, one case with the error."""
    root = _suites(report)
    suite = ET.SubElement(root, "testsuite", name=f"{TOOL} {report.command}")
    case = ET.SubElement(suite, "testcase", name=report.command, classname=TOOL)
    ET.SubElement(case, "error", type=code, message=message).text = message
    return _text(root)


def gate(result: GateResult, report: Report) -> str:
    root = _suites(report)
    suite = ET.SubElement(root, "testsuite", name=f"{TOOL} doctor gate")
    _properties(suite, {"database": report.where, "profile": result.profile})
    for v in result.verdicts:
        c = v.constraint
        case = ET.SubElement(suite, "testcase", name=f"{c.key} ({c.name})", classname=f"{TOOL}.gate.{c.key}")
        if v.creatable is None:
            ET.SubElement(case, "skipped", message=v.note or "not applicable")
        elif not v.creatable:
            rows = "\n".join(f"{b.group}: " + ", ".join(str(r.get("row_id")) for r in b.rows) for b in v.blockers)
            failure = ET.SubElement(case, "failure", type="error", message=f"{c.definition} cannot be created on "
                                    f"{c.relation}: {v.groups} blocking group(s)")
            failure.text = f"{c.definition}\nblocking groups ({len(v.blockers)} of {v.groups} shown):\n{rows}"
    return _text(root)
