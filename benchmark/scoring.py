"""The scorer's facade: ``score(predictions, split)`` -> :class:`ScoreReport`.

A report holds every metric in percent with its percentile-bootstrap 95% interval, the per-question
values behind them (the leaderboard's paired tests use these), the same metrics by answer-length and
video-length bucket, and the provenance of the numbers (data fingerprint, predictions sha256, scorer
version, options). Metric definitions live in :mod:`benchmark.metrics`; ``docs/predictions.md`` states them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import StrictFloat, StrictInt

from benchmark import __version__
from benchmark.errors import ConfigError, InputError, VcvalError
from benchmark.metrics import HEADLINE_METRICS, VIDEO_RANK_MODES, metric_keys, per_question_metrics
from benchmark.options import NONFINITE, read_options
from benchmark.outputs import open_output
from benchmark.predictions import (
    CandidateArrays,
    LoadedPredictions,
    arrays_from_predictions,
    check_predictions,
)
from benchmark.records import Prediction, SplitData, Video
from benchmark.stats import bootstrap_ci

# Version of the metric definitions and report schema; bump when a number could change. ``scores.json``
# records it (``meta.scorer_version``), and :meth:`ScoreFile.from_mapping` reads only these versions.
SCORER_VERSION = "1"
READABLE_SCORER_VERSIONS = (SCORER_VERSION,)

# (low, high, label): half-open [low, high) intervals in seconds.
ANSWER_LENGTH_BUCKETS = ((0.0, 15.0, "<15s"), (15.0, 30.0, "15-30s"), (30.0, 60.0, "30-60s"),
                         (60.0, math.inf, ">=60s"))
VIDEO_LENGTH_BUCKETS = ((0.0, 180.0, "<3min"), (180.0, 420.0, "3-7min"), (420.0, 900.0, "7-15min"),
                        (900.0, math.inf, ">=15min"))


@dataclass
class ScoreReport:
    """Every metric (percent), its 95% interval, per-question values, slices and provenance."""

    metrics: dict[str, float]
    ci: dict[str, list[float]]
    n_questions: int
    meta: dict
    per_query: list[dict] = field(repr=False)
    slices: dict[str, dict[str, dict[str, float]]] = field(repr=False)

    def to_dict(self) -> dict:
        """``{"metrics": {key: value}, "ci": {key: [low, high]}, "n_questions": N, "meta": {...}}``."""
        return ScoreFile(metrics=dict(self.metrics), ci={key: (low, high) for key, (low, high) in self.ci.items()},
                         n_questions=self.n_questions, meta=self.meta).to_dict()

    def values(self, key: str) -> np.ndarray:
        """``(N,)`` per-question values of one metric, in the split's question order."""
        return np.array([row[key] for row in self.per_query], dtype=np.float64)

    @property
    def qids(self) -> list[str]:
        return [row["qid"] for row in self.per_query]

    def render(self) -> str:
        """The metrics as a readable table, then the slices."""
        lines = [f"{self.n_questions} questions, task {self.meta['options']['task']}, "
                 f"video ranking by {self.meta['options']['video_rank']}"]
        width = max(len(key) for key in self.metrics)
        has_ci = any(not math.isnan(low) for low, _ in self.ci.values())
        lines.append(f"{'metric':<{width}}  {'value':>6}" + ("  95% interval" if has_ci else ""))
        for key, value in self.metrics.items():
            low, high = self.ci[key]
            interval = f"  [{low:6.2f}, {high:6.2f}]" if has_ci else ""
            lines.append(f"{key:<{width}}  {value:6.2f}{interval}")
        for slice_name, buckets in self.slices.items():
            keys = [k for k in HEADLINE_METRICS if k in self.metrics]
            lines.append("")
            lines.append(f"by {slice_name.replace('_', ' ')}")
            lines.append(f"{'bucket':<9} {'n':>5}  " + "  ".join(f"{k:>9}" for k in keys))
            for bucket, values in buckets.items():
                lines.append(f"{bucket:<9} {int(values['n']):>5}  " + "  ".join(f"{values[k]:9.2f}" for k in keys))
        return "\n".join(lines)


class ScoreFileError(VcvalError):
    """A ``scores.json`` that is malformed or written by a scorer version this code does not read."""


@dataclass(frozen=True)
class ScoreFile:
    """``scores.json``, the file form of a :class:`ScoreReport` (without its per-question rows and slices)."""

    metrics: dict[str, StrictFloat | None] = field(metadata={NONFINITE: True})
    """Every metric, in percent (NaN when undefined, e.g. on an empty split)."""
    ci: dict[str, tuple[StrictFloat | None, StrictFloat | None] | None] = field(metadata={NONFINITE: True})
    """Each metric's 95% bootstrap interval ``[low, high]`` (NaN without a bootstrap)."""
    n_questions: StrictInt
    """How many questions were scored."""
    meta: dict[str, Any]
    """Provenance: ``scorer_version``, data and split fingerprints, predictions sha256, options, and what the
    caller added (the run's system and protocol hash)."""

    @property
    def scorer_version(self) -> str:
        return str(self.meta["scorer_version"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written as ``scores.json``."""
        return {"metrics": dict(self.metrics),
                "ci": {key: None if pair is None else list(pair) for key, pair in self.ci.items()},
                "n_questions": self.n_questions, "meta": self.meta}

    @classmethod
    def from_mapping(cls, value: Any, source: str) -> ScoreFile:
        """The report parsed from ``scores.json`` at ``source`` (the path, for errors); raises
        :class:`ScoreFileError` naming ``source`` and the field, or the scorer version it cannot read."""
        if not isinstance(value, Mapping):
            raise ScoreFileError(f"{source}: not a score report (a JSON object), got {type(value).__name__}")
        meta = value.get("meta")
        version = meta.get("scorer_version") if isinstance(meta, Mapping) else None
        if version is None:
            raise ScoreFileError(f"{source}: field 'meta.scorer_version' is missing")
        if str(version) not in READABLE_SCORER_VERSIONS:
            raise ScoreFileError(f"{source}: score report of scorer_version {version} cannot be read; this vcval "
                                 f"reads scorer version {', '.join(READABLE_SCORER_VERSIONS)}")
        try:
            return read_options(cls, value, where=source, noun="field")
        except ConfigError as error:
            raise ScoreFileError(str(error)) from None


def read_score_file(path: str | Path) -> ScoreFile:
    """``scores.json`` read and checked (:meth:`ScoreFile.from_mapping`)."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ScoreFileError(f"{path}: cannot be read as JSON ({' '.join(str(error).split())[:200]})") from error
    return ScoreFile.from_mapping(value, str(path))


def score(predictions: str | Path | Sequence[Prediction] | CandidateArrays | LoadedPredictions, split: SplitData,
          *, task: str | None = None, video_rank: str = "distinct", bootstrap: int = 1000, seed: int = 0,
          meta: Mapping | None = None, corpus: Mapping[str, Video] | None = None,
          allow_missing: bool = False) -> ScoreReport:
    """Score predictions for ``split``.

    ``predictions`` is a predictions file (validated first: :class:`~benchmark.predictions.PredictionsError`
    lists its problems), a list of :class:`Prediction`, or already loaded arrays. ``task`` defaults to
    the file header's, else ``corpus``. ``video_rank`` is ``distinct`` (videos in order of first
    appearance) or ``rows`` (every candidate is a rank, as TVR's VR and the CMIVQA scorer count).
    ``bootstrap`` resamples of the questions give the 95% intervals (0: no intervals). ``meta`` is
    merged into the report's provenance (the CLI adds the data fingerprint).
    """
    if video_rank not in VIDEO_RANK_MODES:
        raise InputError(f"unknown video ranking {video_rank!r}, expected one of {list(VIDEO_RANK_MODES)}",
                         field="video_rank")
    predictions_sha256 = None
    if isinstance(predictions, (str, Path)):
        predictions = check_predictions(predictions, split, corpus, task=task, allow_missing=allow_missing)
    if isinstance(predictions, LoadedPredictions):
        task = task or predictions.header.get("task")
        predictions_sha256 = predictions.sha256
        arrays = predictions.arrays
    elif isinstance(predictions, CandidateArrays):
        arrays = predictions
    else:
        arrays = arrays_from_predictions(list(predictions), split, allow_missing)
    task = task or "corpus"
    if arrays.qids != tuple(a.qid for a in split.annotations):
        raise InputError(f"the predictions' questions are not those of split '{split.name}' in its order",
                         field="qid")

    code_of = {video_id: code for code, video_id in enumerate(arrays.video_ids)}
    gold_codes = np.array([code_of.get(a.video_id, -2) for a in split.annotations], dtype=np.int64)
    gold_starts = np.array([a.start for a in split.annotations], dtype=np.float64)
    gold_ends = np.array([a.end for a in split.annotations], dtype=np.float64)
    values, ranks = per_question_metrics(arrays.codes, arrays.starts, arrays.ends, gold_codes, gold_starts,
                                         gold_ends, task=task, video_rank=video_rank)
    keys = metric_keys(task)
    matrix = np.column_stack([values[key] for key in keys]) if len(gold_codes) else np.zeros((0, len(keys)))
    means = matrix.mean(axis=0) if len(matrix) else np.zeros(len(keys))
    intervals = bootstrap_ci(matrix, bootstrap, seed)

    answer_buckets = _bucket_labels(gold_ends - gold_starts, ANSWER_LENGTH_BUCKETS)
    video_buckets = _bucket_labels(np.array([a.video_duration for a in split.annotations]), VIDEO_LENGTH_BUCKETS)
    per_query = []
    for row, annotation in enumerate(split.annotations):
        record = {"qid": annotation.qid, "gold_video": annotation.video_id, "gold_start": annotation.start,
                  "gold_end": annotation.end, "gold_video_rank": int(ranks[row]) or None,
                  "answer_length_bucket": answer_buckets[row], "video_length_bucket": video_buckets[row]}
        record.update({key: float(matrix[row, column]) for column, key in enumerate(keys)})
        per_query.append(record)

    report_meta = {
        "scorer_version": SCORER_VERSION,
        "vcval_version": __version__,
        "split": split.name,
        "split_fingerprint": split_fingerprint(split),
        "predictions_sha256": predictions_sha256,
        "options": {"task": task, "video_rank": video_rank, "bootstrap": bootstrap, "seed": seed,
                    "confidence": 0.95, "allow_missing": allow_missing},
        "missing_questions": len(arrays.missing),
    }
    report_meta.update(dict(meta or {}))
    return ScoreReport(
        metrics={key: float(means[column]) for column, key in enumerate(keys)},
        ci={key: [float(intervals[0, column]), float(intervals[1, column])] for column, key in enumerate(keys)},
        n_questions=len(split.annotations),
        meta=report_meta,
        per_query=per_query,
        slices={"answer_length": _slice(matrix, keys, answer_buckets, ANSWER_LENGTH_BUCKETS),
                "video_length": _slice(matrix, keys, video_buckets, VIDEO_LENGTH_BUCKETS)},
    )


def split_fingerprint(split: SplitData) -> str:
    """sha256 of a split's questions and answers: equal fingerprints mean the same gold."""
    digest = hashlib.sha256()
    for a in split.annotations:
        digest.update(json.dumps([a.qid, a.video_id, a.start, a.end, a.video_duration]).encode() + b"\n")
    return digest.hexdigest()


def _bucket_labels(lengths: np.ndarray, buckets) -> list[str]:
    edges = np.array([low for low, _, _ in buckets[1:]])
    return [buckets[index][2] for index in np.searchsorted(edges, lengths, side="right")]


def _slice(matrix: np.ndarray, keys: Sequence[str], labels: list[str], buckets) -> dict[str, dict[str, float]]:
    label_array = np.array(labels, dtype=object)
    result = {}
    for _, _, label in buckets:
        members = label_array == label
        count = int(members.sum())
        if count:
            result[label] = {"n": float(count), **{key: float(matrix[members, column].mean())
                                                  for column, key in enumerate(keys)}}
    return result


# ------------------------------------------------------------------------------------- per-query files


def write_per_query(path: str | Path, report: ScoreReport) -> Path:
    """One JSON object per question: qid, gold video and span, gold video rank, buckets, every metric."""
    path = Path(path)
    with open_output(path, compress=False) as handle:
        for row in report.per_query:
            handle.write(json.dumps(row) + "\n")
    return path


def read_per_query(path: str | Path) -> list[dict]:
    """Read back a per-query JSONL written by :func:`write_per_query` (or ``vcval score --per-query``)."""
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"not valid JSON ({error})", path=str(path), line=line_number) from error
            if not isinstance(row, dict) or not isinstance(row.get("qid"), str):
                raise InputError("expected an object with a string qid", path=str(path), line=line_number,
                                 field="qid")
            rows.append(row)
    return rows


def aligned_values(rows_a: Sequence[Mapping], rows_b: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-question values of ``key`` for the questions both have, in ``rows_a``'s order."""
    b_by_qid = {row["qid"]: row for row in rows_b}
    common = [row for row in rows_a if row["qid"] in b_by_qid]
    if len(common) != len(rows_a) or len(common) != len(rows_b):
        raise InputError(f"the two per-question sets cover different questions ({len(rows_a)} and "
                         f"{len(rows_b)}, {len(common)} shared): a paired test needs the same ones", field="qid")
    return (np.array([row[key] for row in common], dtype=np.float64),
            np.array([b_by_qid[row["qid"]][key] for row in common], dtype=np.float64))
