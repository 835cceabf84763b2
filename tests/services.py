"""PostgreSQL and Redis for the tests: the machine's own when they answer (127.0.0.1:5432 as ``postgres``
without a password, 127.0.0.1:6379 without AUTH), else a private instance started from the Debian packages'
binaries on a free port (``scripts/setup --services`` installs them). Never a skip.
``DAWSWS_PRIVATE_SERVICES=1`` forces the private instances; ``DAWSWS_PG_CTL_GLOB`` (default
``/usr/lib/postgresql/*/bin/pg_ctl``) and ``DAWSWS_REDIS_SERVER`` (default ``redis-server``) say where the
binaries are, as for ``scripts/install-services``.

Names (databases, key prefixes) are unique to this checkout and run, so helpers sharing a server never meet.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count()


def unique_name(prefix: str) -> str:
    """``prefix`` + a hash of this checkout's path + the pid + a counter: unique per checkout and run."""
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    return f"{prefix}_{checkout}_{os.getpid()}_{next(_counter)}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    private: bool

    def connect(self, dbname: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user, dbname=dbname, autocommit=True,
                               connect_timeout=10)

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh, uniquely named database, dropped afterwards."""
        name = unique_name("dawsws_test")
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            with self.connect() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_ctl() -> str:
    pattern = os.environ.get("DAWSWS_PG_CTL_GLOB") or "/usr/lib/postgresql/*/bin/pg_ctl"
    found = sorted(glob.glob(pattern))
    if not found:
        raise RuntimeError(f"No usable PostgreSQL on 127.0.0.1:5432 and no server binaries ({pattern}) to start one: "
                           "run scripts/setup --services, or install Debian's 'postgresql' package "
                           "(apt-get install postgresql).")
    return found[-1]


def _machine_postgres() -> Postgres | None:
    """The machine's PostgreSQL, if it answers and lets ``postgres`` in without a password (as CI's does)."""
    if os.environ.get("DAWSWS_PRIVATE_SERVICES") or not reachable("127.0.0.1", 5432):
        return None
    server = Postgres("127.0.0.1", 5432, "postgres", private=False)
    try:
        server.connect().close()
    except Exception:  # e.g. Debian's own cluster, which asks for a password over TCP
        return None
    return server


def _machine_redis() -> bool:
    """True when the machine's Redis answers PING without AUTH."""
    if os.environ.get("DAWSWS_PRIVATE_SERVICES") or not reachable("127.0.0.1", 6379):
        return False
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _until_accepting(server: Postgres, timeout: float = 30.0) -> None:
    """The executor returns once the port listens; on a busy machine the server may still answer "the database
    system is starting up" for a moment: wait until it takes a connection."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            server.connect().close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """The machine's PostgreSQL, or a private one (``DAWSWS_PRIVATE_SERVICES=1`` forces the private one)."""
    machine = _machine_postgres()
    if machine is not None:
        yield machine
        return
    from pytest_postgresql.executor import PostgreSQLExecutor

    pg_ctl = _pg_ctl()
    workdir = Path(tempfile.mkdtemp(prefix="dawsws-pg-"))
    executable = pg_ctl
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root: run pg_ctl as the packages' 'postgres' user.
        account = pwd.getpwnam("postgres")
        os.chown(workdir, account.pw_uid, account.pw_gid)
        wrapper = workdir / "pg_ctl"
        wrapper.write_text(f'#!/bin/sh\nexec runuser -u postgres -- "{pg_ctl}" "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        executable = str(wrapper)
    port = free_port()
    executor = PostgreSQLExecutor(executable=executable, host="127.0.0.1", port=port, datadir=str(workdir / "data"),
                                  unixsocketdir=str(workdir), logfile=str(workdir / "postgres.log"),
                                  startparams="-w", dbname="postgres", user="postgres")
    executor.start()
    server = Postgres("127.0.0.1", port, "postgres", private=True)
    try:
        _until_accepting(server)
        yield server
    finally:
        executor.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis URL: the machine's server, or a private ``redis-server`` on a free port."""
    if _machine_redis():
        yield "redis://127.0.0.1:6379/0"
        return
    name = os.environ.get("DAWSWS_REDIS_SERVER") or "redis-server"
    binary = shutil.which(name)
    if binary is None:
        raise RuntimeError(f"No usable Redis on 127.0.0.1:6379 and no {name} to start one: run scripts/setup "
                           "--services, or install Debian's 'redis-server' package.")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="dawsws-redis-")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not reachable("127.0.0.1", port, 0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
