"""A throwaway PostgreSQL cluster for tests, benchmarks and load tests (Debian's packages).

`Cluster.start()` runs `initdb` and `pg_ctl` (from /usr/lib/postgresql/*/bin) in a temp
directory, listening on 127.0.0.1 on a free port only, and `stop()` removes it all. The
server refuses to run as root: as root (CI) it runs as the `postgres` system user that the
Debian package creates (through `runuser`), with the directory chowned to it. Trust
authentication on loopback is for this throwaway cluster only.

`JOURNAL_URL=postgresql://user:pw@host:port/db` names an existing server instead: nothing is
started, and each test database is created and dropped on that server (the user needs
CREATEDB). `fresh_database()` gives every test its own database.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tests.support.procs import free_port

SYSTEM_USER = "postgres"


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"{name} not found under /usr/lib/postgresql/*/bin: apt-get install postgresql")
    return found[-1]  # the newest major version installed


def available() -> bool:
    return bool(os.environ.get("JOURNAL_URL")) or bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


@dataclass
class Cluster:
    url: str  # the maintenance database ("postgres") of the server
    directory: str | None = None  # set when this process started the server
    port: int = 0

    @classmethod
    def start(cls, max_connections: int = 300) -> "Cluster":
        if os.environ.get("JOURNAL_URL"):
            return cls(os.environ["JOURNAL_URL"])
        directory = tempfile.mkdtemp(prefix="tp-pg-")
        data, port = os.path.join(directory, "data"), free_port()
        as_user = _as_user(directory)
        try:
            _run(as_user + [pg_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                            "--no-locale"])
            opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -k {directory} -c max_connections={max_connections}"
                    " -c fsync=on -c synchronous_commit=on")
            _run(as_user + [pg_bin("pg_ctl"), "-D", data, "-l", os.path.join(directory, "server.log"), "-o", opts,
                            "-w", "-t", "60", "start"])
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return cls(f"postgresql://postgres@127.0.0.1:{port}/postgres", directory, port)

    def stop(self) -> None:
        if self.directory is None:
            return
        data = os.path.join(self.directory, "data")
        subprocess.run(_as_user(self.directory, chown=False) + [pg_bin("pg_ctl"), "-D", data, "-m", "immediate",
                                                                 "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def log(self) -> str:
        path = os.path.join(self.directory or "", "server.log")
        return open(path, errors="replace").read() if self.directory and os.path.exists(path) else ""

    # -- databases -------------------------------------------------------------------
    def create_database(self, prefix: str = "tp") -> str:
        import psycopg
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.url, name)

    def drop_database(self, url: str) -> None:
        import psycopg
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _as_user(directory: str, chown: bool = True) -> list[str]:
    """[] when not root; else a `runuser` prefix, the directory given to the system user."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam(SYSTEM_USER)
    except KeyError as exc:
        raise RuntimeError(f"running as root and no {SYSTEM_USER!r} user: apt-get install postgresql") from exc
    if chown:
        for root, dirs, files in os.walk(directory):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.chown(name, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", SYSTEM_USER, "--"]


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[-6:])} failed ({done.returncode}): {done.stderr[-2000:] or done.stdout[-2000:]}")
