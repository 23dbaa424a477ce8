"""The submissions store: one folder per accepted submission, never a partial one.

Layout (see :mod:`leaderboard.entry` for the files)::

    submissions/
      <entry id>/            meta.json  scores.json  per_query.jsonl.gz  predictions.jsonl.gz
      .staging-<...>/        a submission being written (ignored by readers; one left by a killed submit
                             is removed by the next submit once it is an hour old and not locked)

An entry id is content-addressed: a hash of the predictions' content (gzip or not), the split, the
bound protocol and the data fingerprint. A submission is written completely into a staging folder and
then renamed into place in one atomic ``os.rename``; a folder under its final name is therefore always
complete. Two concurrent submits of different files write different folders; two of the same file race
for the same name, one rename wins and the other finds the entry already there. There is no shared index
to lock, so any number of ``vcval submit`` may run at once and readers never see a half-written entry.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmark.data.loader import Benchmark
from benchmark.errors import DataError, InputError, VcvalError
from benchmark.predictions import DEFAULT_MAX_BYTES, check_predictions
from benchmark.protocol import Protocol, load_protocol, protocol_from_mapping
from benchmark.scoring import ScoreReport, score
from benchmark.tracking import warn
from leaderboard import escape
from leaderboard.entry import (
    META_FILE,
    PER_QUERY_FILE,
    PREDICTIONS_FILE,
    SCORES_FILE,
    Entry,
    EntryMeta,
    SubmissionInfo,
    read_entry,
    write_per_query,
)
from leaderboard.runs import read_manifest

DEFAULT_STORE = Path("submissions")
STAGING_PREFIX = ".staging-"
# A staging folder older than this (and not locked by a running submit) was left by a killed submit.
STALE_STAGING_S = 3600.0
ENTRY_ID_LENGTH = 20
_GZIP_MAGIC = b"\x1f\x8b"


class StoreError(VcvalError):
    """The store cannot be written (read-only, full, not a folder); nothing was stored."""

    def __init__(self, root: Path, error: OSError) -> None:
        super().__init__(f"cannot write to the submissions store {root}: {error.strerror or error}"
                         f"{f' ({error.filename})' if error.filename else ''}; nothing was stored")


@dataclass(frozen=True)
class SubmitResult:
    entry: Entry
    created: bool  # False when the same predictions were already in the store for this split and protocol


class SubmissionStore:
    """A folder of accepted submissions; see the module docstring for the layout and its guarantees."""

    def __init__(self, root: str | Path = DEFAULT_STORE) -> None:
        self.root = Path(root)

    def entries(self, strict: bool = True) -> list[Entry]:
        """Every stored entry, oldest first, each checked against its own record (:func:`read_checked_entry`).

        A folder that is not a well-formed entry raises :class:`DataError` naming it; with
        ``strict=False`` it is skipped with a warning that names it, and the rest are returned."""
        if not self.root.is_dir():
            return []
        entries = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                entries.append(read_checked_entry(folder))
            except VcvalError as error:
                if strict:
                    raise
                warn(f"skipping {folder}, which is not a readable entry: {error}")
        return sorted(entries, key=lambda entry: (entry.meta.submitted, entry.meta.entry_id))

    def get(self, entry_id: str) -> Entry | None:
        folder = self.root / entry_id
        return read_entry(folder) if folder.is_dir() else None

    def add(self, entry_id: str, meta: EntryMeta, report: ScoreReport, predictions_path: Path) -> SubmitResult:
        """Write a scored submission atomically under ``entry_id``; an existing entry wins."""
        existing = self.get(entry_id)
        if existing is not None:
            return SubmitResult(existing, created=False)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.remove_stale_staging()
            staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{entry_id}-", dir=self.root))
            lock = _lock_folder(staging)  # tells remove_stale_staging of other submits that it is in use
        except OSError as error:
            raise StoreError(self.root, error) from error
        try:
            self._write(staging, meta, report, predictions_path)
            try:
                os.rename(staging, self.root / entry_id)
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                return SubmitResult(read_entry(self.root / entry_id), created=False)
            _fsync(self.root)
        except OSError as error:  # a read-only or full store: the staging folder goes, nothing is stored
            raise StoreError(self.root, error) from error
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
            os.close(lock)
        return SubmitResult(read_entry(self.root / entry_id), created=True)

    def remove_stale_staging(self, older_than_s: float = STALE_STAGING_S) -> list[Path]:
        """Remove ``.staging-*`` folders left by a killed submit: older than ``older_than_s`` (by
        modification time) and not locked by a submit still writing. Returns what was removed."""
        removed = []
        now = time.time()
        for folder in self.root.glob(f"{STAGING_PREFIX}*"):
            try:
                if not folder.is_dir() or now - folder.stat().st_mtime < older_than_s:
                    continue
                descriptor = os.open(folder, os.O_RDONLY)
            except OSError:
                continue  # gone meanwhile, or not ours to read
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a submit is still writing it
            finally:
                os.close(descriptor)  # closing releases the lock taken just above, if any
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        return removed

    @staticmethod
    def _write(staging: Path, meta: EntryMeta, report: ScoreReport, predictions_path: Path) -> None:
        _copy_gzipped(predictions_path, staging / PREDICTIONS_FILE)
        _write_json(staging / META_FILE, meta.to_dict())
        _write_json(staging / SCORES_FILE, report.to_dict())
        write_per_query(staging / PER_QUERY_FILE, report.per_query)
        for path in staging.iterdir():
            _fsync(path)
        os.chmod(staging, 0o755)


def read_checked_entry(folder: Path) -> Entry:
    """:func:`read_entry`, after checking that the stored predictions are those the entry was scored on:
    the sha256 of their content must be the one ``meta.json`` and ``scores.json`` record."""
    entry = read_entry(folder)
    stored = folder / PREDICTIONS_FILE
    if not stored.is_file():
        raise DataError("missing", path=str(stored))
    actual = _content_sha256(stored)
    if actual != entry.meta.predictions_sha256:
        raise DataError("does not match the entry's meta.json (predictions_sha256 differs): the entry was edited",
                        path=str(stored))
    scored = (entry.scores.get("meta") or {}).get("content_sha256") if isinstance(entry.scores.get("meta"), dict) \
        else None
    if scored is not None and scored != actual:
        raise DataError("scores.json was computed for other predictions (content_sha256 differs)",
                        path=str(folder / SCORES_FILE))
    return entry


def _lock_folder(folder: Path) -> int:
    descriptor = os.open(folder, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def submit_predictions(store: SubmissionStore, predictions_path: str | Path, benchmark: Benchmark, split: str,
                       info: SubmissionInfo, protocol: str | Protocol | None = None, *,
                       allow_missing: bool = False, source: str | None = None) -> SubmitResult:
    """Validate, score (with the protocol's bootstrap intervals) and store a predictions file.

    An invalid file raises :class:`~benchmark.predictions.PredictionsError` with every problem and
    leaves the store untouched. Submitting the same content again returns the existing entry."""
    predictions_path = Path(predictions_path)
    if not info.name.strip():
        raise InputError("a submission needs a non-empty name", field="name")
    for field_name in ("url", "paper"):
        problem = escape.link_problem(getattr(info, field_name))
        if problem:
            raise InputError(f"{getattr(info, field_name)!r} {problem}; give an http(s) link or leave it out",
                             field=field_name)
    split_data = benchmark.split(split)
    if not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol)
    bound = protocol.bind(benchmark.name, benchmark.fingerprint, split_data.name)
    content_sha256 = _content_sha256(predictions_path)
    entry_id = make_entry_id(content_sha256, split_data.name, bound.hash)
    existing = store.get(entry_id)
    if existing is not None:
        return SubmitResult(existing, created=False)
    corpus = benchmark.corpus(split_data.name, bound.corpus_setting)
    loaded = check_predictions(predictions_path, split_data, corpus, task=bound.task, allow_missing=allow_missing)
    report = score(loaded, split_data, task=bound.task, video_rank=bound.video_rank, bootstrap=bound.bootstrap,
                   seed=bound.bootstrap_seed,
                   meta={"dataset": benchmark.name, "data_fingerprint": benchmark.fingerprint,
                         "protocol": bound.name, "protocol_hash": bound.hash, "content_sha256": content_sha256})
    meta = EntryMeta(
        entry_id=entry_id, name=info.name.strip(), authors=info.authors, url=info.url, paper=info.paper,
        notes=info.notes, submitted=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        dataset=benchmark.name, split=split_data.name, task=bound.task, protocol=bound.name,
        protocol_hash=bound.hash, data_fingerprint=benchmark.fingerprint, predictions_sha256=content_sha256,
        scorer_version=str(report.meta["scorer_version"]), source=source or f"file:{predictions_path.name}",
    )
    return store.add(entry_id, meta, report, predictions_path)


def make_entry_id(content_sha256: str, split: str, protocol_hash: str) -> str:
    """Same content, split and bound protocol (which pins the data fingerprint) give the same id."""
    key = json.dumps([content_sha256, split, protocol_hash]).encode()
    return hashlib.sha256(key).hexdigest()[:ENTRY_ID_LENGTH]


def _content_sha256(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """sha256 of the decompressed content, so a file and its gzip are the same submission."""
    digest = hashlib.sha256()
    if path.is_dir():
        raise InputError("a folder, not a predictions file", path=str(path))
    try:
        with open(path, "rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
        total = 0
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                total += len(block)
                if total > max_bytes:
                    raise InputError(f"larger than {max_bytes} bytes (after decompression)", path=str(path))
                digest.update(block)
    except FileNotFoundError as error:
        raise InputError("no such file", path=str(path)) from error
    except (OSError, EOFError) as error:
        raise InputError(f"cannot be read: {getattr(error, 'strerror', None) or error}", path=str(path)) from error
    return digest.hexdigest()


def _copy_gzipped(source: Path, target: Path) -> None:
    with open(source, "rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    if compressed:
        shutil.copyfile(source, target)
        return
    with open(source, "rb") as reader, open(target, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)


def _write_json(path: Path, value: Mapping) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False, allow_nan=True) + "\n", encoding="utf-8")


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def publish_run(store: SubmissionStore, run_dir: Path, benchmark: Benchmark, info: SubmissionInfo) -> SubmitResult:
    """Submit a harness run folder: its predictions, re-validated and re-scored under the run's own bound
    protocol on ``benchmark`` (which must be the run's data: the protocol refuses another fingerprint)."""
    manifest = read_manifest(run_dir)
    try:
        protocol = protocol_from_mapping(manifest["protocol"], str(run_dir / "manifest.json"))
        split = manifest["split"]
    except KeyError as error:
        raise DataError("missing from the run's manifest", path=str(run_dir / "manifest.json"),
                        field=str(error.args[0])) from error
    return submit_predictions(store, run_dir / "predictions.jsonl", benchmark, split, info, protocol,
                              source=f"run:{run_dir.resolve()}")
