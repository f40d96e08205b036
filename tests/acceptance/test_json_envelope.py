"""One JSON shape for every command (issue 12): ``{"tool", "version", "command", "database", "profile", "result"}``,
with ``"error": {code, message, details, hint}`` in place of ``"result"`` when the command fails. Every command that
has ``--format`` is run here with ``-f json``; a new one fails this test until it is listed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click
import typer.main

from tablemend import __version__
from tablemend.cli import app
from tests.acceptance.cli import ENVELOPE, result_of, run

R, B, T, H = (str(uuid.uuid4()) for _ in range(4))
WHEN = ["--start", "2030-06-01T19:00Z", "--end", "2030-06-01T21:00Z"]
#: each command's arguments (ids that do not exist give the error envelope, which is the point too)
ARGS: dict[str, list[str]] = {
    "sample": ["--restaurants", "1"],
    "distribute": [],
    "assign": [B, T],
    "unassign": [B],
    "quote": [R, "--party", "2", *WHEN],
    "db status": [],
    "db check": [],
    "sandbox origin": [],
    "doctor scan": [],
    "doctor explain": ["--booking", B],
    "doctor plan": [],
    "doctor repair": ["--all-safe", "--yes"],
    "doctor undo": [str(uuid.uuid4())],
    "doctor verify": ["--booking", B],
    "doctor journal": [],
    "doctor gate": [],
    "hold create": [R, T, *WHEN],
    "hold extend": [H, "--ttl", "60"],
    "hold release": [H],
    "hold confirm": [H],
    "hold best": [R, "--party", "2", *WHEN],
    "booking set-status": [B, "cancelled"],
    "booking move": [B, *WHEN],
    "booking show": [B],
    "repack propose": [R],
    "repack apply": ["missing-plan.json"],
    "keys list": [],
}
#: commands that take no --dsn (the embedded cluster, or nothing)
NO_DSN = {"db status"}


def _with_format(cmd: click.Command, path: tuple[str, ...] = ()) -> list[str]:
    subs = getattr(cmd, "commands", None)
    if subs:
        return [found for name, sub in subs.items() for found in _with_format(sub, (*path, name))]
    has = any("--format" in p.opts for p in cmd.params)
    return [" ".join(path)] if has else []


#: doctor commands whose envelope names the profile even on an error (detected before the work starts)
DETECTED = {"doctor undo", "doctor journal"}


def test_every_json_command_is_listed() -> None:
    assert sorted(_with_format(typer.main.get_command(app))) == sorted(ARGS)


def test_every_command_prints_the_envelope(origin_dsn: str, tmp_path: Path) -> None:
    dbname = next(part.split("=", 1)[1] for part in origin_dsn.split() if part.startswith("dbname="))
    shapes: dict[str, str] = {}
    for command, args in ARGS.items():
        dsn = [] if command in NO_DSN else ["--dsn", origin_dsn]
        done = run(*command.split(), *args, *dsn, "-f", "json", env={"TABLEMEND_HOME": str(tmp_path / "home")})
        assert done.stdout.startswith("{"), (command, done.returncode, done.stdout, done.stderr)
        doc = json.loads(done.stdout)
        last = "error" if "error" in doc else "result"
        assert (last == "error") == (done.returncode not in (0, 1) or "TMD84" in done.stderr), (command, done.stderr)
        assert list(doc) == [*ENVELOPE, last], (command, done.stdout, done.stderr)
        assert (doc["tool"], doc["version"], doc["command"]) == ("tablemend", __version__, command)
        if doc["database"] is not None:
            assert list(doc["database"]) == ["host", "port", "dbname", "user", "source"], command
        if command in NO_DSN:  # the embedded cluster's status
            assert doc["database"] is None or doc["database"]["source"] == "embedded", doc
        elif doc["database"] is not None:
            assert doc["database"]["source"] == "dsn", command
            assert doc["database"]["dbname"] == dbname or command == "sandbox origin", command
        if last == "error":
            assert list(doc["error"]) == ["code", "message", "details", "hint"], command
            assert doc["error"]["code"] in done.stderr, command
        if command.startswith("doctor ") and command != "doctor docs" and (last == "result" or command in DETECTED):
            assert doc["profile"] == "origin", command
        shapes[command] = last
    # the commands that need no data succeed: the envelope wraps real results, not only errors
    assert {c for c, s in shapes.items() if s == "result"} >= {"doctor scan", "doctor journal", "doctor gate",
                                                                "doctor plan", "db check"}, shapes
    assert result_of(run("doctor", "journal", "--dsn", origin_dsn, "-f", "json").stdout) == []
