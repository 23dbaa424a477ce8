"""A random retriever: the chance level of video retrieval (seeded per question)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from baselines.localizers import RandomOptions, question_rng
from benchmark.errors import ConfigError
from benchmark.records import Question, Video
from benchmark.systems import RankedVideo, TrainingData


class RandomRetriever:
    """A random permutation of the corpus per question, drawn from a generator seeded by (seed, qid)."""

    name = "random"

    def __init__(self, options: RandomOptions | None = None) -> None:
        self.options = options or RandomOptions()
        self._video_ids: tuple[str, ...] | None = None

    def fit(self, data: TrainingData) -> None:
        """Nothing to learn."""

    def index(self, corpus: Mapping[str, Video]) -> None:
        self._video_ids = tuple(corpus)

    def rank(self, questions: Sequence[Question], top_k: int) -> list[list[RankedVideo]]:
        if self._video_ids is None:
            raise ConfigError("RandomRetriever.rank called before index(corpus)")
        results = []
        for question in questions:
            order = question_rng(self.options.seed, question.qid).permutation(len(self._video_ids))[:top_k]
            results.append([RankedVideo(self._video_ids[i], 1.0 / (rank + 1)) for rank, i in enumerate(order)])
        return results
