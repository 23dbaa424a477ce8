"""Span-only localizers that need no neural training: the whole video, a random span, the train-split
prior span, and the best lexical window of subtitle pieces."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from baselines.passages import Passages, sliding_windows
from baselines.spans import non_maximum_suppression
from baselines.text import BM25Index, LexicalOptions
from benchmark.errors import ConfigError, DataError
from benchmark.metrics import temporal_iou
from benchmark.records import Annotation, Candidate, LocalizationQuery, SplitData, Video
from benchmark.systems import TrainingData


def relative_spans(split: SplitData) -> tuple[np.ndarray, np.ndarray]:
    """Gold spans of a split as fractions of their video's duration: (starts, ends) in [0, 1]."""
    rows = [(a.start / a.video_duration, a.end / a.video_duration) for a in split.annotations if a.video_duration > 0]
    if not rows:
        raise DataError(f"split '{split.name}' has no answer spans with a positive video duration to learn from")
    spans = np.clip(np.asarray(rows, dtype=np.float64), 0.0, 1.0)
    return spans[:, 0], np.maximum(spans[:, 1], spans[:, 0])


def video_of(query: LocalizationQuery, videos: Mapping[str, Video]) -> Video:
    try:
        return videos[query.video_id]
    except KeyError:
        raise DataError(f"video '{query.video_id}' of question '{query.qid}' is not in the corpus",
                        record=query.qid, field="video_id") from None


class WholeVideoLocalizer:
    """The whole video as the answer: the trivial localizer, exact when answers cover their videos."""

    name = "whole"

    def fit(self, data: TrainingData) -> None:
        """Nothing to learn."""

    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        return [[Candidate(q.video_id, 0.0, video_of(q, videos).duration, 1.0)] for q in queries]


@dataclass(frozen=True)
class RandomOptions:
    seed: int = 0
    PROTOCOL_KEYS: ClassVar[dict[str, str]] = {"seed": "seed"}


class RandomLocalizer:
    """Spans whose lengths (as a fraction of the video) are drawn from the train answers and whose start is
    uniform. Seeded per question, so a question's spans do not depend on the other questions."""

    name = "random"

    def __init__(self, options: RandomOptions | None = None) -> None:
        self.options = options or RandomOptions()
        self._lengths: np.ndarray | None = None

    def fit(self, data: TrainingData) -> None:
        starts, ends = relative_spans(data.train)
        self._lengths = ends - starts

    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        if self._lengths is None:
            raise ConfigError("RandomLocalizer.localize called before fit(training data)")
        results = []
        for query in queries:
            duration = video_of(query, videos).duration
            rng = question_rng(self.options.seed, query.qid)
            lengths = rng.choice(self._lengths, size=top_n)
            starts = rng.uniform(0.0, 1.0, size=top_n) * (1.0 - lengths)
            results.append([Candidate(query.video_id, float(s * duration), float((s + n) * duration), 0.0)
                            for s, n in zip(starts, lengths, strict=True)])
        return results


def question_rng(seed: int, qid: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(qid.encode("utf-8"))])


@dataclass(frozen=True)
class PriorOptions:
    """Candidate spans on a grid of ``bins`` steps of the (relative) video timeline."""

    bins: int = 40

    def __post_init__(self) -> None:
        if self.bins < 1:
            raise ValueError(f"prior.bins must be >= 1, got {self.bins}")


class PriorLocalizer:
    """The same relative spans for every question: those with the highest mean IoU against the train answers
    (in relative time), i.e. the best question-blind guesses."""

    name = "prior"

    def __init__(self, options: PriorOptions | None = None) -> None:
        self.options = options or PriorOptions()
        self._spans: np.ndarray | None = None
        self._scores: np.ndarray | None = None

    def fit(self, data: TrainingData) -> None:
        gold_starts, gold_ends = relative_spans(data.train)
        grid = np.linspace(0.0, 1.0, self.options.bins + 1)
        firsts, lasts = np.triu_indices(len(grid), k=1)
        starts, ends = grid[firsts], grid[lasts]
        mean_iou = temporal_iou(starts[:, None], ends[:, None], gold_starts, gold_ends).mean(axis=1)
        self._spans = np.stack([starts, ends], axis=1)
        self._scores = mean_iou

    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        if self._spans is None or self._scores is None:
            raise ConfigError("PriorLocalizer.localize called before fit(training data)")
        kept = non_maximum_suppression(self._spans[:, 0], self._spans[:, 1], self._scores, top_n)
        results = []
        for query in queries:
            duration = video_of(query, videos).duration
            results.append([Candidate(query.video_id, float(self._spans[i, 0] * duration),
                                      float(self._spans[i, 1] * duration), float(self._scores[i])) for i in kept])
        return results


@dataclass(frozen=True)
class SlidingWindowOptions:
    """What a window localizer (``window``, ``semantic``, ``hybrid``) chooses from on train: window lengths
    ``sizes`` (in subtitle pieces), the ``stride`` between windows, and how many train questions (drawn with
    ``seed``) the choice is made on."""

    sizes: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16, 24)
    stride: int = 1
    fit_questions: int = 500
    seed: int = 0
    PROTOCOL_KEYS: ClassVar[dict[str, str]] = {"seed": "seed"}

    def __post_init__(self) -> None:
        if not self.sizes or min(self.sizes) < 1 or self.stride < 1 or self.fit_questions < 1:
            raise ValueError("a window localizer's sizes must be non-empty positive integers, its stride and "
                             "fit_questions >= 1")


@dataclass(frozen=True)
class FitSample:
    """The seeded sample of train questions a window localizer chooses its settings on, with their videos."""

    annotations: tuple[Annotation, ...]
    queries: tuple[LocalizationQuery, ...]
    videos: dict[str, Video]


def fit_sample(train: SplitData, options: SlidingWindowOptions) -> FitSample:
    """Up to ``options.fit_questions`` train questions (a sample drawn with ``options.seed`` when there are
    more) and the train videos they ask about."""
    annotations = list(train.annotations)
    if len(annotations) > options.fit_questions:
        rng = np.random.default_rng(options.seed)
        chosen = sorted(rng.choice(len(annotations), options.fit_questions, replace=False))
        annotations = [annotations[i] for i in chosen]
    asked = {a.video_id for a in annotations}
    return FitSample(tuple(annotations), tuple(a.localization_query for a in annotations),
                     {video_id: video for video_id, video in train.videos.items() if video_id in asked})


def video_windows(passages: Passages, queries: Sequence[LocalizationQuery]) -> list[slice]:
    """Each query's video's windows in ``passages``."""
    position = {video_id: i for i, video_id in enumerate(passages.video_ids)}
    return [passages.of_video(position[query.video_id]) for query in queries]


def first_window_iou(passages: Passages, scores: Sequence[np.ndarray], sample: FitSample) -> float:
    """Mean IoU of each sampled question's best-scored window (the first on ties) with its answer."""
    windows = video_windows(passages, sample.queries)
    best = np.array([window.start + int(np.argmax(own)) for window, own in zip(windows, scores, strict=True)],
                    dtype=np.int64)
    gold_starts = np.array([a.start for a in sample.annotations])
    gold_ends = np.array([a.end for a in sample.annotations])
    return float(np.mean(temporal_iou(passages.starts[best], passages.ends[best], gold_starts, gold_ends)))


def window_candidates(passages: Passages, scores: Sequence[np.ndarray], queries: Sequence[LocalizationQuery],
                      top_n: int) -> list[list[Candidate]]:
    """Up to ``top_n`` windows per query by their scores (``scores[i]`` over the windows of query ``i``'s
    video), diversified by non-maximum suppression."""
    results = []
    for query, window, own in zip(queries, video_windows(passages, queries), scores, strict=True):
        starts, ends = passages.starts[window], passages.ends[window]
        kept = non_maximum_suppression(starts, ends, own, top_n)
        results.append([Candidate(query.video_id, float(starts[i]), float(ends[i]), float(own[i])) for i in kept])
    return results


class LexicalWindowLocalizer:
    """The contiguous window of subtitle pieces most similar to the question under BM25 (windows of the
    whole corpus are the documents). The window length is the one with the best mean IoU on train (a seeded
    sample of questions, searched within the windows of their videos)."""

    name = "window"

    def __init__(self, options: SlidingWindowOptions | None = None, lexical: LexicalOptions | None = None) -> None:
        self.options = options or SlidingWindowOptions()
        self.lexical = lexical or LexicalOptions()
        self.size: int | None = None
        self.fit_scores: dict[int, float] = {}
        self._cache: tuple[tuple[str, ...], int, Passages, BM25Index] | None = None

    def fit(self, data: TrainingData) -> None:
        sample = fit_sample(data.train, self.options)
        self.fit_scores = {size: first_window_iou(*self.window_scores(size, sample.queries, sample.videos), sample)
                           for size in sorted(set(self.options.sizes))}
        self.size = max(self.fit_scores, key=lambda size: (self.fit_scores[size], -size))
        self._cache = None

    def fitted(self) -> dict[str, object]:
        """What fit chose, and the train mean IoU of every window length it tried."""
        return {"size": self.size, "fit_mIoU": {str(size): value for size, value in self.fit_scores.items()}}

    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        if self.size is None:
            raise ConfigError("LexicalWindowLocalizer.localize called before fit(training data)")
        return window_candidates(*self.window_scores(self.size, queries, videos), queries, top_n)

    def window_scores(self, size: int, queries: Sequence[LocalizationQuery],
                      videos: Mapping[str, Video]) -> tuple[Passages, list[np.ndarray]]:
        """The windows of ``size`` pieces of ``videos``, and each query's BM25 scores of its video's windows."""
        for query in queries:
            video_of(query, videos)
        passages, index = self._windows(size, videos)
        all_scores = index.scores([q.text for q in queries]) if queries else np.zeros((0, len(passages.texts)))
        return passages, [scores[window] for scores, window in zip(all_scores, video_windows(passages, queries),
                                                                    strict=True)]

    def _windows(self, size: int, videos: Mapping[str, Video]) -> tuple[Passages, BM25Index]:
        key = tuple(videos)
        if self._cache is None or self._cache[0] != key or self._cache[1] != size:
            passages = sliding_windows(videos, size, self.options.stride)
            self._cache = (key, size, passages, BM25Index(passages.texts, self.lexical))
        return self._cache[2], self._cache[3]
