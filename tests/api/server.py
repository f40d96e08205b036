"""A real ``tablemend serve`` subprocess on a free loopback port (for the smoke and browser tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import httpx


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    stdout: list[str]
    stderr: list[str]

    @property
    def admin_key(self) -> str:
        """The one-time admin key serve printed on stdout ('' when it printed none)."""
        return next((line.strip() for line in self.stdout if line.startswith("tmk_")), "")


def _drain(stream: IO[str], into: list[str]) -> None:
    for line in stream:
        into.append(line)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(dsn: str, *extra: str) -> Iterator[Server]:
    """Start the server, wait until /healthz answers (or the process dies), stop it with SIGTERM afterwards."""
    port = free_port()
    env = {**os.environ, "TABLEMEND_OPERATOR": "test"}
    proc = subprocess.Popen([sys.executable, "-m", "tablemend", "serve", "--dsn", dsn, "--port", str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        out: list[str] = []
        err: list[str] = []
        readers = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
                   threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)]
        for reader in readers:
            reader.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # startup budget, not a timed assertion
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited with {proc.returncode}: {''.join(err)}")
            with contextlib.suppress(httpx.TransportError):
                # stdout has the key (if any) and then "serving on": both read once the second is
                if any(line.startswith("serving on") for line in out) and \
                        httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("serve did not answer /healthz")
            time.sleep(0.1)
        server = Server(url, proc, out, err)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for reader in readers:
            reader.join(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
