"""The official SARIF 2.1.0 schema and validator, from the npm package ``@microsoft/sarif-multitool-linux`` 5.7.0,
fetched at test time with ``npm pack`` into a cache under the test home (once; reused afterwards). Never committed.

A missing npm is a failure, not a skip: CI installs Node.js (``.ci/run``).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@microsoft/sarif-multitool-linux@5.7.0"


def cache_dir() -> Path:
    home = Path(os.environ.get("TABLEMEND_TEST_HOME", "/tmp/tablemend-test-pg"))
    return home / "cache" / "sarif-multitool-5.7.0"


def package() -> Path:
    """The unpacked package directory (``package/``), fetched once per test home."""
    target = cache_dir()
    done = target / "package" / "sarif-2.1.0.json"
    if done.exists():
        return target / "package"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".sarif-multitool.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel workers: one fetches, the others wait and reuse
        if done.exists():
            return target / "package"
        npm = shutil.which("npm")
        assert npm is not None, "npm is needed to fetch the SARIF schema and validator (install nodejs npm)"
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            packed = subprocess.run([npm, "pack", PACKAGE, "--silent"], cwd=scratch, capture_output=True, text=True,
                                    timeout=600, check=False)
            assert packed.returncode == 0, packed.stderr
            tgz = Path(scratch) / packed.stdout.strip().splitlines()[-1]
            unpacked = Path(scratch) / "out"
            with tarfile.open(tgz) as archive:
                archive.extractall(unpacked, filter="data")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(unpacked, target)
    return target / "package"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((package() / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    return loaded


def schema_errors(log: dict[str, Any]) -> list[str]:
    """Every schema violation of ``log`` (Draft 2020-12, as the schema declares), as ``path: message``."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def multitool(path: Path) -> list[dict[str, Any]]:
    """``Sarif.Multitool validate`` on ``path``: the results it reports at level error or warning. Its exit code is
    0 even when it finds errors, so the findings are read from its own SARIF output."""
    tool = package() / "Sarif.Multitool"
    tool.chmod(tool.stat().st_mode | 0o100)
    out = path.with_suffix(".validation.sarif")
    done = subprocess.run([str(tool), "validate", str(path), "-o", str(out), "--log", "ForceOverwrite",
                           "--level", "Error;Warning;Note"], capture_output=True,
                          text=True, timeout=300, check=False,
                          env={**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text(encoding="utf-8-sig"))
    results = [r for run in report["runs"] for r in run.get("results", [])]
    return [r for r in results if r.get("level", "warning") in ("error", "warning")]
