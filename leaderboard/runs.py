"""Recorded harness runs as leaderboard entries: run folders, and runs logged to MLflow.

A run folder (written by ``vcval run``) holds ``manifest.json`` (system, seed, bound protocol and its
hash, grid labels), ``scores.json``, ``per_query.jsonl`` and ``predictions.jsonl``. MLflow indexes such
folders: the run's ``vcval.run_dir`` tag names the folder, and its artifacts are a copy of it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from benchmark.errors import ConfigError, DataError
from leaderboard.entry import Entry, EntryMeta

RUN_DIR_TAG = "vcval.run_dir"


def read_manifest(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"not a readable run folder: {error}", path=str(run_dir)) from error


def entry_from_run(run_dir: Path) -> Entry:
    """A harness run folder as an entry: its system (or grid variant) as the name, its bound protocol."""
    manifest = read_manifest(run_dir)
    try:
        scores = json.loads((run_dir / "scores.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"not a readable run folder: {error}", path=str(run_dir)) from error
    protocol = manifest.get("protocol") or {}
    labels = manifest.get("labels") or {}
    for field_name, value in (("protocol.data_fingerprint", protocol.get("data_fingerprint")),
                              ("protocol_hash", manifest.get("protocol_hash"))):
        if not isinstance(value, str):
            raise DataError("missing from the run's manifest", path=str(run_dir / "manifest.json"), field=field_name)
    meta = EntryMeta(
        entry_id=f"run-{manifest['protocol_hash'][:8]}-{run_dir.name}", name=labels.get("variant") or manifest["system"],
        authors="", url="", paper="", notes=f"seed {manifest.get('seed')}", submitted=str(manifest.get("finished_at_ms", "")),
        dataset=str(protocol.get("dataset") or ""), split=str(manifest.get("split") or protocol.get("split")),
        task=str(protocol.get("task", "corpus")), protocol=str(protocol.get("name", "")),
        protocol_hash=manifest["protocol_hash"], data_fingerprint=protocol["data_fingerprint"],
        predictions_sha256=str(scores.get("meta", {}).get("predictions_sha256") or ""),
        scorer_version=str(scores.get("meta", {}).get("scorer_version") or ""),
        source=f"run:{run_dir}" + (f" grid:{labels['grid']}" if labels.get("grid") else ""),
    )
    return Entry(path=run_dir, meta=meta, metrics={k: float(v) for k, v in scores["metrics"].items()},
                 ci={k: (float(v[0]), float(v[1])) for k, v in scores.get("ci", {}).items()
                     if v and None not in v and not np.isnan(v).any()},
                 n_questions=int(scores["n_questions"]), scores=scores, per_query_file="per_query.jsonl")


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
    """A run folder given by its path or by its MLflow run id."""
    path = Path(reference)
    if (path / "manifest.json").is_file():
        return path
    from mlflow import MlflowClient

    from benchmark.tracking import default_tracking_uri

    client = MlflowClient(tracking_uri=tracking_uri or default_tracking_uri())
    try:
        run = client.get_run(reference)
    except Exception as error:  # MLflow raises its own exception types for unknown ids and stores
        raise ConfigError(f"'{reference}' is neither a run folder (with manifest.json) nor a run id in the MLflow "
                          f"store {client.tracking_uri}: {' '.join(str(error).split())[:200]}") from error
    return _folder_of(client, run)


def _folder_of(client, run) -> Path:
    recorded = run.data.tags.get(RUN_DIR_TAG)
    if recorded and (Path(recorded) / "manifest.json").is_file():
        return Path(recorded)
    target = Path(tempfile.mkdtemp(prefix=f"vcval-run-{run.info.run_id[:8]}-"))
    return Path(client.download_artifacts(run.info.run_id, "", str(target)))


