"""One leaderboard entry as it lies in the store: who submitted what, on which data, and its scores.

An entry folder holds ``meta.json`` (:class:`EntryMeta`), ``scores.json`` (the scorer's report:
metrics, 95% intervals, question count, scorer meta), ``per_query.jsonl.gz`` (one line per question:
its qid, its value of every metric, its answer- and video-length buckets) and the predictions,
gzipped. Reading is separate from writing (:mod:`leaderboard.store`) so that the renderers, the paper
tables and a notebook can all load entries without the scorer.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path

import numpy as np

from benchmark.errors import DataError

META_FILE = "meta.json"
SCORES_FILE = "scores.json"
PER_QUERY_FILE = "per_query.jsonl.gz"
PREDICTIONS_FILE = "predictions.jsonl.gz"
ENTRY_FILES = (META_FILE, SCORES_FILE, PER_QUERY_FILE, PREDICTIONS_FILE)


@dataclass(frozen=True, slots=True)
class SubmissionInfo:
    """What the submitter tells about a submission; everything else is measured."""

    name: str
    authors: str = ""
    url: str = ""
    paper: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class EntryMeta:
    """``meta.json``: the submission's description and what makes two entries comparable."""

    entry_id: str
    name: str
    authors: str
    url: str
    paper: str
    notes: str
    submitted: str  # ISO 8601, UTC
    dataset: str
    split: str
    task: str  # "corpus" or "localization"
    protocol: str  # the protocol's name
    protocol_hash: str  # sha256 of the protocol bound to the data and split (benchmark.protocol)
    data_fingerprint: str
    predictions_sha256: str
    scorer_version: str
    source: str  # "file:<name>" or "run:<run id>"

    @property
    def group_key(self) -> tuple[str, str, str, str, str]:
        """Entries share a table only when all of these agree: the same questions, track, protocol and data,
        scored by the same scorer version."""
        return (self.split, self.task, self.protocol_hash, self.data_fingerprint, self.scorer_version)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object], path: str) -> EntryMeta:
        values = {}
        for item in fields(cls):
            value = data.get(item.name)
            if not isinstance(value, str):
                raise DataError(f"expected a string, got {type(value).__name__}", path=path, field=item.name)
            values[item.name] = value
        return cls(**values)


@dataclass(frozen=True)
class PerQuery:
    """Per-question values of one entry, aligned on ``qids``: metric arrays and length buckets."""

    qids: np.ndarray
    values: Mapping[str, np.ndarray]
    buckets: Mapping[str, np.ndarray] = field(default_factory=dict)

    def aligned(self, qids: np.ndarray, key: str) -> np.ndarray:
        """The values of ``key`` in the order of ``qids`` (every one of which must be present)."""
        order = {qid: index for index, qid in enumerate(self.qids.tolist())}
        return self.values[key][[order[qid] for qid in qids.tolist()]]


@dataclass(frozen=True)
class Entry:
    """A stored submission, read from its folder, or a recorded run (:mod:`leaderboard.paper`)."""

    path: Path
    meta: EntryMeta
    metrics: Mapping[str, float]
    ci: Mapping[str, tuple[float, float]]
    n_questions: int
    scores: Mapping[str, object]
    per_query_file: str = PER_QUERY_FILE
    # Standard deviation over seeds of each metric, for an entry that averages several runs.
    spread: Mapping[str, float] = field(default_factory=dict)
    preloaded: PerQuery | None = field(default=None, repr=False)

    @cached_property
    def per_query(self) -> PerQuery:
        return self.preloaded or read_per_query(self.path / self.per_query_file)


def read_entry(folder: Path) -> Entry:
    """Load an entry folder; a malformed one raises :class:`DataError` naming the file and field."""
    meta_path, scores_path = folder / META_FILE, folder / SCORES_FILE
    meta = EntryMeta.from_dict(_read_json_object(meta_path), str(meta_path))
    scores = _read_json_object(scores_path)
    metrics = scores.get("metrics")
    if not isinstance(metrics, dict) or not all(isinstance(v, (int, float)) for v in metrics.values()):
        raise DataError("expected an object of numbers", path=str(scores_path), field="metrics")
    ci = scores.get("ci", {})
    if not isinstance(ci, dict) or not all(isinstance(v, list) and len(v) == 2 for v in ci.values()):
        raise DataError("expected an object of [low, high] pairs", path=str(scores_path), field="ci")
    n_questions = scores.get("n_questions")
    if not isinstance(n_questions, int):
        raise DataError("expected an integer", path=str(scores_path), field="n_questions")
    return Entry(
        path=folder,
        meta=meta,
        metrics={key: float(value) for key, value in metrics.items()},
        ci={key: (float(low), float(high)) for key, (low, high) in ci.items()
            if low is not None and high is not None and not (math.isnan(low) or math.isnan(high))},
        n_questions=n_questions,
        scores=scores,
    )


def write_per_query(path: Path, rows: list[dict[str, object]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


def read_per_query(path: Path) -> PerQuery:
    """The scorer's per-question rows (JSON Lines, gzip or not): numeric fields (None read as NaN) become value arrays, fields
    named ``*_bucket`` become label arrays; other text (the gold video id) is left out."""
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rt", encoding="utf-8") if compressed else open(path, encoding="utf-8")) as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    if not rows:
        raise DataError("no per-question values", path=str(path))
    qids = np.array([str(row["qid"]) for row in rows])
    keys = [key for key in rows[0] if key != "qid"]
    buckets = {key: np.array([str(row[key]) for row in rows]) for key in keys if key.endswith("_bucket")}
    values = {}
    for key in keys:
        column = [row.get(key) for row in rows]
        if key not in buckets and all(_is_number_or_none(value) for value in column):
            values[key] = np.array([np.nan if value is None else float(value) for value in column])
    return PerQuery(qids, values, buckets)


def _is_number_or_none(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _read_json_object(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise DataError("missing", path=str(path)) from error
    except json.JSONDecodeError as error:
        raise DataError(f"not JSON ({error.msg} at line {error.lineno})", path=str(path)) from error
    if not isinstance(data, dict):
        raise DataError("expected a JSON object", path=str(path))
    return data
