"""A throwaway PostgreSQL cluster for the tests and benchmarks: Debian's server binaries, a temporary folder,
a Unix socket only (no port to collide with a parallel run), removed again when stopped.

``initdb`` refuses to run as root, so as root (CI) the cluster belongs to the ``postgres`` user; the
folder is made for it. Nothing here is a mock: it is the server the clinic would run.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

__all__ = ["Cluster", "ClusterError", "server_binaries"]

# Tests: no fsync (only an OS crash could lose data, and the cluster is thrown away), but every commit is
# written before it is acknowledged, so a killed server process loses nothing acknowledged, as in production.
FAST = "-c fsync=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB"
DURABLE = "-c max_connections=300 -c shared_buffers=128MB"  # the defaults a clinic runs with: fsync on


class ClusterError(RuntimeError):
    pass


def server_binaries() -> Path:
    """The newest installed server's bin folder (``postgresql-15`` on Debian 12)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise ClusterError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                           "run scripts/setup --test, which installs postgresql")
    return Path(found[-1]).parent


class Cluster:
    """``with Cluster() as cluster: url = cluster.create_database()``."""

    def __init__(self, durable: bool = False):
        self.durable = durable
        self.folder: Path | None = None
        self.as_postgres = os.geteuid() == 0
        self.user = "postgres" if self.as_postgres else (os.environ.get("USER") or "postgres")

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = list(args)
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if result.returncode != 0:
            log = ""
            if self.folder and (self.folder / "server.log").exists():
                log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise ClusterError(f"{' '.join(args[:2])} failed ({result.returncode}): {result.stdout[-2000:]}\n{log}")

    def start(self) -> "Cluster":
        bindir = server_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="pro-app-pg-"))
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        self._run(str(bindir / "initdb"), "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        options = f"-c listen_addresses='' -c unix_socket_directories={self.folder} " + (DURABLE if self.durable else FAST)
        self._run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        assert self.folder is not None
        return f"postgresql://{self.user}@/{database}?host={quote(str(self.folder), safe='')}"

    def server_pid(self) -> int:
        assert self.folder is not None
        return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])

    def create_database(self, template: str | None = None, name: str | None = None) -> str:
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.split("/")[3].split("?")[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.folder is None:
            return
        try:
            self._run(str(server_binaries() / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        except (ClusterError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
