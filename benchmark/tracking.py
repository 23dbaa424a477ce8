"""MLflow tracking of finished runs: params, metrics, tags and artifacts, read from a run folder.

The run folder written by the harness (``manifest.json``, ``scores.json``, predictions, per-question
table, plots) is the record; MLflow is an index over such records. So a run never depends on the store:
when the store cannot be reached the run still completes, everything stays in the folder, and
:func:`log_run_folder` can log the folder later (``vcval runs --log OUT``).

Store: ``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///mlflow.db`` in the working folder. MLflow's own
HTTP retries (7 retries, 120 s timeout by default) are cut to 0 retries and a 10 s timeout unless the user
set ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``MLFLOW_HTTP_REQUEST_TIMEOUT``, so an unreachable server costs
seconds, not minutes. A ``sqlite:///`` store that cannot be written (a read-only file or folder) is found
by :func:`sqlite_store_problem` before MLflow is called, since MLflow would retry it for about 100 s.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.harness.manifest import RunManifest
    from benchmark.scoring import ScoreFile

DEFAULT_EXPERIMENT = "vcval"
TAG_PREFIX = "vcval."
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000
_MAX_PARAM_LENGTH = 6000


@dataclass(frozen=True)
class TrackingResult:
    """Where a run was logged, or why it was not (``warning``)."""

    uri: str
    experiment: str
    run_id: str | None = None
    warning: str | None = None

    @property
    def logged(self) -> bool:
        return self.run_id is not None

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "experiment": self.experiment, "run_id": self.run_id, "warning": self.warning}


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite store ``mlflow.db`` in the working folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def missing_local_store(uri: str) -> Path | None:
    """The SQLite file of a ``sqlite:///`` store that does not exist yet (reading it would create it)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return None if path.is_file() else path


@contextmanager
def short_http_timeouts() -> Iterator[None]:
    """MLflow HTTP retries cut short (unless the user chose their own) and its INFO chatter hidden."""
    import mlflow  # noqa: F401 - configures its loggers on import, so quieten them after it

    added = [name for name in _HTTP_DEFAULTS if name not in os.environ]
    for name in added:
        os.environ[name] = _HTTP_DEFAULTS[name]
    # MLflow and alembic announce every store creation and migration at INFO: not the user's concern.
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def sqlite_store_problem(uri: str) -> str | None:
    """Why a ``sqlite:///PATH`` store cannot be written (None when it can, or for another kind of store).

    MLflow retries opening a SQLite store it cannot open ten times with back-off (about 100 s) and prints
    SQLAlchemy tracebacks for a read-only one; this check takes milliseconds. It opens the database (which
    creates an empty one, as MLflow would) and writes inside a transaction that it rolls back."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
    try:
        if path.is_dir():
            return f"{path} is a folder, not a database file"
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(path), timeout=5)
        try:
            connection.execute("BEGIN IMMEDIATE")  # the write lock: refused for a read-only file
            connection.execute("CREATE TABLE vcval_write_probe (x)")  # needs the journal: a read-only folder
            connection.rollback()
        finally:
            connection.close()
    except (OSError, sqlite3.Error) as error:
        return f"cannot write the SQLite database {path}: {error}"
    return None


def run_params(manifest: RunManifest) -> dict[str, str]:
    """MLflow params of a run: the system, split and seed, ``config.<key>`` and ``protocol.<field>``."""
    params = {"system": manifest.system, "split": manifest.split, "seed": manifest.seed}
    params.update({f"config.{key}": value for key, value in _flatten(manifest.config).items()})
    params.update({f"protocol.{key}": value for key, value in manifest.protocol.to_dict().items()})
    return {key: _text(value)[:_MAX_PARAM_LENGTH] for key, value in params.items()}


def run_metrics(scores: ScoreFile, manifest: RunManifest) -> dict[str, float]:
    """The scorer's metrics under their own keys, their interval ends as ``<key>_ci_low`` / ``_ci_high``,
    and the run's wall time."""
    metrics = {key: float(value) for key, value in scores.metrics.items() if value is not None}
    for key, interval in scores.ci.items():
        if interval is not None and None not in interval:
            metrics[f"{key}_ci_low"], metrics[f"{key}_ci_high"] = float(interval[0]), float(interval[1])
    metrics["wall_time_s"] = manifest.wall_time_s
    return metrics


def run_tags(manifest: RunManifest) -> dict[str, str]:
    """What a reader needs to trust and reproduce the run: protocol hash, data fingerprint, git commit,
    package versions, device, seed, wall time."""
    environment, protocol = manifest.environment, manifest.protocol
    tags = {
        "protocol": protocol.name,
        "protocol_hash": manifest.protocol_hash,
        "data_fingerprint": protocol.data_fingerprint,
        "dataset": protocol.dataset,
        "system": manifest.system,
        "split": manifest.split,
        "task": protocol.task,
        "corpus": protocol.corpus,
        "seed": manifest.seed,
        "seeds": list(protocol.seeds),
        "git_commit": environment.git_commit,
        "git_dirty": environment.git_dirty,
        "versions": environment.versions,
        "device": environment.device,
        "wall_time_s": round(manifest.wall_time_s, 3),
        "deviations": list(manifest.deviations),
    }
    hashes = manifest.files_sha256 or {}
    if "predictions.jsonl" in hashes:  # lets `vcval submit --from-run RUN_ID` check the folder still holds it
        tags["predictions_sha256"] = hashes["predictions.jsonl"]
    tags.update(manifest.labels)
    return {f"{TAG_PREFIX}{key}": _text(value) for key, value in tags.items()}


def log_run_folder(run_dir: str | Path, *, uri: str | None = None, experiment: str | None = None,
                   run_name: str | None = None) -> TrackingResult:
    """Log a finished run folder to MLflow. Never raises for store problems: a result with a warning
    says what went wrong, and the folder keeps everything. A folder whose files do not match its
    manifest raises :class:`~benchmark.harness.run_folder.RunFolderError`."""
    from benchmark.harness.run_folder import read_verified_manifest
    from benchmark.scoring import read_score_file

    run_dir = Path(run_dir)
    manifest = read_verified_manifest(run_dir)  # a folder whose files are not the run's is refused, not logged
    scores = read_score_file(run_dir / "scores.json")
    uri = uri or default_tracking_uri()
    experiment = experiment or manifest.experiment or DEFAULT_EXPERIMENT
    run_name = run_name or manifest.run_name or manifest.system
    try:
        problem = sqlite_store_problem(uri)
        if problem:
            raise OSError(problem)
        with short_http_timeouts():
            run_id = _log(uri, experiment, run_name, run_dir, manifest, scores)
    except Exception as error:  # the store's failure must not fail the run: everything is in run_dir
        message = _one_line(error)
        return TrackingResult(uri, experiment, None,
                              f"the MLflow tracking store {uri} could not be used ({message}); the run is complete "
                              f"and everything is in {run_dir}; log it later with `vcval runs --log {run_dir}`")
    return TrackingResult(uri, experiment, run_id)


def _log(uri: str, experiment: str, run_name: str, run_dir: Path, manifest: RunManifest,
         scores: ScoreFile) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(tracking_uri=uri)
    experiment_id = _experiment_id(client, experiment, local_artifact_root(uri))
    run = client.create_run(experiment_id, run_name=run_name, tags=run_tags(manifest))
    run_id = run.info.run_id
    try:
        params = [Param(key, value) for key, value in run_params(manifest).items()]
        for start in range(0, len(params), _PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[start:start + _PARAMS_PER_BATCH])
        timestamp = manifest.finished_at_ms
        metrics = [Metric(key, value, timestamp, 0) for key, value in run_metrics(scores, manifest).items()]
        for start in range(0, len(metrics), _METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[start:start + _METRICS_PER_BATCH])
        client.log_artifacts(run_id, str(run_dir))
        client.log_batch(run_id, tags=[RunTag(f"{TAG_PREFIX}run_dir", str(run_dir.resolve()))])
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id


def local_artifact_root(uri: str) -> str | None:
    """Where a new experiment of a local SQLite store keeps its artifacts: ``mlruns/`` beside the database
    (MLflow's own default is ``./mlruns`` in the working folder, wherever the database is). None for a
    server, which decides itself."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "mlruns").resolve().as_uri()


def _experiment_id(client, name: str, artifact_location: str | None = None) -> str:
    """The experiment's id, creating it if needed (another process may create it at the same moment)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except MlflowException:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


@dataclass(frozen=True)
class RunRow:
    """One recorded run as `vcval runs` lists it."""

    run_id: str
    experiment: str
    name: str
    system: str
    split: str
    protocol: str
    protocol_hash: str
    data_fingerprint: str
    seed: str
    started: str
    metrics: dict[str, float]


def list_runs(*, uri: str | None = None, experiment: str | None = None, system: str | None = None,
              protocol_hash: str | None = None, limit: int = 50) -> list[RunRow]:
    """Recorded runs, newest first, optionally of one experiment / system / protocol (hash prefix)."""
    from datetime import datetime, timezone

    from mlflow import MlflowClient

    from benchmark.errors import ConfigError

    uri = uri or default_tracking_uri()
    try:
        with short_http_timeouts():
            client = MlflowClient(tracking_uri=uri)
            if experiment:
                found = client.get_experiment_by_name(experiment)
                if found is None:
                    raise ConfigError(f"no experiment '{experiment}' in the tracking store {uri}")
                experiment_ids = [found.experiment_id]
            else:
                experiment_ids = [e.experiment_id for e in client.search_experiments()]
            names = {e.experiment_id: e.name for e in client.search_experiments()}
            filters = [f"tags.`{TAG_PREFIX}system` = '{system}'"] if system else []
            runs = client.search_runs(experiment_ids, " and ".join(filters), max_results=max(limit * 4, limit),
                                      order_by=["attributes.start_time DESC"]) if experiment_ids else []
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(f"cannot read the MLflow tracking store {uri}: {_one_line(error)}") from error
    rows = []
    for run in runs:
        tags = run.data.tags
        if f"{TAG_PREFIX}protocol_hash" not in tags:
            continue  # not a vcval run
        if protocol_hash and not tags[f"{TAG_PREFIX}protocol_hash"].startswith(protocol_hash):
            continue
        started = datetime.fromtimestamp(run.info.start_time / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
        rows.append(RunRow(run.info.run_id, names.get(run.info.experiment_id, run.info.experiment_id),
                           run.info.run_name or "", tags.get(f"{TAG_PREFIX}system", ""),
                           tags.get(f"{TAG_PREFIX}split", ""), tags.get(f"{TAG_PREFIX}protocol", ""),
                           tags[f"{TAG_PREFIX}protocol_hash"], tags.get(f"{TAG_PREFIX}data_fingerprint", ""),
                           tags.get(f"{TAG_PREFIX}seed", ""), started, dict(run.data.metrics)))
        if len(rows) == limit:
            break
    return rows


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def warn(message: str) -> None:
    """Print a warning the user cannot miss (stderr, prefixed)."""
    print(f"WARNING: {message}", file=sys.stderr)
