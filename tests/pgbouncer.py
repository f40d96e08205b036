"""A real PgBouncer in transaction mode, started by the test harness (the Debian package ``pgbouncer``).

Stock settings (no ``ignore_startup_parameters``, so a startup ``options`` parameter is refused, as Supabase's
poolers refuse it), a free loopback port, SCRAM authentication with the test server's user and password, and
``pool_mode = transaction``: consecutive transactions of one client may run on different server connections.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

_START_TIMEOUT_S = 20


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class PgBouncer:
    """One PgBouncer process in front of the server of ``server_dsn``; ``dsn(dbname)`` connects through it."""

    def __init__(self, server_dsn: str) -> None:
        exe = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(exe).exists():
            raise RuntimeError("pgbouncer is not installed (Debian package pgbouncer; .ci/run installs it)")
        info = conninfo_to_dict(server_dsn)
        self.user = str(info.get("user") or "postgres")
        self.password = str(info.get("password") or "")
        host = str(info.get("host") or "127.0.0.1")
        server_port = str(info.get("port") or "5432")
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tm-pgbouncer-"))
        (self.dir / "userlist.txt").write_text(f"{_quoted(self.user)} {_quoted(self.password)}\n")
        (self.dir / "pgbouncer.ini").write_text("\n".join([
            "[databases]",
            f"* = host={host} port={server_port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = scram-sha-256",
            f"auth_file = {self.dir / 'userlist.txt'}",
            "pool_mode = transaction",
            "default_pool_size = 10",
            f"logfile = {self.dir / 'pgbouncer.log'}",
            f"pidfile = {self.dir / 'pgbouncer.pid'}",
            "",
        ]))
        argv = [exe, str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            nobody = pwd.getpwnam("nobody")
            for path in [self.dir, *self.dir.iterdir()]:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            argv[1:1] = ["-u", "nobody"]
        # everything goes to its logfile
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait()

    def dsn(self, server_dsn: str) -> str:
        """``server_dsn`` (any database on the test server) rewritten to go through this PgBouncer."""
        return make_conninfo(server_dsn, host="127.0.0.1", port=str(self.port))

    def _wait(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not listen on port {self.port}: {self.log()[-2000:]}")

    def log(self) -> str:
        path = self.dir / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
