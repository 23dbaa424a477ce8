"""MLflow tracking: the default local store, a real `mlflow server`, and an unreachable store."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient

from benchmark.harness import run_system
from benchmark.tracking import default_tracking_uri, list_runs, log_run_folder
from vcval.main import main

pytestmark = pytest.mark.usefixtures("overlap_system")


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """The seconds each ``time.sleep`` of this process asked for. A retry loop's waiting is its sleeps: summing
    them bounds it without a clock, which a machine busy with other work would slow down."""
    asked: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return asked


_SLEEP_LOGGER = """import atexit, os, time
_asked, _sleep = [], time.sleep
def _logged(seconds):
    _asked.append(seconds)
    _sleep(seconds)
time.sleep = _logged
atexit.register(lambda: open(os.environ["VCVAL_SLEEP_LOG"], "w").write(str(sum(_asked))))
"""


def _sleep_logging_env(folder: Path) -> dict[str, str]:
    """An environment whose Python processes write the seconds they slept to ``folder/slept`` at exit."""
    (folder / "sitecustomize.py").write_text(_SLEEP_LOGGER)
    return {"PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(folder)]),
            "VCVAL_SLEEP_LOG": str(folder / "slept")}


@pytest.fixture(scope="module")
def migrated_store(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store with its schema created once (the migrations take seconds); tests copy it."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _read_back(client: MlflowClient, run_id: str, result, tmp_path: Path) -> None:
    """The run's params, metrics, tags and artifacts, as the MLflow client returns them."""
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["system"] == "overlap" and params["seed"] == "42" and params["split"] == "test"
    assert params["config.seed"] == "42" and params["protocol.max_candidates"] == "100"
    assert params["protocol.corpus"] == "split"
    for key in ("video_R1", "R1_IoU0.5", "R10_IoU0.5", "R1_mIoU", "loc_mIoU"):
        assert metrics[key] == pytest.approx(result.metrics[key])  # the scorer's keys, as they are
    assert metrics["R1_IoU0.5_ci_low"] == pytest.approx(result.ci["R1_IoU0.5"][0])
    assert tags["vcval.protocol_hash"] == result.protocol.hash
    assert tags["vcval.data_fingerprint"] == result.protocol.data_fingerprint
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", tags["vcval.git_commit"])
    assert tags["vcval.device"].startswith(("cpu", "cuda"))
    assert "mlflow" in json.loads(tags["vcval.versions"]) and tags["vcval.seed"] == "42"
    assert float(tags["vcval.wall_time_s"]) > 0
    artifacts = {item.path for item in client.list_artifacts(run_id)}
    assert {"manifest.json", "predictions.jsonl", "scores.json", "per_query.jsonl", "plots"} <= artifacts
    assert {item.path for item in client.list_artifacts(run_id, "plots")} == {"plots/iou_distribution.png",
                                                                          "plots/recall_at_k.png"}
    local = client.download_artifacts(run_id, "scores.json", str(tmp_path))
    assert json.loads(Path(local).read_text())["metrics"] == result.metrics


def test_default_store_is_sqlite_in_the_working_folder(tiny_benchmark, tmp_path, monkeypatch, capsys,
                                                       migrated_store):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    shutil.copy(migrated_store, tmp_path / "mlflow.db")
    result = run_system("overlap", tiny_benchmark, tmp_path / "run", echo=False)
    assert result.tracking.logged and (tmp_path / "mlflow.db").is_file()
    _read_back(MlflowClient(default_tracking_uri()), result.tracking.run_id, result, tmp_path / "download")
    rows = list_runs()
    assert [row.run_id for row in rows] == [result.tracking.run_id]
    assert rows[0].protocol_hash == result.protocol.hash and rows[0].metrics["R1_mIoU"] == result.metrics["R1_mIoU"]
    # A run folder can be logged again later (e.g. after the store was down), and `vcval runs` lists both.
    again = log_run_folder(tmp_path / "run")
    assert again.logged and again.run_id != result.tracking.run_id
    assert main(["runs", "--metrics", "R1_mIoU,video_R1"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("overlap") == 2 and f"{result.metrics['R1_mIoU']:.2f}" in listing


def test_unreachable_store_warns_and_the_run_completes(tiny_benchmark, tmp_path, monkeypatch, capsys, slept):
    uri = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = run_system("overlap", tiny_benchmark, tmp_path / "run")
    assert not result.tracking.logged and uri in result.tracking.warning
    assert "everything is in" in result.tracking.warning and "vcval runs --log" in result.tracking.warning
    assert sum(slept) < 30  # MLflow's own retries (7, with back-off and 120 s timeouts) are cut short
    stderr = capsys.readouterr().err
    assert f"WARNING: the MLflow tracking store {uri} could not be used" in stderr
    for name in ("manifest.json", "predictions.jsonl", "scores.json", "per_query.jsonl", "tracking.json"):
        assert (tmp_path / "run" / name).is_file()
    assert json.loads((tmp_path / "run" / "tracking.json").read_text())["run_id"] is None
    assert result.metrics["R1_mIoU"] >= 0
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # the short timeouts were only for us


@pytest.mark.server
@pytest.mark.slow
def test_a_real_mlflow_server_receives_the_run(tiny_benchmark, tmp_path, migrated_store):
    shutil.copy(migrated_store, tmp_path / "server.db")
    port = _free_port()
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=(tmp_path / "server.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True, env=env)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start:\n{(tmp_path / 'server.log').read_text()[-2000:]}")
                time.sleep(0.5)
        result = run_system("overlap", tiny_benchmark, tmp_path / "run", tracking_uri=uri, echo=False)
        assert result.tracking.logged, result.tracking.warning
        assert result.tracking.uri == uri
        _read_back(MlflowClient(uri), result.tracking.run_id, result, tmp_path / "download")
        assert (tmp_path / "server-artifacts").is_dir()  # artifacts went through the server
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()


def _log_command(run_dir: Path, uri: str) -> list[str]:
    return [sys.executable, "-m", "vcval", "runs", "--log", str(run_dir), "--tracking-uri", uri]


def test_a_sqlite_store_that_cannot_be_opened_fails_over_in_seconds(tiny_benchmark, tmp_path, capsys, slept):
    """MLflow retries such a store ten times with back-off (about 100 s) before giving up."""
    run_system("overlap", tiny_benchmark, tmp_path / "run", track=False, echo=False)
    (tmp_path / "store").mkdir()  # a folder where the database file should be: SQLite cannot open it
    result = run_system("overlap", tiny_benchmark, tmp_path / "run", tracking_uri=f"sqlite:///{tmp_path / 'store'}",
                        echo=False, overwrite=True)
    assert sum(slept) < 5  # no retries with back-off
    assert not result.tracking.logged and "is a folder, not a database file" in result.tracking.warning
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("WARNING: the MLflow tracking store") and "Traceback" not in err


@pytest.mark.parametrize("existing", [False, True], ids=["new-database", "existing-database"])
def test_a_read_only_sqlite_store_fails_over_in_seconds_with_one_line(tiny_benchmark, migrated_store, tmp_path,
                                                                    existing):
    run_system("overlap", tiny_benchmark, tmp_path / "run", track=False, echo=False)
    folder = tmp_path / "read-only"
    folder.mkdir()
    if existing:
        shutil.copy(migrated_store, folder / "mlflow.db")
    command = _log_command(tmp_path / "run", f"sqlite:///{folder / 'mlflow.db'}")
    if os.geteuid() == 0:  # permissions do not stop root: mount the folder read-only in a private namespace
        if shutil.which("unshare") is None:
            pytest.skip("running as root without unshare: cannot make a read-only folder")
        script = f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", script, "sh", *command]
    else:
        for path in folder.iterdir():
            path.chmod(0o444)
        folder.chmod(0o555)
    logs = tmp_path / "sleep-log"
    logs.mkdir()
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, **_sleep_logging_env(logs)})
    folder.chmod(0o755)
    if done.returncode != 1 and "mount" in done.stderr:
        pytest.skip(f"cannot mount a read-only folder here: {done.stderr.strip()[:200]}")
    assert done.returncode == 1, done.stderr
    assert float((logs / "slept").read_text()) < 5  # no retries with back-off (MLflow's take about 100 s)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("WARNING: the MLflow tracking store") and "cannot write the SQLite database" in done.stderr


def test_a_store_elsewhere_keeps_the_artifacts_beside_it(tiny_benchmark, tmp_path, monkeypatch, migrated_store):
    """MLflow's own default puts a SQLite store's artifacts in ./mlruns of whatever folder the run starts in."""
    work, store = tmp_path / "work", tmp_path / "store"
    work.mkdir()
    store.mkdir()
    monkeypatch.chdir(work)
    shutil.copy(migrated_store, store / "mlflow.db")
    result = run_system("overlap", tiny_benchmark, tmp_path / "run", tracking_uri=f"sqlite:///{store / 'mlflow.db'}",
                        echo=False)
    assert result.tracking.logged
    assert list(work.iterdir()) == []
    assert [path.name for path in (store / "mlruns").rglob("predictions.jsonl")] == ["predictions.jsonl"]
