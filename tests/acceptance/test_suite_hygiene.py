"""The test suite cleans up after itself (issue 12): the embedded cluster it starts is stopped when the run ends, one it
found running is left running, and its default home is the user's own, not one fixed path shared by every user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tablemend.embedded import EmbeddedCluster

_ROOT = Path(__file__).resolve().parents[2]
_ONE_TEST = "tests/integration/test_db.py::test_unknown_sqlstate_is_kept_verbatim"


@pytest.fixture
def home() -> Iterator[Path]:
    # under /tmp itself (world-traversable), not pytest's 0700 tmp_path the server user could not reach
    path = Path(tempfile.mkdtemp(prefix="tm-hygiene-"))
    yield path
    EmbeddedCluster(path, durable=False).stop()
    shutil.rmtree(path, ignore_errors=True)


def _inner_run(env_home: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TABLEMEND_TEST_DSN", "TABLEMEND_TEST_HOME")}
    if env_home is not None:
        env["TABLEMEND_TEST_HOME"] = str(env_home)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", _ONE_TEST],
                          cwd=_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_cluster_the_run_started_is_stopped_at_its_end(home: Path) -> None:
    done = _inner_run(home)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    status = EmbeddedCluster(home, durable=False).status()
    assert status.initialized  # the run did use this home
    assert not status.running


def test_a_cluster_found_running_is_left_running(home: Path) -> None:
    cluster = EmbeddedCluster(home, durable=False)
    cluster.start()
    done = _inner_run(home)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert cluster.status().running


def test_the_default_home_is_the_users_own() -> None:
    from tests.conftest import default_test_home

    path = default_test_home()
    assert path != Path("/tmp/tablemend-test-pg")
    assert str(os.geteuid()) in path.name
