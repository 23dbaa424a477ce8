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
import math
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmark.data.loader import Benchmark
from benchmark.errors import DataError, InputError, VcvalError
from benchmark.hashing import file_sha256
from benchmark.predictions import DEFAULT_MAX_BYTES, LoadedPredictions, PredictionsError, check_predictions
from benchmark.protocol import Protocol, load_protocol
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
    read_per_query,
    write_per_query,
)
from leaderboard.runs import read_manifest

DEFAULT_STORE = Path("submissions")
STAGING_PREFIX = ".staging-"
# A staging folder older than this (and not locked by a running submit) was left by a killed submit.
STALE_STAGING_S = 3600.0
ENTRY_ID_LENGTH = 20
ENTRY_ID_PATTERN = re.compile(rf"[0-9a-f]{{{ENTRY_ID_LENGTH}}}")
# The most bootstrap resamples a stored entry may ask a re-scoring for.
MAX_BOOTSTRAP = 100_000
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

    def entries(self, strict: bool = True, data: Benchmark | None = None) -> list[Entry]:
        """Every stored entry, oldest first, each checked against its own record (:func:`read_checked_entry`)
        and, for entries on ``data`` (same fingerprint), re-scored from its predictions (:func:`rescore_check`).

        A folder that is not a well-formed, consistent entry raises :class:`DataError` naming it; with
        ``strict=False`` it is skipped with one warning line naming it, and the rest are returned. An entry
        written before score hashes were recorded is returned with a warning, or, with ``strict``, only
        when ``data`` re-scores it. A store root that is not a folder holds no entries."""
        if not self.root.is_dir():
            return []
        entries = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                entry = read_checked_entry(folder)
                if data is not None and entry.meta.data_fingerprint == data.fingerprint:
                    rescore_check(entry, data)
                elif not entry.meta.verified:
                    if strict:
                        raise DataError("was written before entries recorded the sha256 of their scores, so its "
                                        "scores cannot be checked without the data: give --data-dir to re-score it",
                                        path=str(folder))
                    warn(f"entry {escape.terminal(str(folder), 300)} was written before entries recorded the sha256 "
                         "of their scores: shown unverified (`vcval leaderboard --strict --data-dir` re-scores it)")
                entries.append(entry)
            except VcvalError as error:
                message = escape.terminal(str(error), 600)
                if strict:
                    raise DataError(message) from error
                warn(f"skipping {escape.terminal(str(folder), 300)}, which is not a readable entry: {message}")
        return sorted(entries, key=lambda entry: (entry.meta.submitted, entry.meta.entry_id))

    def get(self, entry_id: str) -> Entry | None:
        """The entry stored under ``entry_id`` (a 20-hex-digit id; anything else, a path included, is None)."""
        if not isinstance(entry_id, str) or not ENTRY_ID_PATTERN.fullmatch(entry_id):
            return None
        folder = self.root / entry_id
        return read_entry(folder) if folder.is_dir() else None

    def add(self, entry_id: str, meta: EntryMeta, report: ScoreReport, predictions_path: Path) -> SubmitResult:
        """Write a scored submission atomically under ``entry_id``; an existing entry wins. (A caller should
        use :func:`submit_predictions`, which validates, scores and names the entry.)"""
        if not isinstance(entry_id, str) or not ENTRY_ID_PATTERN.fullmatch(entry_id) or entry_id != meta.entry_id:
            raise InputError(f"an entry id is {ENTRY_ID_LENGTH} hex digits, the one meta.json records; got "
                             f"{escape.terminal(str(entry_id), 40)!r}", field="entry_id")
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
        """The entry's files, then ``meta.json`` with the sha256 of the scores and per-question values."""
        _copy_gzipped(predictions_path, staging / PREDICTIONS_FILE)
        _write_json(staging / SCORES_FILE, report.to_dict())
        write_per_query(staging / PER_QUERY_FILE, report.per_query)
        sealed = replace(meta, scores_sha256=_file_sha256(staging / SCORES_FILE),
                         per_query_sha256=_content_sha256(staging / PER_QUERY_FILE))
        _write_json(staging / META_FILE, sealed.to_dict())
        for path in staging.iterdir():
            _fsync(path)
        os.chmod(staging, 0o755)


def read_checked_entry(folder: Path) -> Entry:
    """:func:`read_entry`, with its per-question values loaded, after checking that the entry is what it
    records: the folder is named after its id; the stored predictions, ``scores.json`` and
    ``per_query.jsonl.gz`` have the sha256 that ``meta.json`` records (the last two only in entries written
    since they are recorded); there is one per-question row per question, every metric's per-question
    values are percentages and their mean is the metric ``scores.json`` reports.

    Anything else raises :class:`DataError` naming the file: a damaged or hand-edited entry is never read."""
    entry = read_entry(folder)
    meta = entry.meta
    if folder.name != meta.entry_id:
        raise DataError(f"the folder is not named after the entry id {meta.entry_id!r} that meta.json records",
                        path=str(folder))
    stored = folder / PREDICTIONS_FILE
    if not stored.is_file():
        raise DataError("missing", path=str(stored))
    actual = _stored_content_sha256(stored)
    if actual != meta.predictions_sha256:
        raise DataError("does not match the entry's meta.json (predictions_sha256 differs): the entry was edited",
                        path=str(stored))
    scored = entry.scores.get("meta", {}).get("content_sha256") if isinstance(entry.scores.get("meta"), dict) \
        else None
    if scored is not None and scored != actual:
        raise DataError("scores.json was computed for other predictions (content_sha256 differs)",
                        path=str(folder / SCORES_FILE))
    if meta.scores_sha256 and _file_sha256(folder / SCORES_FILE) != meta.scores_sha256:
        raise DataError("does not match the entry's meta.json (scores_sha256 differs): the scores were edited",
                        path=str(folder / SCORES_FILE))
    per_query_path = folder / PER_QUERY_FILE
    per_query = read_per_query(per_query_path)
    if meta.per_query_sha256 and _stored_content_sha256(per_query_path) != meta.per_query_sha256:
        raise DataError("does not match the entry's meta.json (per_query_sha256 differs): the values were edited",
                        path=str(per_query_path))
    if len(per_query.qids) != entry.n_questions:
        raise DataError(f"{len(per_query.qids)} per-question rows for the {entry.n_questions} questions scores.json "
                        "reports", path=str(per_query_path))
    for key, value in entry.metrics.items():
        if key not in per_query.values:
            continue
        column = per_query.values[key]
        if not np.all(np.isfinite(column)) or column.min() < 0.0 or column.max() > 100.0:
            raise DataError("expected finite percentages for every question", path=str(per_query_path), field=key)
        if not math.isclose(float(column.mean()), value, rel_tol=0.0, abs_tol=METRIC_TOLERANCE):
            raise DataError(f"scores.json reports {value:g}, but the mean of the per-question values is "
                            f"{float(column.mean()):g}", path=str(folder / SCORES_FILE), field=f"metrics.{key}")
    return replace(entry, preloaded=per_query)


# Two scorings of the same predictions agree to rounding: a metric is a mean of per-question values.
METRIC_TOLERANCE = 1e-6


def rescore_check(entry: Entry, benchmark: Benchmark) -> None:
    """Score the entry's stored predictions again on ``benchmark`` (the entry's data) with the options its
    ``scores.json`` records, and raise :class:`DataError` unless every metric, interval and per-question
    value is the one stored: the check that no edit of an entry's files can pass."""
    scores_path = str(entry.path / SCORES_FILE)
    options = (entry.scores.get("meta") or {}).get("options") if isinstance(entry.scores.get("meta"), dict) else None
    if not isinstance(options, dict):
        raise DataError("no scoring options recorded, so the entry cannot be re-scored", path=scores_path,
                        field="meta.options")
    bootstrap, seed = options.get("bootstrap"), options.get("seed")
    for name, value, upper in (("bootstrap", bootstrap, MAX_BOOTSTRAP), ("seed", seed, 2**63 - 1)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= upper:
            raise DataError(f"expected an integer from 0 to {upper}", path=scores_path, field=f"meta.options.{name}")
    if options.get("task") != entry.meta.task:
        raise DataError(f"the scoring task {options.get('task')!r} is not the entry's task {entry.meta.task!r}",
                        path=scores_path, field="meta.options.task")
    try:
        split = benchmark.split(entry.meta.split)
        report = score(entry.path / PREDICTIONS_FILE, split, task=entry.meta.task,
                       video_rank=str(options.get("video_rank", "distinct")), bootstrap=bootstrap, seed=seed,
                       allow_missing=bool(options.get("allow_missing", False)))
    except VcvalError as error:
        raise DataError(f"cannot be re-scored: {error}", path=str(entry.path)) from error
    mismatch = _first_difference(entry, report)
    if mismatch:
        raise DataError(f"re-scored from its predictions, {mismatch}: the entry's scores were edited",
                        path=scores_path)


def _first_difference(entry: Entry, report: ScoreReport) -> str | None:
    if set(report.metrics) != set(entry.metrics):
        return f"the metrics are {sorted(report.metrics)}, not those stored"
    for key, value in report.metrics.items():
        if not math.isclose(value, entry.metrics[key], rel_tol=0.0, abs_tol=METRIC_TOLERANCE):
            return f"{key} is {value:g}, not the {entry.metrics[key]:g} stored"
    for key, (low, high) in report.ci.items():
        stored = entry.ci.get(key)
        if stored is None or low is None or high is None or (isinstance(low, float) and math.isnan(low)):
            continue
        if not all(math.isclose(a, b, rel_tol=0.0, abs_tol=METRIC_TOLERANCE) for a, b in zip((low, high), stored, strict=True)):
            return f"the interval of {key} is [{low:g}, {high:g}], not the stored [{stored[0]:g}, {stored[1]:g}]"
    per_query = entry.per_query
    qids = np.array([row["qid"] for row in report.per_query])
    if sorted(qids.tolist()) != sorted(per_query.qids.tolist()):
        return "the per-question rows are for other questions"
    for key in report.metrics:
        if key in per_query.values and not np.allclose(report.values(key), per_query.aligned(qids, key),
                                                       rtol=0.0, atol=METRIC_TOLERANCE):
            return f"the per-question values of {key} differ"
    return None


def _lock_folder(folder: Path) -> int:
    descriptor = os.open(folder, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def submit_predictions(store: SubmissionStore, predictions_path: str | Path, benchmark: Benchmark, split: str,
                       info: SubmissionInfo, protocol: str | Protocol | None = None, *,
                       allow_missing: bool = False, source: str | None = None,
                       validated: LoadedPredictions | None = None) -> SubmitResult:
    """Validate, score (with the protocol's bootstrap intervals) and store a predictions file.

    An invalid file raises :class:`~benchmark.predictions.PredictionsError` with every problem and
    leaves the store untouched. Submitting the same content again returns the existing entry.
    ``validated``: the file as the caller already loaded it against this split, corpus and task (the
    server validates before it reserves a quota slot), so it is not read and checked twice."""
    predictions_path = Path(predictions_path)
    check_info(info)
    split_data = benchmark.split(split)
    if not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol)
    problem = escape.field_problem("protocol", protocol.name)
    if problem:
        raise InputError(f"the protocol's name {problem}", field="protocol.name")
    bound = protocol.bind(benchmark.name, benchmark.fingerprint, split_data.name)
    content_sha256 = _content_sha256(predictions_path)
    entry_id = make_entry_id(content_sha256, split_data.name, bound.hash)
    existing = store.get(entry_id)
    if existing is not None:
        return SubmitResult(existing, created=False)
    corpus = benchmark.corpus(split_data.name, bound.corpus_setting)
    if validated is None:
        loaded = check_predictions(predictions_path, split_data, corpus, task=bound.task, allow_missing=allow_missing)
    elif validated.problems or validated.omitted_problems:
        raise PredictionsError(predictions_path, validated.problems, validated.omitted_problems)
    else:
        loaded = validated
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


def check_info(info: SubmissionInfo) -> None:
    """Refuse what a submitter wrote that no renderer should have to show: an empty name, a field longer
    than its cap or holding control characters (:func:`leaderboard.escape.field_problem`), a link that is
    not a plain http(s) URL. Raises :class:`InputError` naming the field."""
    if not info.name.strip():
        raise InputError("a submission needs a non-empty name", field="name")
    for field_name in ("name", "authors", "notes"):
        problem = escape.field_problem(field_name, getattr(info, field_name))
        if problem:
            raise InputError(f"the {field_name} {problem}", field=field_name)
    for field_name in ("url", "paper"):
        problem = escape.link_problem(getattr(info, field_name))
        if problem:
            link = escape.terminal(getattr(info, field_name), 80)
            raise InputError(f"{link!r} {problem}; give an http(s) link or leave it out", field=field_name)


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
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"cannot be read: {getattr(error, 'strerror', None) or error}", path=str(path)) from error
    return digest.hexdigest()


def _stored_content_sha256(path: Path) -> str:
    """:func:`_content_sha256` of a file inside an entry: a read error is damage to the entry."""
    try:
        return _content_sha256(path)
    except InputError as error:
        raise DataError(error.message, path=str(path)) from error


def _file_sha256(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as error:
        raise DataError(f"cannot be read ({error.strerror or error})", path=str(path)) from error


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
    return submit_predictions(store, run_dir / "predictions.jsonl", benchmark, manifest.split, info,
                              manifest.protocol, source=f"run:{run_dir.resolve()}")
