"""Output formats of the doctor's ``scan`` and ``gate``, one module per format: ``json`` (the envelope, streamed),
``table``, ``github`` (workflow annotations), ``sarif`` (SARIF 2.1.0) and ``junit`` (JUnit XML).

Every renderer takes the findings (any iterable: a filter such as a baseline can sit in front) and a :class:`Report`
with what the output says about the run: tool version, command, database, profile, scope and the rules that ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tablemend import __version__
from tablemend.doctor.rules import Check, Finding, Level

TOOL = "tablemend"
#: where the rules are documented (a path in the project: the docs ship with it, there is no public site)
DOCS = "docs/doctor.md"


@dataclass(frozen=True)
class RuleInfo:
    """What every output format says about a rule: its code, name, title, category, default level and docs."""

    code: str
    name: str
    title: str
    category: str
    level: Level
    safety: str
    description: str
    remediation: str
    relation: str | None

    @classmethod
    def of(cls, check: type[Check]) -> RuleInfo:
        return cls(check.code, check.name, check.title, check.category.value, check.level, check.safety.value,
                   check.description(), check.remediation.strip(), check.relation)

    @property
    def anchor(self) -> str:
        return f"{DOCS}#{self.code.lower()}-{self.name}"


@dataclass(frozen=True)
class Report:
    """The run a rendering describes."""

    command: str
    database: Mapping[str, str]
    profile: str | None = None
    scope: str | None = None
    rules: Mapping[str, RuleInfo] = field(default_factory=dict)
    #: the level at or above which a finding fails the run (exit code 1)
    fail_on: Level = Level.warning
    version: str = __version__

    @property
    def where(self) -> str:
        d = self.database
        return f"{d.get('host')}:{d.get('port')}/{d.get('dbname')}"

    def rule(self, code: str) -> RuleInfo | None:
        found = self.rules.get(code)
        if found is None:
            from tablemend.doctor.rules import rule_of

            check = rule_of(code)
            found = RuleInfo.of(check) if check is not None else None
        return found

    def fails(self, finding: Finding) -> bool:
        return finding.level.rank >= self.fail_on.rank

    def exit_code(self, worst: Level | None) -> int:
        return 1 if worst is not None and worst.rank >= self.fail_on.rank else 0


def worst_of(findings: Iterable[Finding]) -> Level | None:
    worst: Level | None = None
    for f in findings:
        worst = f.level if worst is None or f.level.rank > worst.rank else worst
    return worst


def key_text(key: Mapping[str, Any]) -> str:
    """A finding's key as ``name=value, …`` in key order of names (what identifies its row)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(key.items()))
