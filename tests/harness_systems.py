"""Small systems for the harness tests, registered through the documented extension points.

``overlap``: ranks videos by the question words their transcripts contain (ties broken by a seeded draw)
and proposes, in each, a window of ``window_s`` seconds around the subtitle piece sharing most words,
shifted by a seeded jitter so that seeds change the predictions. ``answer-peeker``: tries to read the
gold video of the questions it is asked, which the harness must make impossible.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchmark.errors import ConfigError
from benchmark.records import Candidate, LocalizationQuery, Prediction, Question, Video
from benchmark.systems import TrainingData

_WORD = re.compile(r"[a-z]+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


class OverlapSystem:
    def __init__(self, seed: int = 0, window_s: float = 20.0, jitter_s: float = 5.0) -> None:
        self.name = "overlap"
        self.seed, self.window_s, self.jitter_s = seed, window_s, jitter_s
        self.seen: TrainingData | None = None

    def fit(self, data: TrainingData) -> None:
        self.seen = data

    def _span(self, question: Question | LocalizationQuery, video: Video) -> Candidate:
        words = _words(question.text)
        rng = np.random.default_rng([self.seed, zlib.crc32(f"{question.qid}/{video.video_id}".encode())])
        if video.pieces:
            overlaps = [len(words & _words(piece.text)) for piece in video.pieces]
            piece = video.pieces[int(np.argmax(overlaps))]
            centre, score = (piece.start + piece.end) / 2, float(max(overlaps))
        else:
            centre, score = video.duration / 2, 0.0
        centre += rng.uniform(-self.jitter_s, self.jitter_s)
        start = min(max(0.0, centre - self.window_s / 2), max(0.0, video.duration - self.window_s))
        return Candidate(video.video_id, round(start, 3), round(min(video.duration, start + self.window_s), 3), score)

    def predict(self, questions: Sequence[Question], corpus: Mapping[str, Video],
                max_candidates: int) -> list[Prediction]:
        predictions = []
        for question in questions:
            words = _words(question.text)
            rng = np.random.default_rng([self.seed, zlib.crc32(question.qid.encode())])
            scored = [(len(words & _words(video.transcript)) + rng.uniform(0, 0.5), video_id)
                      for video_id, video in corpus.items()]
            ranked = [video_id for _, video_id in sorted(scored, key=lambda item: -item[0])][:max_candidates]
            predictions.append(Prediction(question.qid, tuple(self._span(question, corpus[v]) for v in ranked)))
        return predictions

    def predict_localization(self, queries: Sequence[LocalizationQuery], corpus: Mapping[str, Video],
                             max_candidates: int) -> list[Prediction]:
        return [Prediction(q.qid, (self._span(q, corpus[q.video_id]),)) for q in queries]


def make_overlap(config: Mapping[str, Any]) -> OverlapSystem:
    """Word-overlap retrieval with a seeded window around the best-matching subtitle piece (tests only)."""
    unknown = sorted(set(config) - {"seed", "window_s", "jitter_s"})
    if unknown:
        raise ConfigError(f"system 'overlap' has no option {', '.join(unknown)}")
    return OverlapSystem(**config)


make_overlap.protocol_keys = {"seed": "seed"}  # type: ignore[attr-defined]


class AnswerPeeker(OverlapSystem):
    """Tries to learn each question's gold video from what it is handed at prediction time."""

    def predict(self, questions: Sequence[Question], corpus: Mapping[str, Video],
                max_candidates: int) -> list[Prediction]:
        return [Prediction(q.qid, (Candidate(q.video_id, 0.0, 1.0),)) for q in questions]  # type: ignore[attr-defined]


def make_answer_peeker(config: Mapping[str, Any]) -> AnswerPeeker:
    """A system that cheats (tests only)."""
    return AnswerPeeker(**config)
