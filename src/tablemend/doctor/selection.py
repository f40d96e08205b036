"""Which checks a scan, plan or repair runs: ``--select`` and ``--ignore``, as ruff's ``select`` / ``ignore``.

Each takes codes or code prefixes (``TMD0`` is TMD001-TMD099; ``TMD`` is every check), repeated or comma-separated.
``--select`` (and the older ``--check``, exact codes) narrows to what it names, default every check; ``--ignore`` then
removes what it names (it wins over ``--select``, as ``exclude_rules`` over ``rules`` in sqlfluff). A pattern no check
has is TMU16 before anything connects; a selection that leaves no check of the database's profile is TMU16 too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tablemend.db import Connection
from tablemend.doctor import bulk, reindex
from tablemend.doctor import profile as profiles
from tablemend.doctor.rules import for_profile, registry
from tablemend.errors import UnknownCheckCode


def patterns(values: Iterable[str] | None) -> list[str]:
    """``["TMD001,TMD002", "tmd01"]`` → ``["TMD001", "TMD002", "TMD01"]``."""
    return [p.strip().upper() for v in values or () for p in v.replace(",", " ").split() if p.strip()]


def _matches(pattern: str, code: str) -> bool:
    return code.startswith(pattern)


def validate(check: Iterable[str] | None, select: Iterable[str] | None, ignore: Iterable[str] | None) -> bool:
    """Refuse (TMU16) a pattern that matches no check of any profile; True when any selection was given."""
    every = list(registry())
    for option, values in (("--check", check), ("--select", select), ("--ignore", ignore)):
        unknown = [p for p in patterns(values) if not any(_matches(p, c) for c in every)]
        if unknown:
            raise UnknownCheckCode(f"{option} names no check: {', '.join(unknown)}",
                                   details=f"patterns={','.join(unknown)}",
                                   hint="codes and prefixes of `tablemend doctor docs` (docs/doctor.md), e.g. "
                                   "TMD001 or TMD0")
    return bool(patterns(check) or patterns(select) or patterns(ignore))


def resolve(profile: profiles.Profile, check: Iterable[str] | None, select: Iterable[str] | None,
            ignore: Iterable[str] | None) -> list[str] | None:
    """The codes of ``profile`` to run (None: all of them, nothing was selected or ignored)."""
    if not validate(check, select, ignore):
        return None
    every = [c.code for c in for_profile(profile.name, profile.catalog)]
    chosen = patterns(check) + patterns(select)
    dropped = patterns(ignore)
    codes = [c for c in every if (not chosen or any(_matches(p, c) for p in chosen))
             and not any(_matches(p, c) for p in dropped)]
    if not codes:
        raise UnknownCheckCode(f"the selection leaves no check of profile {profile.name} to run",
                               details=f"select={','.join(chosen) or '(all)'} ignore={','.join(dropped)}",
                               hint="drop an --ignore, or widen --select")
    return codes


def for_connection(conn: Connection, profile: str | None, select: Iterable[str] | None,
                   ignore: Iterable[str] | None) -> list[str] | None:
    """:func:`resolve` for the database behind ``conn`` (reads its catalog only when something was selected)."""
    if not validate(None, select, ignore):
        return None
    return resolve(profiles.detect(conn, profile), None, select, ignore)


def left_behind(codes: Sequence[str] | None, profile: profiles.Profile) -> list[str]:
    """Notes for a repair that runs only ``codes``: a selected check whose repair can expose findings of an ignored
    one leaves them unrepaired (:data:`bulk.EXPOSES`), and an ignored occupancy-index check leaves the row checks
    reading through a possibly damaged index."""
    if codes is None:
        return []
    every = [c.code for c in for_profile(profile.name, profile.catalog)]
    ignored = set(every) - set(codes)
    notes = []
    for code in codes:
        exposed = sorted(bulk.EXPOSES.get(code, frozenset()) & ignored)
        if exposed:
            notes.append(f"{code}'s repair can leave findings of {', '.join(exposed)} behind, which this selection "
                         "does not repair")
    damaged = sorted(reindex.ACTION_CODES & ignored)
    if damaged:
        notes.append(f"{', '.join(damaged)} (damaged occupancy index) is not selected: the other checks read through "
                     "that index; run it first if the server had the GiST rescan bug")
    return notes


def refuse_ignored_includes(include: Sequence[str], codes: Sequence[str] | None) -> None:
    """``--include ID`` of a check this selection leaves out is a contradiction: TMU16, nothing done."""
    if codes is None:
        return
    out = [i for i in include if i.split("-", 1)[0].upper() not in codes]
    if out:
        raise UnknownCheckCode(f"--include names findings of checks this selection leaves out: {', '.join(out)}",
                               details=f"include={','.join(out)}", hint="drop the --ignore (or widen --select) "
                               "for their codes, or drop the --include")
