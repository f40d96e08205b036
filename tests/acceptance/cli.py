"""Run the installed ``tablemend`` console script in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def tablemend_exe() -> str:
    beside = Path(sys.executable).parent / "tablemend"
    if beside.exists():
        return str(beside)
    found = shutil.which("tablemend")
    if found is None:
        raise RuntimeError("the tablemend console script is not installed (pip install '.[test]')")
    return found


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180, input: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    full_env.pop("DATABASE_URL", None)
    if env and "DATABASE_URL" in env:
        full_env["DATABASE_URL"] = env["DATABASE_URL"]
    return subprocess.run(
        [tablemend_exe(), *args], capture_output=True, text=True, env=full_env, timeout=timeout, input=input,
        check=False,
    )
