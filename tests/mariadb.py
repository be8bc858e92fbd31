"""A real MariaDB for the Novo SGA connector's tests and benchmark, started like the embedded PostgreSQL: a
private data directory (mariadb-install-db), a free port on the loopback, the server run as root with
--user=root, stopped and removed at the end. A missing MariaDB fails (scripts/setup.sh --test installs it).

Each Novo database is created from its published DDL (tests/novosga/schema_v1.sql, schema_v2.sql), with a
read-only user (SELECT only) for the connector, as a centre would give it.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from tests.net import free_port

SCHEMAS = Path(__file__).parent / "novosga"
READER, READER_PASSWORD = "lector_mac", "clave-de-solo-lectura"


def _binary(name: str) -> str:
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).exists()),
                                       None)
    if found is None:
        raise RuntimeError(f"No se encontró {name}: instale mariadb-server (scripts/setup.sh --test).")
    return found


@dataclass
class MariaDB:
    port: int
    socket: str
    _names = itertools.count(1)

    def root(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(unix_socket=self.socket, user="root", database=database, autocommit=True,
                               charset="utf8mb4")

    def create_novo(self, version: int) -> str:
        """A new, empty Novo SGA database of that version readable by the read-only user; returns its name."""
        name = f"novosga{version}_{next(self._names)}"
        ddl = (SCHEMAS / f"schema_v{version}.sql").read_text(encoding="utf-8")
        with self.root() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            cur.execute(f"USE {name}")
            for statement in _statements(ddl):
                cur.execute(statement)
            cur.execute(f"GRANT SELECT ON {name}.* TO '{READER}'@'%'")
        return name

    def dsn(self, database: str, *, user: str = READER, password: str = READER_PASSWORD) -> str:
        return f"mysql://{user}:{password}@127.0.0.1:{self.port}/{database}"


def _statements(ddl: str) -> list[str]:
    lines = [line for line in ddl.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@contextmanager
def running_mariadb() -> Iterator[MariaDB]:
    base = Path(tempfile.mkdtemp(prefix="mac-mariadb-"))
    data, sock, pid = base / "data", str(base / "mysql.sock"), base / "mariadb.pid"
    # root without a password (not socket authentication), so the suite also runs as a user other than root;
    # the server listens only on the loopback and its private socket, and lives as long as the test session.
    install = subprocess.run([_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=root",
                              "--auth-root-authentication-method=normal", "--skip-test-db"],
                             capture_output=True, text=True)
    if install.returncode != 0:
        raise RuntimeError(f"mariadb-install-db falló: {install.stdout[-2000:]} {install.stderr[-2000:]}")
    port = free_port()
    log = base / "error.log"
    server = subprocess.Popen([_binary("mariadbd"), "--no-defaults", f"--datadir={data}", "--user=root",
                               f"--port={port}", "--bind-address=127.0.0.1", f"--socket={sock}",
                               f"--pid-file={pid}", f"--log-error={log}", "--skip-log-bin",
                               "--innodb-buffer-pool-size=64M", "--max-connections=50"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(unix_socket=sock, user="root").close()
                break
            except pymysql.err.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"MariaDB no arrancó: {log.read_text(errors='replace')[-2000:]}") from None
                time.sleep(0.2)
        maria = MariaDB(port=port, socket=sock)
        with maria.root() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE USER '{READER}'@'%' IDENTIFIED BY '{READER_PASSWORD}'")
        yield maria
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    """The test session's MariaDB (started on first use)."""
    with running_mariadb() as server:
        yield server
