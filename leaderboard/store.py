"""The submissions store: one folder per accepted submission, never a partial one.

Layout (see :mod:`leaderboard.entry` for the files)::

    submissions/
      <entry id>/            meta.json  scores.json  per_query.jsonl.gz  predictions.jsonl.gz
      .staging-<...>/        a submission being written (ignored by readers)

An entry id is content-addressed: a hash of the predictions' content (gzip or not), the split, the
bound protocol and the data fingerprint. A submission is written completely into a staging folder and
then renamed into place in one atomic ``os.rename``; a folder under its final name is therefore always
complete. Two concurrent submits of different files write different folders; two of the same file race
for the same name, one rename wins and the other finds the entry already there. There is no shared index
to lock, so any number of ``vcval submit`` may run at once and readers never see a half-written entry.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmark.data.loader import Benchmark
from benchmark.errors import DataError, InputError, VcvalError
from benchmark.predictions import DEFAULT_MAX_BYTES, check_predictions
from benchmark.protocol import Protocol, load_protocol, protocol_from_mapping
from benchmark.scoring import ScoreReport, score
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

    def entries(self) -> list[Entry]:
        """Every stored entry, oldest first. A malformed entry folder raises :class:`DataError`."""
        if not self.root.is_dir():
            return []
        folders = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        entries = [read_entry(folder) for folder in folders]
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
            staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{entry_id}-", dir=self.root))
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
        return SubmitResult(read_entry(self.root / entry_id), created=True)

    @staticmethod
    def _write(staging: Path, meta: EntryMeta, report: ScoreReport, predictions_path: Path) -> None:
        _copy_gzipped(predictions_path, staging / PREDICTIONS_FILE)
        _write_json(staging / META_FILE, meta.to_dict())
        _write_json(staging / SCORES_FILE, report.to_dict())
        write_per_query(staging / PER_QUERY_FILE, report.per_query)
        for path in staging.iterdir():
            _fsync(path)
        os.chmod(staging, 0o755)


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
