"""Run folders: never reused by accident, built aside and moved into place complete, checked when read.

A run folder (see :mod:`benchmark.harness.runner` for its files) is what gets published, so what lies in
it must be what was run:

* :func:`refuse_existing_run` stops a command from writing into a folder that already holds a run,
  unless the user asked to replace it (``--overwrite``);
* the runner writes every file into a staging folder beside the target (:func:`staging_folder`) and
  :func:`move_into_place` renames it to the target only once the run is complete, so an interrupted run
  leaves the old folder as it was (and a hidden ``.staging-*`` folder that readers skip);
* the manifest records the sha256 of the files that carry the numbers (:data:`HASHED_FILES`), and
  :func:`read_verified_manifest` refuses a folder whose files do not match it, naming the file. Folders
  written before the hashes were recorded are still checked through what ``scores.json`` records: the
  sha256 of the predictions it scored and the system and protocol hash it scored them under.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmark.errors import VcvalError

MANIFEST_FILE = "manifest.json"
PREDICTIONS_FILE = "predictions.jsonl"
SCORES_FILE = "scores.json"
# The files whose content the manifest vouches for: the run's answers and the numbers computed from them.
HASHED_FILES = (PREDICTIONS_FILE, SCORES_FILE)
# Any of these in a folder means it holds (part of) a run.
RUN_MARKERS = (MANIFEST_FILE, PREDICTIONS_FILE, SCORES_FILE)
STAGING_PREFIX = ".staging-"


class RunFolderError(VcvalError):
    """A run folder that cannot be written (it holds another run) or trusted (its files changed)."""


def holds_run(folder: str | Path) -> bool:
    folder = Path(folder)
    return any((folder / name).exists() for name in RUN_MARKERS)


def refuse_existing_run(out_dir: str | Path, overwrite: bool, *, option: str = "--overwrite") -> None:
    """Raise unless ``out_dir`` is free: absent or empty. ``overwrite`` allows replacing a run (the old
    folder is removed only when the new run is complete); a non-empty folder that holds no run is never
    replaced, since it may be anything (``--out runs`` for ``--out runs/bm25``)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RunFolderError(f"{out_dir} is a file, not a run folder")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not holds_run(out_dir):
        raise RunFolderError(f"{out_dir} is not empty and holds no run, so it is not replaced; give a new or empty "
                             "folder as --out")
    if overwrite:
        return
    if holds_run(out_dir):
        manifest = _read_json(out_dir / MANIFEST_FILE)
        what = f" (system '{manifest.get('system')}', split {manifest.get('split')})" if isinstance(manifest, dict) \
            else ""
        raise RunFolderError(f"{out_dir} already holds a run{what}; give {option} to replace it, or another --out")


def staging_folder(out_dir: str | Path) -> Path:
    """A new, empty hidden folder beside ``out_dir`` (same file system, so the final rename is atomic)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name}-", dir=out_dir.parent))


def move_into_place(staging: Path, out_dir: str | Path) -> None:
    """Rename the complete ``staging`` folder to ``out_dir``; an existing ``out_dir`` (which the caller
    allowed to be replaced) is moved aside first and removed after, so no moment mixes two runs."""
    out_dir = Path(out_dir)
    os.chmod(staging, 0o755)  # mkdtemp makes it private; a run folder is as readable as any other
    replaced = None
    if out_dir.exists():
        replaced = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name}-replaced-", dir=out_dir.parent))
        os.rename(out_dir, replaced / "old")
    os.rename(staging, out_dir)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_files(folder: Path, names: tuple[str, ...] = HASHED_FILES) -> dict[str, str]:
    """``{file name: sha256}`` for the manifest's ``files_sha256``."""
    return {name: file_sha256(folder / name) for name in names}


def read_verified_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The run's manifest, after checking that the folder's files are those the run wrote.

    Raises :class:`RunFolderError` naming the first file that does not match (or is missing)."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / MANIFEST_FILE
    manifest = _read_json(manifest_path)
    if not isinstance(manifest, dict):
        raise RunFolderError(f"{manifest_path}: not a readable run manifest (a JSON object)")
    recorded = manifest.get("files_sha256")
    if recorded is not None:
        if not isinstance(recorded, dict):
            raise RunFolderError(f"{manifest_path}: field 'files_sha256' is not an object")
        for name, expected in recorded.items():
            path = run_dir / str(name)
            if not path.is_file():
                raise RunFolderError(f"{path}: missing, but the run's manifest records it")
            if file_sha256(path) != expected:
                raise RunFolderError(f"{path} does not match the run's manifest (sha256 differs): the folder mixes "
                                     "files of different runs or was edited; rerun it")
    _check_scores_against_run(run_dir, manifest, checked_by_hash=recorded is not None)
    return manifest


def _check_scores_against_run(run_dir: Path, manifest: dict, checked_by_hash: bool) -> None:
    """What ``scores.json`` says it scored must be this folder's predictions under this run's protocol."""
    scores_path, predictions_path = run_dir / SCORES_FILE, run_dir / PREDICTIONS_FILE
    scores = _read_json(scores_path)
    if not isinstance(scores, dict):
        raise RunFolderError(f"{scores_path}: missing or not a JSON object")
    meta = scores.get("meta") if isinstance(scores.get("meta"), dict) else {}
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
    for key in ("system", "protocol_hash"):
        if key in meta and key in manifest and meta[key] != manifest[key]:
            raise RunFolderError(f"{scores_path} was scored for {key} {meta[key]!r} but the run's manifest says "
                                 f"{manifest[key]!r}: the folder mixes files of different runs; rerun it")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RunFolderError(f"{path}: cannot be read as JSON ({' '.join(str(error).split())[:200]})") from error
