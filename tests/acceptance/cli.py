"""Run the installed ``tablemend`` console script in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def tablemend_exe() -> str:
    beside = Path(sys.executable).parent / "tablemend"
    if beside.exists():
        return str(beside)
    found = shutil.which("tablemend")
    if found is None:
        raise RuntimeError("the tablemend console script is not installed (pip install '.[test]')")
    return found


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180, input: str | None = None,
        cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    full_env.pop("DATABASE_URL", None)
    if env and "DATABASE_URL" in env:
        full_env["DATABASE_URL"] = env["DATABASE_URL"]
    return subprocess.run(
        [tablemend_exe(), *args], capture_output=True, text=True, env=full_env, timeout=timeout, input=input,
        check=False, cwd=cwd,
    )


def error_lines(stderr: str) -> list[str]:
    """stderr's non-blank lines after the ``database: …`` lines a command prints when it connects (issue 12)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    while lines and lines[0].startswith("database: "):
        lines.pop(0)
    return lines


def shell(command: str, env: dict[str, str] | None = None, timeout: float = 180
          ) -> subprocess.CompletedProcess[str]:
    """Run a documented or printed command line literally in ``sh``, with the installed ``tablemend`` first on PATH."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    env.pop("DATABASE_URL", None)
    env["PATH"] = f"{Path(tablemend_exe()).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)


#: the keys of every command's JSON output, in order (docs/doctor.md, "Output formats"); errors have "error" last
ENVELOPE = ["tool", "version", "command", "database", "profile"]


def result_of(stdout: str) -> Any:
    """The ``result`` of a command's JSON envelope, after checking the envelope's shape."""
    doc = json.loads(stdout)
    assert isinstance(doc, dict) and list(doc) == [*ENVELOPE, "result"], stdout[:500]
    return doc["result"]


def error_of(stdout: str) -> dict[str, Any]:
    """The ``error`` object ``{code, message, details, hint}`` of a command's JSON error envelope."""
    doc = json.loads(stdout)
    assert isinstance(doc, dict) and list(doc) == [*ENVELOPE, "error"], stdout[:500]
    error: dict[str, Any] = doc["error"]
    assert list(error) == ["code", "message", "details", "hint"], error
    return error
