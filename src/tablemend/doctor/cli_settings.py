"""The doctor's settings options: --select / --ignore and --baseline / --write-baseline (docs/configuration.md).

Declarations and the small glue the commands call; the logic is in :mod:`tablemend.doctor.selection` and
:mod:`tablemend.doctor.baseline`, which act on the findings before any renderer sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from tablemend import db
from tablemend.clitools import err_console, escape
from tablemend.doctor import baseline, selection
from tablemend.doctor import profile as profiles
from tablemend.errors import UsageError

SelectOption = Annotated[list[str] | None, typer.Option(
    "--select", help="Only the checks with these codes or code prefixes (TMD0 = TMD001-TMD099); repeatable or "
    "comma-separated.")]
IgnoreOption = Annotated[list[str] | None, typer.Option(
    "--ignore", help="Not the checks with these codes or prefixes (wins over --select); repeatable or "
    "comma-separated.")]


def baseline_pass(baseline_file: str | None, write_baseline: str | None) -> baseline.Pass:
    """Read the baseline before connecting (a bad file is TMU15 and nothing is done)."""
    if baseline_file is not None and write_baseline is not None:
        raise UsageError("--baseline and --write-baseline exclude each other", hint="write the new baseline "
                         "without --baseline; it records every current finding")
    return baseline.Pass(known=baseline.read(baseline_file) if baseline_file is not None else None,
                         write_to=write_baseline)


def selected_codes(conn: db.Connection, profile: str | None, select: Sequence[str] | None,
                   ignore: Sequence[str] | None, include: Sequence[str] | None) -> list[str] | None:
    """The codes --select / --ignore leave (None: all), with a note for what a partial repair leaves behind."""
    codes = selection.for_connection(conn, profile, select, ignore)
    selection.refuse_ignored_includes(include or (), codes)
    for note in selection.left_behind(codes, profiles.detect(conn, profile)) if codes is not None else ():
        err_console.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
    return codes


def given(**values: object) -> bool:
    """Whether any of these options was given on the command line or in the environment: a configuration file's
    persistent default (``restaurant``, ``ignore``) must not make ``repair --plan`` refuse."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    for name, value in values.items():
        source = ctx.get_parameter_source(name) if ctx is not None else None
        if value and (source is None or source.name != "DEFAULT_MAP"):
            return True
    return False
