"""BM25 retrieval (bm25s, Lucene variant) over subtitle text: video-level (one document per video
transcript) and passage-level (sliding windows of pieces; a video scores as its best window)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from baselines.passages import Passages, best_per_video, sliding_windows
from baselines.text import BM25Index, LexicalOptions
from benchmark.errors import ConfigError
from benchmark.records import Question, Span, Video
from benchmark.systems import RankedVideo, TrainingData


class BM25Retriever:
    """Ranks videos by the BM25 score of their whole transcript."""

    name = "bm25"

    def __init__(self, options: LexicalOptions | None = None) -> None:
        self.options = options or LexicalOptions()
        self._index: BM25Index | None = None
        self._video_ids: tuple[str, ...] = ()

    def fit(self, data: TrainingData) -> None:
        """Unsupervised: nothing to learn."""

    def index(self, corpus: Mapping[str, Video]) -> None:
        self._video_ids = tuple(corpus)
        self._index = BM25Index([video.transcript for video in corpus.values()], self.options)

    def rank(self, questions: Sequence[Question], top_k: int) -> list[list[RankedVideo]]:
        if self._index is None:
            raise ConfigError("BM25Retriever.rank called before index(corpus)")
        if not questions:
            return []
        documents, scores = self._index.top([q.text for q in questions], top_k)
        return [[RankedVideo(self._video_ids[d], float(s)) for d, s in zip(row_docs, row_scores, strict=True)]
                for row_docs, row_scores in zip(documents, scores, strict=True)]


@dataclass(frozen=True)
class WindowOptions:
    """Sliding windows of ``size`` subtitle pieces, one every ``stride`` pieces."""

    size: int = 8
    stride: int = 2

    def __post_init__(self) -> None:
        if self.size < 1 or self.stride < 1:
            raise ValueError(f"window size and stride must be >= 1, got {self.size} and {self.stride}")


@dataclass(frozen=True)
class PassageHit:
    """A video ranked by its best window, and that window's span."""

    video_id: str
    score: float
    span: Span


class PassageBM25Retriever:
    """Ranks videos by their best sliding window of subtitle pieces under BM25 (the window is the document;
    idf and length normalisation are over all windows of the corpus)."""

    name = "bm25-passage"

    def __init__(self, options: LexicalOptions | None = None, windows: WindowOptions | None = None) -> None:
        self.options = options or LexicalOptions()
        self.windows = windows or WindowOptions()
        self._index: BM25Index | None = None
        self._passages: Passages | None = None

    def fit(self, data: TrainingData) -> None:
        """Unsupervised: nothing to learn."""

    def index(self, corpus: Mapping[str, Video]) -> None:
        self._passages = sliding_windows(corpus, self.windows.size, self.windows.stride)
        self._index = BM25Index(self._passages.texts, self.options)

    def rank(self, questions: Sequence[Question], top_k: int) -> list[list[RankedVideo]]:
        return [[RankedVideo(hit.video_id, hit.score) for hit in hits] for hits in self.search(questions, top_k)]

    def search(self, questions: Sequence[Question], top_k: int) -> list[list[PassageHit]]:
        """The ``top_k`` best videos per question, each with its best window."""
        if self._index is None or self._passages is None:
            raise ConfigError("PassageBM25Retriever.search called before index(corpus)")
        passages = self._passages
        results = []
        for scores in self._index.scores([q.text for q in questions]) if questions else []:
            video_scores, best = best_per_video(passages, scores)
            order = np.argsort(-video_scores, kind="stable")[:top_k]
            results.append([PassageHit(passages.video_ids[v], float(video_scores[v]),
                                       Span(float(passages.starts[best[v]]), float(passages.ends[best[v]])))
                            for v in order])
        return results
