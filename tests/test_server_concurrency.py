"""The quota under real concurrency (a running uvicorn on loopback, 20 simultaneous uploads, on SQLite and
PostgreSQL) and a server killed with SIGKILL in the middle of scoring: on restart no partial entry, the
quota slot given back, the audit log intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from leaderboard.entry import SubmissionInfo
from leaderboard.store import SubmissionStore
from server import admin, audit
from server.app import create_app
from server.client import upload
from server.models import INTERRUPTED, SCORED, SCORING, Submission
from server.service import SCORE_DELAY_ENV
from tests.server_support import (
    db_url,  # noqa: F401  (fixture)
    free_port,
    postgres_cluster,  # noqa: F401  (fixture)
    predictions_file,
    running_server,
    service_for,
    settings_for,
)

REPO = Path(__file__).resolve().parents[1]


def test_twenty_concurrent_uploads_with_five_left_score_exactly_five(tiny_benchmark, tiny_data_dir, db_url,  # noqa: F811
                                                                     tmp_path):
    service = service_for(tiny_benchmark, tiny_data_dir, db_url, tmp_path / "store", daily_quota=7)
    token = admin.add_team(service, "racers")
    files = [predictions_file(tmp_path, tiny_benchmark, f"p{i}", 0.5, 0.5, seed=i) for i in range(20)]
    app = create_app(service.settings, service)
    statuses: list[int] = []
    with running_server(app) as url:
        for path in files[:2]:  # two scored already: five left
            assert upload(path, url, token, {"method": "warm-up"}).status == 201
        barrier = threading.Barrier(20, timeout=30)

        def one(path: Path) -> None:
            barrier.wait()
            statuses.append(upload(path, url, token, {"method": path.stem}).status)

        threads = [threading.Thread(target=one, args=(path,)) for path in files]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "an upload did not finish within 120 s"
    assert sorted(statuses) == [201] * 5 + [429] * 15
    with service.db.reading() as session:
        states = list(session.execute(select(Submission.status)).scalars())
        assert states.count(SCORED) == 7 and len(states) == 7
        assert service.quota(session, 1).left == 0
    assert audit.verify(service.db).ok


@pytest.mark.slow
def test_a_server_killed_while_scoring_leaves_no_partial_entry(tiny_benchmark, tiny_data_dir, tmp_path):
    settings = settings_for(tiny_data_dir, f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "store")
    service = service_for(tiny_benchmark, tiny_data_dir, settings.db_url, settings.store)
    token = admin.add_team(service, "alpha")
    path = predictions_file(tmp_path, tiny_benchmark, "p", 0.5, 0.5, seed=0)
    port = free_port()
    env = dict(os.environ, **{SCORE_DELAY_ENV: "60", "PYTHONPATH": str(REPO)})
    process = subprocess.Popen(
        [sys.executable, "-m", "vcval", "serve", "--data-dir", str(tiny_data_dir), "--db",
         settings.db_url, "--store", str(settings.store), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until(lambda: _answers(f"http://127.0.0.1:{port}/api/health"), "the server to start", 90)
        replies = []
        uploader = threading.Thread(target=lambda: replies.append(_try_upload(path, port, token)), daemon=True)
        uploader.start()
        _wait_until(lambda: _states(service) == [SCORING], "the upload to reach scoring", 60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        uploader.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert replies and replies[0] is None  # the client saw the connection drop, not a score
    # what `vcval serve` does when it starts again
    assert service.recover() == [1]
    assert _states(service) == [INTERRUPTED]
    assert not settings.upload_dir.exists()
    with service.db.reading() as session:
        assert service.quota(session, 1).scored_total == 0
    assert SubmissionStore(settings.store).entries() == []
    assert not any(p.name.startswith(".staging") for p in Path(settings.store).glob("*"))
    assert audit.verify(service.db).ok


def test_a_scoring_cut_off_after_the_store_write_is_finished_on_restart(tiny_benchmark, tiny_data_dir, tmp_path):
    service = service_for(tiny_benchmark, tiny_data_dir, f"sqlite:///{tmp_path / 'db'}", tmp_path / "store")
    admin.add_team(service, "alpha")
    path = predictions_file(tmp_path, tiny_benchmark, "p", 0.5, 0.5, seed=0)
    from server.metadata import Metadata
    from server.uploads import save_upload

    with open(path, "rb") as source:
        saved = save_upload(source, tmp_path / "copy", path.name, 1 << 20, 1 << 20)
    with service.db.writing() as session:  # the state a kill between the store's rename and the commit leaves
        session.add(service.new_submission(1, saved, Metadata("m")))
    service.challenge.store_entry(saved.path, SubmissionInfo("m"), "test")
    assert service.recover_interrupted() == [1]
    assert _states(service) == [SCORED]
    assert audit.verify(service.db).ok


def _states(service) -> list[str]:
    with service.db.reading() as session:
        return list(session.execute(select(Submission.status).order_by(Submission.id)).scalars())


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _try_upload(path: Path, port: int, token: str):
    try:
        return upload(path, f"http://127.0.0.1:{port}", token, {"method": "m"}).status
    except Exception:
        return None


def _wait_until(condition, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
