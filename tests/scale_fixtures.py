"""Helpers for tests that need a database of their own (backup and restore, a rewritten audit chain) or real
`mac` processes (several web servers and workers against one PostgreSQL and one broker)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from app.config import Settings, psycopg_url, with_database
from app.database_setup import migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def server_url(settings: Settings) -> str:
    """The test session's server, on its maintenance database."""
    assert settings.database_url
    return with_database(settings.database_url, "postgres")


def create_database(settings: Settings, name: str) -> str:
    with psycopg.connect(psycopg_url(server_url(settings)), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(settings.database_url, name)


def drop_database(settings: Settings, name: str) -> None:
    with psycopg.connect(psycopg_url(server_url(settings)), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class ScratchDatabase:
    """A migrated database of the test's own, and the settings and environment of `mac` commands on it."""

    name: str
    settings: Settings
    env: dict[str, str]

    @property
    def owner_url(self) -> str:
        assert self.settings.database_url
        return self.settings.database_url

    def mac(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run a `mac` command on this database, as an operator would."""
        return subprocess.run([sys.executable, "-m", "app.cli", *args], env={**self.env, **(env or {})},
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


def scratch_database(settings: Settings, data_dir: Path, *, migrated: bool = True) -> ScratchDatabase:
    name = f"mac_scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = create_database(settings, name)
    scratch_settings = settings.model_copy(update={"database_url": url, "data_dir": data_dir,
                                                   "app_database_url": None, "broker_url": None})
    if migrated:
        migrate(scratch_settings)
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": settings.resolved_secret_key()}
    env.pop("BROKER_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return ScratchDatabase(name=name, settings=scratch_settings, env=env)


@pytest.fixture
def scratch(settings, tmp_path) -> Iterator[ScratchDatabase]:
    database = scratch_database(settings, tmp_path / "datos")
    yield database
    drop_database(settings, database.name)


# --- Real processes ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MacProcess:
    kind: str  # "serve" or "worker"
    process: subprocess.Popen
    log_path: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as when a machine dies."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class Cluster:
    """N `mac serve` and M `mac worker` processes on one database and one broker."""

    env: dict[str, str]
    log_dir: Path
    processes: list[MacProcess] = field(default_factory=list)

    @property
    def webs(self) -> list[MacProcess]:
        return [p for p in self.processes if p.kind == "serve"]

    @property
    def workers(self) -> list[MacProcess]:
        return [p for p in self.processes if p.kind == "worker"]

    def start(self, kind: str, *, env: dict[str, str] | None = None) -> MacProcess:
        port = free_port() if kind == "serve" else None
        args = [sys.executable, "-m", "app.cli", kind]
        if port:
            args += ["--port", str(port)]
        else:
            args += ["--threads", "2"]
        log_path = self.log_dir / f"{kind}-{len(self.processes)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(args, env={**self.env, **(env or {})}, cwd=PROJECT_ROOT, stdout=log,
                                       stderr=subprocess.STDOUT)
        started = MacProcess(kind, process, log_path, port)
        self.processes.append(started)
        return started

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        for web in self.webs:
            while True:
                if web.process.poll() is not None:
                    raise AssertionError(f"mac serve terminó (código {web.process.returncode}):\n{web.log()}")
                try:
                    if httpx.get(f"{web.url}/ready", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"mac serve no quedó listo en {timeout} s:\n{web.log()}")
                time.sleep(0.3)
        for worker in self.workers:
            while "Worker iniciado" not in worker.log():
                if worker.process.poll() is not None:
                    raise AssertionError(f"mac worker terminó (código {worker.process.returncode}):\n{worker.log()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"mac worker no arrancó en {timeout} s:\n{worker.log()}")
                time.sleep(0.3)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@contextmanager
def mac_cluster(env: dict[str, str], log_dir: Path, *, webs: int = 2, workers: int = 2) -> Iterator[Cluster]:
    """Start ``webs`` web servers and ``workers`` workers with ``env`` and wait until they are up; stop them all
    at the end (their logs stay in ``log_dir``)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(env=env, log_dir=log_dir)
    try:
        for _ in range(webs):
            cluster.start("serve")
        for _ in range(workers):
            cluster.start("worker")
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()
