"""Baselines: the findings a team accepts for now, so a CI scan fails only on new ones.

``doctor scan --write-baseline FILE`` records each finding's stable id: the check code plus a hash of the key columns
that identify the state (:attr:`Finding.id`, the id ``repair --include`` takes), never its message text, so the same
drifted rows give the same entry on every run and on every server. ``doctor scan --baseline FILE`` then reports, counts
and sets its exit code from findings whose id the file does not hold, and says on stderr how many were suppressed and
how many entries no longer occur (fixed since: stale). Stale entries are counted only where the scan looked: the
checks it ran, the ``--restaurant`` it was limited to, never for one ``--booking``.

The file is JSON, sorted by id, so it diffs well in review::

    {"tablemend_baseline": 1, "findings": [{"id": "TMD001-…", "code": "TMD001", "restaurant": "…", "detail": "…"}]}

(``detail`` is for the reviewer; matching uses the id only.)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tablemend.doctor.rules import Context, Finding
from tablemend.errors import BaselineInvalid

FORMAT = 1


@dataclass(frozen=True)
class Entry:
    id: str
    code: str
    restaurant: str | None


def read(path: str | Path) -> dict[str, Entry]:
    """The entries of a baseline file by id (TMU15 when it is missing or not a tablemend baseline)."""
    where = Path(path)
    try:
        document = json.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineInvalid(f"baseline {where} cannot be read: {exc.strerror or exc}", details=f"file={where}",
                              hint="write one with `tablemend doctor scan --write-baseline FILE`") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineInvalid(f"baseline {where} is not JSON: {exc}", details=f"file={where}") from None
    if not isinstance(document, dict) or document.get("tablemend_baseline") != FORMAT \
            or not isinstance(document.get("findings"), list):
        raise BaselineInvalid(f"{where} is not a tablemend baseline (format {FORMAT})", details=f"file={where}",
                              hint="write one with `tablemend doctor scan --write-baseline FILE`")
    entries: dict[str, Entry] = {}
    for n, item in enumerate(document["findings"]):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("code"), str):
            raise BaselineInvalid(f"baseline {where}: entry {n} has no id and code", details=f"file={where} entry={n}")
        restaurant = item.get("restaurant")
        entries[item["id"]] = Entry(item["id"], item["code"], restaurant if isinstance(restaurant, str) else None)
    return entries


def write(path: str | Path, findings: Iterable[Mapping[str, Any]]) -> int:
    """Write the baseline atomically (a reader never sees half a file); returns the number of entries."""
    where = Path(path)
    rows = sorted({f["id"]: f for f in findings}.values(), key=lambda f: str(f["id"]))
    text = json.dumps({"tablemend_baseline": FORMAT, "findings": rows}, indent=2, ensure_ascii=False) + "\n"
    where.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=where.parent, prefix=f".{where.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, where)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(rows)


def _entry(f: Finding) -> dict[str, Any]:
    return {"id": f.id, "code": f.code, "restaurant": None if f.restaurant_id is None else str(f.restaurant_id),
            "detail": f.detail}


@dataclass
class Pass:
    """What ``--baseline`` / ``--write-baseline`` do to one scan's stream of findings (before any renderer)."""

    known: dict[str, Entry] | None = None
    write_to: str | None = None
    codes: frozenset[str] = frozenset()
    ctx: Context = field(default_factory=Context)
    suppressed: int = 0
    new: int = 0
    _seen: set[str] = field(default_factory=set)
    _recorded: list[dict[str, Any]] = field(default_factory=list)

    def filter(self, findings: Iterable[Finding]) -> Iterator[Finding]:
        """The findings the baseline does not hold (all of them without one); records them when writing one."""
        for f in findings:
            if self.write_to is not None:
                self._recorded.append(_entry(f))
            if self.known is not None and f.id in self.known:
                self._seen.add(f.id)
                self.suppressed += 1
                continue
            self.new += 1
            yield f

    def stale(self) -> int | None:
        """Baseline entries the scan looked for and did not find (None when the scan's scope cannot tell)."""
        if self.known is None or self.ctx.booking_id is not None:
            return None
        scope = self.ctx.scope_restaurant
        return sum(1 for e in self.known.values()
                   if e.id not in self._seen and e.code in self.codes
                   and (scope is None or e.restaurant == str(scope)))

    def finish(self) -> list[str]:
        """Write the baseline if asked; the summary lines for stderr."""
        lines = []
        if self.write_to is not None:
            count = write(self.write_to, self._recorded)
            lines.append(f"wrote baseline {self.write_to}: {count} finding(s); `doctor scan --baseline "
                         f"{self.write_to}` reports only findings not in it")
        if self.known is not None:
            stale = self.stale()
            fixed = "" if stale is None else (f"; {stale} baseline entr{'y' if stale == 1 else 'ies'} no longer "
                                              "found (fixed: refresh it with --write-baseline)" if stale else "")
            lines.append(f"baseline: {self.new} new finding(s), {self.suppressed} suppressed by the baseline{fixed}")
        return lines
