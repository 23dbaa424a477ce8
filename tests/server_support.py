"""Shared pieces of the server tests: a throwaway PostgreSQL cluster, a server on the tiny synthetic data
for either database, a uvicorn running in a thread on a free loopback port, and a recorder of every
response body (the no-leak test greps it)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from benchmark.protocol import load_protocol
from leaderboard.store import SubmissionStore
from server.challenge import Challenge
from server.service import Service, make_service
from server.settings import ServerSettings
from tests.leaderboard_helpers import write_simulated

ARTIFACTS = Path(os.environ.get("VCVAL_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
BACKENDS = ("sqlite", "postgresql")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in PG_BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    return None


class PostgresCluster:
    """``initdb`` + ``pg_ctl`` in a temporary folder on a free port (as the ``postgres`` user when run as
    root, since PostgreSQL refuses root); ``database()`` makes a fresh database per test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.data = folder / "data"
        self.socket_dir = folder / "socket"
        self._count = 0
        self._as_user: list[str] = []
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(folder, "postgres")
        self.socket_dir.mkdir()
        if self._as_user:
            shutil.chown(self.socket_dir, "postgres")

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as_user, *command], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> None:
        self._run(_pg_tool("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(_pg_tool("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w",
                  "-t", "60", "start")

    def stop(self) -> None:
        subprocess.run([*self._as_user, _pg_tool("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)

    def database(self) -> str:
        import psycopg

        self._count += 1
        name = f"vcval_{self._count}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory) -> Iterator[PostgresCluster | None]:
    if _pg_tool("initdb") is None or _pg_tool("pg_ctl") is None:
        message = "PostgreSQL (initdb, pg_ctl) is not installed: the PostgreSQL variants need it"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(message)
        yield None
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # the postgres user must reach the folder: the suite's own temporary folders are private to root
        folder = Path(tempfile.mkdtemp(prefix="vcval-postgres-", dir="/tmp"))
        folder.chmod(0o755)
    else:
        folder = tmp_path_factory.mktemp("postgres")
    cluster = PostgresCluster(folder)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if folder.parent == Path("/tmp"):
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A fresh, empty database: SQLite in a file, or PostgreSQL (skipped with a reason where it is absent)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    cluster = request.getfixturevalue("postgres_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed on this machine")
    return cluster.database()


def settings_for(data_dir: Path, db_url: str, store: Path, **overrides) -> ServerSettings:
    return ServerSettings(data_dir=str(data_dir), db_url=db_url, store=str(store), **overrides)


def service_for(benchmark, data_dir: Path, db_url: str, store: Path, **overrides) -> Service:
    """A service on an already loaded benchmark (loading data is the slow part; each test gets its own DB)."""
    settings = settings_for(data_dir, db_url, store, **overrides)
    challenge = Challenge(benchmark, load_protocol(settings.protocol), SubmissionStore(store),
                          settings.public_questions, settings.public_seed)
    return make_service(settings, challenge)


def predictions_file(folder: Path, benchmark, name: str, first_rate: float, jitter: float, seed: int) -> Path:
    split = benchmark.split("test")
    return write_simulated(folder / f"{name}.jsonl", split, benchmark.corpus("test", "split"),
                           first_rate=first_rate, jitter=jitter, seed=seed)


class Recorder:
    """Every response body seen by the tests of one module, kept for the no-leak grep (and written out)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def add(self, response) -> None:
        self.bodies.append(response.text)

    def dump(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        path.write_text("\n".join(json.dumps(body) for body in self.bodies) + "\n", encoding="utf-8")
        return path


def gold_leaks(text: str, split) -> list[str]:
    """What in ``text`` looks like a gold answer: a gold_* field, or some question's start and end as two
    consecutive numbers (however formatted)."""
    found = [word for word in ("gold_start", "gold_end", "gold_video") if word in text]
    numbers = [float(token) for token in _NUMBER.findall(_TIMESTAMP.sub(" ", html.unescape(text)))]
    pairs = {(a.start, a.end): a.qid for a in split.annotations}
    found += [f"qid {pairs[pair]}: {pair}" for pair in zip(numbers, numbers[1:], strict=False) if pair in pairs]
    return found


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d)?")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@contextmanager
def running_server(app, port: int | None = None) -> Iterator[str]:
    """uvicorn serving ``app`` in a thread on 127.0.0.1; stops itself when the block ends."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
