"""A throwaway PostgreSQL cluster for the tests: ``initdb`` and ``pg_ctl`` from the
machine's PostgreSQL (``/usr/lib/postgresql/*/bin`` or ``$PATH``) on a temporary directory, a free
port on 127.0.0.1, trust authentication, one database per test (``create_database``), stopped at
the end of the session. Without the binaries (or psycopg) the tests that need it skip.

``initdb`` refuses to run as root. When the tests run as root (CI does), the cluster is made and
run as the unprivileged user ``nobody`` via ``runuser -u nobody --`` (util-linux), with the
temporary directory owned by that user; the server's socket directory is that directory, and the
tests connect over TCP on 127.0.0.1 as the superuser ``postgres`` (trust), so no password is
involved. Nothing of it outlives the session: ``pg_ctl stop -m immediate`` and the directory is
removed."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

PG_USER = "nobody"  # who runs the server when the tests run as root


def find_pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, newest major version first; None without them."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for c in candidates:
        if (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _version_key(path: str) -> tuple:
    part = Path(path).parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """One PostgreSQL server on 127.0.0.1 for the test session."""

    def __init__(self, bin_dir: Path, durable: bool = False):
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="newsdesk-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_other = os.geteuid() == 0
        self._lock = threading.Lock()
        self._n = 0
        if self._as_other:
            user = pwd.getpwnam(PG_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"
        )
        # -F (no fsync) for the tests; ``durable`` (benchmarks) keeps PostgreSQL's defaults
        fsync = "" if durable else " -F"
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1{fsync} -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin_dir / tool), *args]
        if self._as_other:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr or result.stdout}\n{tail}")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        import psycopg

        with self._lock:
            self._n += 1
            name = f"{prefix}_{self._n}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(durable: bool = False) -> PostgresCluster | str:
    """A running cluster, or why there cannot be one (a reason to skip)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    bin_dir = find_pg_bin()
    if bin_dir is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb cannot run"
    return PostgresCluster(bin_dir, durable=durable)
