"""The hidden test as the server holds it: the protocol bound to the data, the evaluated split with its
answers, the corpus, the seeded public subset and the hash of the answer key.

Everything here is computed from the existing library: the validator (:mod:`benchmark.predictions`),
the scorer (:mod:`benchmark.scoring`), the protocol binding (:mod:`benchmark.protocol`) and the
submissions store (:mod:`leaderboard.store`). What leaves this module is aggregate numbers and the
validator's format problems; per-question values stay inside the server (the board's paired tests)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.data import Benchmark, load_benchmark
from benchmark.data.sampling import sample_questions
from benchmark.metrics import PRIMARY_METRIC, metric_keys
from benchmark.predictions import LoadedPredictions, load_predictions
from benchmark.protocol import Protocol, load_protocol
from benchmark.records import SplitData, Video
from benchmark.scoring import SCORER_VERSION, ScoreReport, score, split_fingerprint
from benchmark.stats import bootstrap_ci
from leaderboard.entry import PREDICTIONS_FILE, Entry, SubmissionInfo
from leaderboard.store import SubmissionStore, submit_predictions

MAX_PROBLEMS_SHOWN = 50


@dataclass(frozen=True)
class Measurement:
    """A submission's per-question values of every metric (rows in split order), and who measured them."""

    keys: tuple[str, ...]
    matrix: np.ndarray  # (questions, metrics), percent
    scorer_version: str

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, matrix=self.matrix, keys=np.array(self.keys))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, scorer_version: str) -> Measurement:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(tuple(str(k) for k in arrays["keys"]), arrays["matrix"], scorer_version)


@dataclass(frozen=True)
class Aggregate:
    """Means and 95% bootstrap intervals over some questions: all that is ever shown of a score."""

    metrics: dict[str, float]
    ci: dict[str, list[float]]
    n_questions: int

    def to_dict(self) -> dict:
        return {"metrics": self.metrics, "ci": self.ci, "n_questions": self.n_questions}

    @classmethod
    def from_json(cls, text: str) -> Aggregate:
        data = json.loads(text)
        return cls(data["metrics"], data["ci"], data["n_questions"])


class Challenge:
    """A data folder and a protocol, loaded once at start; the answers never leave this object."""

    def __init__(self, benchmark: Benchmark, protocol: Protocol, store: SubmissionStore,
                 public_questions: int = 0, public_seed: int = 0) -> None:
        self.benchmark = benchmark
        self.store = store
        self.split: SplitData = benchmark.split(protocol.split)
        self.protocol = protocol.bind(benchmark.name, benchmark.fingerprint, self.split.name)
        self.corpus: dict[str, Video] = benchmark.corpus(self.split.name, self.protocol.corpus_setting)
        self.task = self.protocol.task
        self.keys = tuple(metric_keys(self.task))
        self.primary = PRIMARY_METRIC[self.task]
        self.answer_key_sha256 = split_fingerprint(self.split)
        public = sample_questions(self.split, public_questions, public_seed)
        public_qids = {a.qid for a in public.annotations}
        self.public_rows = np.array([row for row, a in enumerate(self.split.annotations) if a.qid in public_qids],
                                    dtype=np.int64)
        self.has_private_part = len(self.public_rows) < len(self.split.annotations)

    @classmethod
    def load(cls, data_dir: str | Path, protocol: str, store: str | Path, public_questions: int = 0,
             public_seed: int = 0) -> Challenge:
        return cls(load_benchmark(data_dir), load_protocol(protocol), SubmissionStore(store),
                   public_questions, public_seed)

    @property
    def n_questions(self) -> int:
        return len(self.split.annotations)

    def validate(self, path: Path, max_bytes: int) -> LoadedPredictions:
        """The validator against the bound split and corpus, with the protocol's task: format problems only.

        The task is the protocol's whatever the header says, so the one check that involves a gold video
        (a localization candidate outside it) only runs where that video is the task's input anyway."""
        return load_predictions(path, self.split, self.corpus, task=self.task, max_bytes=max_bytes,
                                max_problems=MAX_PROBLEMS_SHOWN)

    def store_entry(self, path: Path, info: SubmissionInfo, source: str,
                    validated: LoadedPredictions | None = None) -> Entry:
        """Score and store a valid file in the submissions store (the same entry ``vcval submit`` writes);
        ``validated``: the file as :meth:`validate` loaded it, so the store does not read it again."""
        return submit_predictions(self.store, path, self.benchmark, self.split.name, info, self.protocol,
                                  source=source, validated=validated).entry

    def measure_entry(self, entry: Entry) -> Measurement:
        """The stored entry's per-question values (only the metric columns: never its gold fields)."""
        qids = np.array([a.qid for a in self.split.annotations])
        per_query = entry.per_query
        if np.array_equal(per_query.qids, qids):  # the scorer writes rows in split order
            matrix = np.column_stack([per_query.values[key] for key in self.keys])
        else:
            matrix = np.column_stack([per_query.aligned(qids, key) for key in self.keys])
        return Measurement(self.keys, matrix, entry.meta.scorer_version)

    def entry_aggregate(self, entry: Entry) -> Aggregate:
        """The numbers the scorer stored with the entry (the same bootstrap :meth:`aggregate` would redo)."""
        scores = entry.scores
        metrics, intervals = scores["metrics"], scores["ci"]
        return Aggregate({key: float(metrics[key]) for key in self.keys},
                         {key: [float(v) for v in intervals[key]] for key in self.keys}, int(scores["n_questions"]))

    def rescore(self, entry: Entry) -> Measurement:
        """Score a stored entry's predictions again with the scorer installed now."""
        report: ScoreReport = score(entry.path / PREDICTIONS_FILE, self.split, task=self.task,
                                    video_rank=self.protocol.video_rank, bootstrap=0, corpus=self.corpus)
        matrix = np.column_stack([report.values(key) for key in self.keys])
        return Measurement(self.keys, matrix, str(report.meta.get("scorer_version", SCORER_VERSION)))

    def aggregate(self, measurement: Measurement, rows: np.ndarray | None = None) -> Aggregate:
        """Means and the protocol's bootstrap intervals over ``rows`` (default: every question)."""
        matrix = measurement.matrix if rows is None else measurement.matrix[rows]
        means = matrix.mean(axis=0) if len(matrix) else np.zeros(len(measurement.keys))
        intervals = bootstrap_ci(matrix, self.protocol.bootstrap, self.protocol.bootstrap_seed)
        return Aggregate({key: float(means[i]) for i, key in enumerate(measurement.keys)},
                         {key: [float(intervals[0, i]), float(intervals[1, i])]
                          for i, key in enumerate(measurement.keys)},
                         int(len(matrix)))

    def visible_rows(self, private_revealed: bool) -> np.ndarray | None:
        return None if private_revealed or not self.has_private_part else self.public_rows


def problem_lines(loaded: LoadedPredictions) -> list[dict]:
    """The validator's problems as JSON records (line, qid, field, message), and a count of the rest."""
    problems: Sequence = loaded.problems
    records = [{"line": p.line, "qid": p.qid, "field": p.field, "message": p.message, "text": p.render()}
               for p in problems[:MAX_PROBLEMS_SHOWN]]
    more = loaded.omitted_problems + max(0, len(problems) - MAX_PROBLEMS_SHOWN)
    if more:
        records.append({"line": None, "qid": None, "field": None, "message": f"... and {more} more problems",
                        "text": f"... and {more} more problems"})
    return records
