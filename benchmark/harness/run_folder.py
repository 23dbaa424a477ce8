"""Run folders: never reused by accident, built aside and moved into place complete, checked when read.

A run folder (see :mod:`benchmark.harness.runner` for its files) is what gets published, so what lies in
it must be what was run:

* :func:`refuse_existing_run` stops a command from writing into a folder that already holds a run,
  unless the user asked to replace it (``--overwrite``), and even then replaces only a folder this
  command made, holding only the files it wrote (:mod:`benchmark.ownership`);
* the runner writes every file into a staging folder beside the target
  (:func:`benchmark.ownership.staging_folder`), marks it as a run folder, and renames it to the target
  only once the run is complete, so an interrupted run leaves the old folder as it was (and a hidden
  ``.staging-*`` folder that readers skip);
* the manifest (:class:`~benchmark.harness.manifest.RunManifest`, typed and versioned) records the sha256
  of the files that carry the numbers (:data:`HASHED_FILES`), and :func:`read_verified_manifest` refuses a folder whose files do not match it, naming the file. Folders
  written before the hashes were recorded are still checked through what ``scores.json`` records: the
  sha256 of the predictions it scored and the system and protocol hash it scored them under.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark.errors import VcvalError
from benchmark.harness.manifest import ManifestError, RunManifest
from benchmark.hashing import file_sha256
from benchmark.ownership import STAGING_PREFIX, OwnershipError, check_replaceable, is_free, owned_by  # noqa: F401 - readers skip STAGING_PREFIX
from benchmark.scoring import ScoreFile

MANIFEST_FILE = "manifest.json"
PREDICTIONS_FILE = "predictions.jsonl"
SCORES_FILE = "scores.json"
# The files whose content the manifest vouches for: the run's answers and the numbers computed from them.
HASHED_FILES = (PREDICTIONS_FILE, SCORES_FILE)
# Any of these in a folder means it holds (part of) a run.
RUN_MARKERS = (MANIFEST_FILE, PREDICTIONS_FILE, SCORES_FILE)


class RunFolderError(VcvalError):
    """A run folder that cannot be written (it holds another run) or trusted (its files changed)."""


def holds_run(folder: str | Path) -> bool:
    folder = Path(folder)
    return any((folder / name).exists() for name in RUN_MARKERS)


def refuse_existing_run(out_dir: str | Path, overwrite: bool, *, kind: str = "run", what: str = "vcval run",
                        option: str = "--overwrite") -> None:
    """Raise unless ``out_dir`` is free (absent or empty), or ``overwrite`` and ``out_dir`` is a folder
    of ``kind`` that this command made and that holds only the files it wrote (see
    :func:`benchmark.ownership.check_replaceable`); the old folder is removed only once the new run is
    complete. A folder the command did not make is never replaced, whatever the options."""
    out_dir = Path(out_dir)
    if is_free(out_dir):
        return
    if overwrite or not owned_by(out_dir, kind):
        try:
            check_replaceable(out_dir, kind, what=what)
        except OwnershipError as error:
            raise RunFolderError(str(error)) from None
        return
    value = _read_json(out_dir / MANIFEST_FILE)
    try:
        manifest = RunManifest.from_mapping(value, str(out_dir / MANIFEST_FILE))
        detail = f" (system '{manifest.system}', split {manifest.split})"
    except ManifestError:  # no manifest, or not one this vcval reads: the folder is refused all the same
        detail = ""
    raise RunFolderError(f"{out_dir} already holds a run{detail}; give {option} to replace it, or another --out")


def hash_files(folder: Path, names: tuple[str, ...] = HASHED_FILES) -> dict[str, str]:
    """``{file name: sha256}`` for the manifest's ``files_sha256``."""
    return {name: file_sha256(folder / name) for name in names}


def read_verified_manifest(run_dir: str | Path) -> RunManifest:
    """The run's manifest, after checking that the folder's files are those the run wrote.

    Raises :class:`RunFolderError` naming the first file that does not match (or is missing), and
    :class:`~benchmark.harness.manifest.ManifestError` for a manifest that is malformed or of an unknown
    schema version."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / MANIFEST_FILE
    value = _read_json(manifest_path)
    if not isinstance(value, dict):
        raise RunFolderError(f"{manifest_path}: not a readable run manifest (a JSON object)")
    manifest = RunManifest.from_mapping(value, str(manifest_path))
    recorded = manifest.files_sha256
    if recorded is not None:
        for name, expected in recorded.items():
            path = run_dir / name
            if not path.is_file():
                raise RunFolderError(f"{path}: missing, but the run's manifest records it")
            if file_sha256(path) != expected:
                raise RunFolderError(f"{path} does not match the run's manifest (sha256 differs): the folder mixes "
                                     "files of different runs or was edited; rerun it")
    _check_scores_against_run(run_dir, manifest, checked_by_hash=recorded is not None)
    return manifest


def _check_scores_against_run(run_dir: Path, manifest: RunManifest, checked_by_hash: bool) -> None:
    """What ``scores.json`` says it scored must be this folder's predictions under this run's protocol."""
    scores_path, predictions_path = run_dir / SCORES_FILE, run_dir / PREDICTIONS_FILE
    scores = _read_json(scores_path)
    if not isinstance(scores, dict):
        raise RunFolderError(f"{scores_path}: missing or not a JSON object")
    meta = ScoreFile.from_mapping(scores, str(scores_path)).meta
    scored_sha = meta.get("predictions_sha256")
    if not checked_by_hash:
        if not scored_sha:
            raise RunFolderError(f"{run_dir}: neither its manifest nor {SCORES_FILE} records which predictions "
                                 "were scored, so the folder cannot be checked; rerun it")
        if not predictions_path.is_file():
            raise RunFolderError(f"{predictions_path}: missing")
        if file_sha256(predictions_path) != scored_sha:
            raise RunFolderError(f"{predictions_path} is not the file that {scores_path} scored (sha256 differs): the "
                                 "folder mixes files of different runs; rerun it")
    for key, recorded in (("system", manifest.system), ("protocol_hash", manifest.protocol_hash)):
        if key in meta and meta[key] != recorded:
            raise RunFolderError(f"{scores_path} was scored for {key} {meta[key]!r} but the run's manifest says "
                                 f"{recorded!r}: the folder mixes files of different runs; rerun it")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RunFolderError(f"{path}: cannot be read as JSON ({' '.join(str(error).split())[:200]})") from error
