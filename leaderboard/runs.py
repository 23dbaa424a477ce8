"""Recorded harness runs as leaderboard entries: run folders, and runs logged to MLflow.

A run folder (written by ``vcval run``) holds ``manifest.json`` (system, seed, bound protocol and its
hash, grid labels), ``scores.json``, ``per_query.jsonl`` and ``predictions.jsonl``. MLflow indexes such
folders: the run's ``vcval.run_dir`` tag names the folder, and its artifacts are a copy of it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np

from benchmark.errors import ConfigError, DataError
from benchmark.harness.manifest import RunManifest
from benchmark.harness.run_folder import PREDICTIONS_FILE, STAGING_PREFIX, read_verified_manifest
from benchmark.hashing import file_sha256
from benchmark.options import flatten_config
from benchmark.scoring import read_score_file
from leaderboard.entry import Entry, EntryMeta, check_percentage

RUN_DIR_TAG = "vcval.run_dir"
PREDICTIONS_SHA_TAG = "vcval.predictions_sha256"


def read_manifest(run_dir: Path) -> RunManifest:
    """The run's manifest, once its files are checked against it (a mixed or edited folder is refused)."""
    if not (run_dir / "manifest.json").is_file():
        raise DataError("not a run folder (no manifest.json)", path=str(run_dir))
    return read_verified_manifest(run_dir)


def entry_from_run(run_dir: Path) -> Entry:
    """A harness run folder as an entry: its system (or grid variant) as the name, its bound protocol."""
    manifest = read_manifest(run_dir)
    scores = read_score_file(run_dir / "scores.json")
    protocol, labels = manifest.protocol, manifest.labels
    if protocol.data_fingerprint is None:
        raise DataError("missing from the run's manifest", path=str(run_dir / "manifest.json"),
                        field="protocol.data_fingerprint")
    meta = EntryMeta.from_dict({
        "entry_id": f"run-{manifest.protocol_hash[:8]}-{run_dir.name}",
        "name": str(labels.get("variant") or manifest.system), "authors": "", "url": "", "paper": "",
        "notes": f"seed {manifest.seed}", "submitted": str(manifest.finished_at_ms),
        "dataset": str(protocol.dataset or ""), "split": manifest.split or protocol.split,
        "task": protocol.task, "protocol": protocol.name,
        "protocol_hash": manifest.protocol_hash, "data_fingerprint": protocol.data_fingerprint,
        "predictions_sha256": str(scores.meta.get("predictions_sha256") or ""),
        "scorer_version": scores.scorer_version,
        "source": f"run:{run_dir}" + (f" grid:{labels['grid']}" if labels.get("grid") else ""),
    }, str(run_dir / "manifest.json"))
    scores_path = str(run_dir / "scores.json")
    metrics = {key: check_percentage(value, scores_path, f"metrics.{key}") for key, value in scores.metrics.items()}
    return Entry(path=run_dir, meta=meta, metrics=metrics,
                 ci={k: (float(v[0]), float(v[1])) for k, v in scores.ci.items()
                     if v and None not in v and not np.isnan(v).any()},
                 n_questions=scores.n_questions, scores=scores.to_dict(), per_query_file="per_query.jsonl",
                 settings=settings_without_seeds(manifest.config), seed=manifest.seed)


def settings_without_seeds(config: dict) -> dict[str, object]:
    """A run's configuration, flattened, without its seeds (every key whose last part is ``seed``): what
    tells two systems apart, where the seed tells two runs of one system apart."""
    return {key: value for key, value in sorted(flatten_config(config).items()) if key.split(".")[-1] != "seed"}


def mlflow_run_folders(experiment: str, tracking_uri: str | None = None) -> list[Path]:
    """Run folders of an MLflow experiment: the recorded local folder when it still exists, else the run's
    artifacts (which are the folder) downloaded to a temporary folder."""
    from mlflow import MlflowClient

    from benchmark.tracking import default_tracking_uri

    client = MlflowClient(tracking_uri=tracking_uri or default_tracking_uri())
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ConfigError(f"no MLflow experiment '{experiment}' in {client.tracking_uri}")
    return [_folder_of(client, run) for run in client.search_runs([found.experiment_id],
                                                                  "attributes.status = 'FINISHED'")]


def resolve_run(reference: str, tracking_uri: str | None = None) -> Path:
    """A run folder given by its path or by its MLflow run id.

    For a run id, the folder MLflow recorded is used only if it still holds that run (see
    :func:`_still_holds`); otherwise the run's logged artifacts, which are the folder as it was logged."""
    path = Path(reference)
    if (path / "manifest.json").is_file():
        return path
    from mlflow import MlflowClient

    from benchmark.tracking import default_tracking_uri, short_http_timeouts

    client = MlflowClient(tracking_uri=tracking_uri or default_tracking_uri())
    try:
        with short_http_timeouts():
            run = client.get_run(reference)
    except Exception as error:  # MLflow raises its own exception types for unknown ids and stores
        raise ConfigError(f"'{reference}' is neither a run folder (with manifest.json) nor a run id in the MLflow "
                          f"store {client.tracking_uri}: {' '.join(str(error).split())[:200]}") from error
    return _folder_of(client, run)


def _folder_of(client, run) -> Path:
    recorded = run.data.tags.get(RUN_DIR_TAG)
    if recorded and _still_holds(Path(recorded), run):
        return Path(recorded)
    local = _local_artifacts(run.info.artifact_uri)
    if local is not None and (local / "manifest.json").is_file():
        return local  # the logged copy is already a folder here: read it where it is, copy nothing
    target = Path(tempfile.mkdtemp(prefix=f"vcval-run-{run.info.run_id[:8]}-"))
    try:
        folder = Path(client.download_artifacts(run.info.run_id, "", str(target)))
    except Exception as error:  # the artifacts may be gone with the store's artifact folder
        shutil.rmtree(target, ignore_errors=True)
        raise ConfigError(f"MLflow run {run.info.run_id}: its folder {recorded or '(not recorded)'} no longer holds "
                          f"this run and its artifacts cannot be read ({' '.join(str(error).split())[:200]})") from error
    if not (folder / "manifest.json").is_file():
        raise ConfigError(f"MLflow run {run.info.run_id}: its folder {recorded or '(not recorded)'} no longer holds "
                          "this run and its logged artifacts hold no manifest.json")
    return folder


def _local_artifacts(uri: str | None) -> Path | None:
    """The folder of a local artifact URI (``file:///...`` or a plain path), else None."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    return Path(uri) if not parsed.scheme else None


def _still_holds(run_dir: Path, run) -> bool:
    """Whether ``run_dir`` still holds the MLflow ``run``: the run id in its ``tracking.json``, or, for a
    folder logged later with ``vcval runs --log``, the predictions' sha256 that the run was tagged with."""
    if not (run_dir / "manifest.json").is_file():
        return False
    try:
        record = json.loads((run_dir / "tracking.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if isinstance(record, dict) and record.get("run_id"):
        return record["run_id"] == run.info.run_id
    logged_sha = run.data.tags.get(PREDICTIONS_SHA_TAG)
    predictions = run_dir / PREDICTIONS_FILE
    return bool(logged_sha) and predictions.is_file() and file_sha256(predictions) == logged_sha


def is_staging(path: Path) -> bool:
    """Inside a folder still being written (a run or a store entry): never read as a record."""
    return any(part.startswith(STAGING_PREFIX) for part in path.parts)
