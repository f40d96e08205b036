"""Documentation that runs (issue 12): every code block of README.md and docs/ is run or checked here, and so are the
``Examples:`` of every command's --help. A block this file does not know how to run fails the test until it is
given a way to run or a written reason in NOT_RUN, so a new example cannot go untested by accident.

- ``json`` blocks parse;
- ``python`` blocks run as they are, in a subprocess, with ``DATABASE_URL`` naming a fresh empty database;
- ``sh`` lines and help examples that call ``tablemend``: the command path exists and takes every ``--option`` the
  line uses (``--help`` of that command, exit 0), so synopsis lines with placeholders are checked too;
  ``python -m MODULE`` lines: ``python -m MODULE --help`` exits 0;
- every ``docs/…`` or ``spec/…`` path that README, docs or the CLI's help cites exists in the repository.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tablemend.cli import app
from tests.acceptance.cli import run

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: blocks not run, each with the reason (keyed by file and language)
NOT_RUN = {
    ("docs/doctor.md", "sql"): "remediation templates with :placeholders, generated from the rule registry; "
                               "tests/unit/test_doctor_rules.py pins the file to the registry and the doctor's "
                               "case tests run each repair",
    ("docs/doctor.md", ""): "a sample of `doctor explain` output, generated with the file",
    ("docs/scale.md", "sql"): "needs a Citus cluster; tests/integration/test_distributable.py checks the schema "
                              "stays distributable",
    ("docs/verification.md", "sql"): "psql steps generated from the doctor's query files; "
                                     "tests/integration/test_verification_doc.py runs them on every seeded state",
    ("docs/security.md", "sql"): "a shape with `...` for the arguments; tests/security run the calls it describes",
}
#: sh lines not run, with the reason
NOT_RUN_LINES = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install . && tablemend demo":
        "installs the package: CI does exactly this on a fresh machine; test_demo_cli runs the demo",
    ". .venv/bin/activate && pip install '.[test]' && python -m pytest": "this very suite",
    ". .venv/bin/activate": "activates the virtualenv the suite already runs in",
}


@dataclass(frozen=True)
class Block:
    path: str
    line: int
    lang: str
    text: str


def blocks() -> Iterator[Block]:
    for doc in DOCS:
        lang, start, body = None, 0, []
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                if lang is None:
                    lang, start, body = line[3:].strip(), n, []
                else:
                    yield Block(str(doc.relative_to(ROOT)), start, lang, "\n".join(body))
                    lang = None
            elif lang is not None:
                body.append(line)


def _id(block: Block) -> str:
    return f"{block.path}:{block.line}"


PYTHON = [b for b in blocks() if b.lang == "python"]
SHELL = [b for b in blocks() if b.lang in ("sh", "bash", "shell")]


def test_every_block_is_run_or_has_a_reason() -> None:
    unknown = [_id(b) for b in blocks() if b.lang not in ("python", "sh", "bash", "shell", "json", "toml")
               and (b.path, b.lang) not in NOT_RUN]
    assert not unknown, f"code blocks with no way to run them here: {unknown}"
    assert PYTHON and SHELL


@pytest.mark.parametrize("block", PYTHON, ids=_id)
def test_python_blocks_run_literally(block: Block, empty_dsn: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block.text, encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": empty_dsn}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, f"{_id(block)}\n{done.stderr}"


@pytest.mark.parametrize("block", [b for b in blocks() if b.lang == "json"], ids=_id)
def test_json_blocks_parse(block: Block) -> None:
    json.loads(block.text)


@pytest.mark.parametrize("block", [b for b in blocks() if b.lang == "toml"], ids=_id)
def test_toml_blocks_are_valid_configuration_files(block: Block, tmp_path: Path) -> None:
    """Every key of a documented configuration file is one the command tree takes, with a value of its type."""
    from tablemend import config
    from tablemend.cli import command

    path = tmp_path / ("pyproject.toml" if "[tool.tablemend" in block.text else "tablemend.toml")
    path.write_text(block.text, encoding="utf-8")
    loaded = config.load(command(), config.read(path))
    assert loaded.default_map or loaded.root, _id(block)


def _logical_lines(text: str) -> Iterator[str]:
    pending = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            yield line


def _subcommands(command: Any) -> dict[str, Any]:
    """A click group's commands (typer vendors its own click, so this is duck-typed)."""
    return dict(getattr(command, "commands", None) or {})


def _command_path(words: list[str]) -> list[str]:
    """The longest prefix of ``words`` that names a tablemend command (group, subcommand)."""
    command = typer.main.get_command(app)
    path: list[str] = []
    for word in words:
        if word not in _subcommands(command):
            break
        command = _subcommands(command)[word]
        path.append(word)
    return path


@cache
def _help(path: tuple[str, ...]) -> str:
    done = run(*path, "--help")
    assert done.returncode == 0, (path, done.stderr)
    return done.stdout


#: the root's options that take a value (the others are flags)
_ROOT_VALUES = ("--config",)


def _check_tablemend_line(words: list[str], where: str) -> None:
    root_options = []
    while words and words[0].startswith("-"):  # global options before the command: `tablemend -q doctor scan`
        root_options.append(words.pop(0))
        if root_options[-1] in _ROOT_VALUES and words:
            words.pop(0)
    missing_root = [o for o in root_options if not re.search(rf"(?<![\w-]){o}\b", _help(()))]
    assert not missing_root, f"{where}: `tablemend` has no {missing_root}"
    if not words and root_options:
        return
    path = _command_path(words)
    assert path, f"{where}: no tablemend command in {' '.join(words)!r}"
    options = {m for w in words for m in re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", w)}
    usage = _help(tuple(path))
    missing = sorted(o for o in options if o not in ("--help",) and not re.search(rf"(?<![\w-]){o}\b", usage))
    assert not missing, f"{where}: `tablemend {' '.join(path)}` has no {missing}"


def _check_shell_line(line: str, where: str) -> None:
    if line.split(" #")[0].strip() in NOT_RUN_LINES:
        return
    for inner in re.findall(r"\$\((tablemend [^)]*)\)", line):  # command substitutions are checked on their own
        _check_shell_line(inner, where)
    words = shlex.split(re.sub(r"\$\([^)]*\)", "X", line).replace("…", "x"), comments=True)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):  # VAR=value prefixes
        words.pop(0)
    assert words, where
    if words[0] == "tablemend":
        _check_tablemend_line(words[1:], where)
    elif words[:2] == ["python", "-m"]:
        done = subprocess.run([sys.executable, "-m", words[2], "--help"], capture_output=True, text=True,
                              cwd=ROOT, timeout=120, check=False)
        assert done.returncode == 0, f"{where}: python -m {words[2]} --help\n{done.stderr}"
    elif words[0] == "psql" and "$(tablemend" in line:
        pass  # psql itself is libpq's; the tablemend command that gives it the URL was checked above
    else:
        raise AssertionError(f"{where}: no way to check {line!r}: run it here or give NOT_RUN_LINES a reason")


@pytest.mark.parametrize("block", SHELL, ids=_id)
def test_shell_lines_name_real_commands_and_options(block: Block) -> None:
    for line in _logical_lines(block.text):
        _check_shell_line(line, _id(block))


def _help_examples() -> Iterator[tuple[str, str]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, str]]:
        text = command.help or ""
        examples: list[str] = []
        for line in text.splitlines():
            if line.strip() in ("Examples:", "Example:"):
                examples = [""]
            elif examples:
                examples.append(line)
        for line in _logical_lines("\n".join(examples)):
            yield " ".join(path), line
        for name, sub in _subcommands(command).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), ["tablemend"])


def test_help_examples_name_real_commands_and_options() -> None:
    examples = list(_help_examples())
    assert len(examples) > 10
    for where, line in examples:
        _check_shell_line(line, f"--help of {where}")


_CITED = re.compile(r"(?<![\w/.-])((?:docs|spec)/[\w./-]+\.(?:md|sql))")


def test_cited_documents_exist() -> None:
    sources = [*DOCS, *sorted((ROOT / "src" / "tablemend").rglob("cli*.py")), ROOT / "src/tablemend/doctor/cli.py"]
    missing = sorted({f"{path.relative_to(ROOT)}: {cited}" for path in sources
                      for cited in _CITED.findall(path.read_text(encoding="utf-8")) if not (ROOT / cited).exists()})
    assert not missing, missing


def test_doctor_doc_names_the_verbs_without_profile() -> None:
    doctor = _subcommands(typer.main.get_command(app))["doctor"]
    without = {name for name, verb in _subcommands(doctor).items()
               if not any("--profile" in getattr(p, "opts", ()) for p in verb.params)}
    assert without - {"docs"} == {"journal", "undo"}  # `doctor docs` writes this page; it reads no database
    text = (ROOT / "docs/doctor.md").read_text(encoding="utf-8")
    assert "all but `journal` and `undo` take `--profile origin|tablemend`" in " ".join(text.split())
