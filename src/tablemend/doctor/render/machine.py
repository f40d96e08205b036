"""Which renderer writes a scan in each machine format, and what those formats say when the command failed
(:func:`doctor_command`, the error boundary of every doctor verb)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import ParamSpec, TypeVar

from tablemend.clitools import (
    ReportFormat,
    command_name,
    dumps_plain,
    envelope,
    handle_errors,
    interrupted,
    write_out,
)
from tablemend.doctor.render import Report
from tablemend.doctor.rules import Finding, Level
from tablemend.errors import TablemendError

P = ParamSpec("P")
R = TypeVar("R")


def scan_report(fmt: ReportFormat, findings: Iterable[Finding], report: Report) -> Level | None:
    """Write the scan's findings in ``fmt`` (not the table); the worst level found."""
    if fmt is ReportFormat.json:
        from tablemend.doctor.render import json_out

        return json_out.scan(findings, report)
    if fmt is ReportFormat.github:
        from tablemend.doctor.render import github

        return github.stream(findings, report)
    if fmt is ReportFormat.sarif:
        from tablemend.doctor.render import sarif

        log, worst = sarif.scan(findings, report)
        write_out(dumps_plain(log) + "\n")
        return worst
    from tablemend.doctor.render import junit

    text, worst = junit.scan(findings, report)
    write_out(text)
    return worst


def failed(fmt: ReportFormat, exc: TablemendError) -> None:
    """A SARIF log or JUnit report that says the run failed with ``exc`` (stderr has the error line too)."""
    database = envelope(None)["database"] or {}
    report = Report(command_name(), database)
    message = exc.message + (f" ({exc.details})" if exc.details else "")
    if fmt is ReportFormat.sarif:
        from tablemend.doctor.render import sarif

        write_out(dumps_plain(sarif.error(report, exc.sqlstate, message, exc.exit_code)) + "\n")
    elif fmt is ReportFormat.junit:
        from tablemend.doctor.render import junit

        write_out(junit.error(report, exc.sqlstate, message))


def doctor_command(fn: Callable[P, R]) -> Callable[P, R]:
    """:func:`handle_errors` (with ``--format json`` the error is also the JSON envelope on stdout); with
    ``--format sarif`` / ``junit`` the error is also a report in that format, so a CI upload step gets a valid
    file that says the run failed."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (TablemendError, KeyboardInterrupt) as caught:
            exc = caught if isinstance(caught, TablemendError) else interrupted()
            fmt = kwargs.get("fmt")
            if isinstance(fmt, ReportFormat) and fmt in (ReportFormat.sarif, ReportFormat.junit):
                failed(fmt, exc)
            raise exc from None

    return handle_errors(wrapper)
