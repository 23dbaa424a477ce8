"""Systems built from parts: a retriever's top-K videos x a localizer's spans in each (two-stage), the
passage-BM25 system (its best window is the span), and the oracle-video mode of any localizer.

Score combination (two-stage). For question q, let s_1..s_K be the retrieval scores of the top-K videos and
t_1..t_n the localizer's scores of its spans in video v. Both are turned into distributions with a softmax
(retrieval scores divided by ``temperature``; span scores as they are) and a candidate (v, span j) scores

    p(v | q) * p(j | v, q) = softmax(s / temperature)_v * softmax(t)_j.

Candidates are sorted by that score (ties keep retrieval order, then span order). With one span per video
(the default) the candidate list is exactly the retriever's ranking, each video carrying its best span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from baselines.bm25 import PassageBM25Retriever
from benchmark.errors import ConfigError
from benchmark.records import Candidate, LocalizationQuery, Prediction, Question, Video
from benchmark.systems import Localizer, RankedVideo, Retriever, TrainingData, fitted_settings


@dataclass(frozen=True)
class CombinationOptions:
    """``top_k``: videos taken from the retriever (0: as many as candidates allowed); ``spans_per_video``: spans
    asked from the localizer in each; ``temperature``: of the retrieval softmax."""

    top_k: int = 0
    spans_per_video: int = 1
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.top_k < 0 or self.spans_per_video < 1 or self.temperature <= 0:
            raise ValueError("top_k must be >= 0, spans_per_video >= 1 and temperature > 0")


def softmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def combine(ranked: Sequence[RankedVideo], spans: Sequence[Sequence[Candidate]], temperature: float,
            max_candidates: int) -> tuple[Candidate, ...]:
    """The two-stage rule of this module's docstring, for one question."""
    video_probability = softmax(np.array([r.score for r in ranked], dtype=np.float64) / temperature)
    rows = []
    for video_rank, (p_video, video_spans) in enumerate(zip(video_probability, spans, strict=True)):
        span_scores = np.array([c.score if c.score is not None else 0.0 for c in video_spans], dtype=np.float64)
        for span_rank, (candidate, p_span) in enumerate(zip(video_spans, softmax(span_scores), strict=True)):
            rows.append((-(p_video * p_span), video_rank, span_rank, candidate))
    rows.sort(key=lambda row: row[:3])
    return tuple(Candidate(c.video_id, c.start, c.end, float(-negative)) for negative, _, _, c in rows[:max_candidates])


class TwoStageSystem:
    """Retriever top-K videos x localizer spans in each, combined by :func:`combine`."""

    def __init__(self, name: str, retriever: Retriever, localizer: Localizer,
                 combination: CombinationOptions | None = None) -> None:
        self.name = name
        self.retriever = retriever
        self.localizer = localizer
        self.combination = combination or CombinationOptions()
        self._indexed: tuple[str, ...] | None = None

    def fit(self, data: TrainingData) -> None:
        self.retriever.fit(data)
        self.localizer.fit(data)

    def fitted(self) -> dict[str, object]:
        parts = {"retriever": fitted_settings(self.retriever), "localizer": fitted_settings(self.localizer)}
        return {part: chosen for part, chosen in parts.items() if chosen}

    def predict(self, questions: Sequence[Question], corpus: Mapping[str, Video],
                max_candidates: int) -> list[Prediction]:
        if tuple(corpus) != self._indexed:
            self.retriever.index(corpus)
            self._indexed = tuple(corpus)
        top_k = self.combination.top_k or max_candidates
        rankings = self.retriever.rank(questions, top_k)
        pairs = [(question, ranked) for question, ranked in zip(questions, rankings, strict=True)]
        flat_queries = [LocalizationQuery(q.qid, q.text, r.video_id) for q, ranked in pairs for r in ranked]
        flat_spans = self.localizer.localize(flat_queries, corpus, self.combination.spans_per_video)
        predictions, cursor = [], 0
        for question, ranked in pairs:
            spans = flat_spans[cursor:cursor + len(ranked)]
            cursor += len(ranked)
            predictions.append(Prediction(question.qid, combine(ranked, spans, self.combination.temperature,
                                                                max_candidates)))
        return predictions

    def predict_localization(self, queries: Sequence[LocalizationQuery], corpus: Mapping[str, Video],
                             max_candidates: int) -> list[Prediction]:
        return localization_predictions(self.localizer, queries, corpus, max_candidates)


class OracleVideoSystem:
    """Oracle-video mode of a localizer: the gold video is given, so only the localization track exists.
    On that track its scores are the upper bound of every two-stage system with this localizer."""

    def __init__(self, name: str, localizer: Localizer) -> None:
        self.name = name
        self.localizer = localizer

    def fit(self, data: TrainingData) -> None:
        self.localizer.fit(data)

    def fitted(self) -> dict[str, object]:
        chosen = fitted_settings(self.localizer)
        return {"localizer": chosen} if chosen else {}

    def predict(self, questions: Sequence[Question], corpus: Mapping[str, Video],
                max_candidates: int) -> list[Prediction]:
        raise ConfigError(f"system '{self.name}' is an oracle-video system: it runs on the localization track "
                          "only, where each question comes with its gold video")

    def predict_localization(self, queries: Sequence[LocalizationQuery], corpus: Mapping[str, Video],
                             max_candidates: int) -> list[Prediction]:
        return localization_predictions(self.localizer, queries, corpus, max_candidates)


class PassageBM25System:
    """Passage-level BM25 alone: videos ranked by their best window, that window as the span."""

    def __init__(self, name: str, retriever: PassageBM25Retriever) -> None:
        self.name = name
        self.retriever = retriever
        self._indexed: tuple[str, ...] | None = None

    def fit(self, data: TrainingData) -> None:
        self.retriever.fit(data)

    def predict(self, questions: Sequence[Question], corpus: Mapping[str, Video],
                max_candidates: int) -> list[Prediction]:
        if tuple(corpus) != self._indexed:
            self.retriever.index(corpus)
            self._indexed = tuple(corpus)
        return [Prediction(q.qid, tuple(Candidate(hit.video_id, hit.span.start, hit.span.end, hit.score)
                                        for hit in hits))
                for q, hits in zip(questions, self.retriever.search(questions, max_candidates), strict=True)]

    def predict_localization(self, queries: Sequence[LocalizationQuery], corpus: Mapping[str, Video],
                             max_candidates: int) -> list[Prediction]:
        if tuple(corpus) != self._indexed:
            self.retriever.index(corpus)
            self._indexed = tuple(corpus)
        predictions = []
        for query in queries:
            hits = self.retriever.search([Question(query.qid, query.text)], len(corpus))[0]
            hit = next(h for h in hits if h.video_id == query.video_id)
            predictions.append(Prediction(query.qid, (Candidate(query.video_id, hit.span.start, hit.span.end,
                                                                hit.score),)))
        return predictions


def localization_predictions(localizer: Localizer, queries: Sequence[LocalizationQuery],
                             corpus: Mapping[str, Video], max_candidates: int) -> list[Prediction]:
    spans = localizer.localize(queries, corpus, max_candidates)
    return [Prediction(q.qid, tuple(c[:max_candidates])) for q, c in zip(queries, spans, strict=True)]
