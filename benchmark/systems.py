"""The three interfaces every method plugs into: retrievers, localizers and systems.

* A :class:`Retriever` ranks the corpus videos for a question.
* A :class:`Localizer` proposes scored spans inside one video for a question.
* A :class:`System` returns, per question, the ranked (video, span) candidates of a predictions file.

Learned components are fitted on the ``train`` split and may select on ``validation`` (both with their
answers, in :class:`TrainingData`). At prediction time they receive only :class:`Question` (no video, no
answer) on the corpus track, or :class:`LocalizationQuery` (the gold video, no span) on the
localization track. Nothing else of the evaluated split reaches them.

Any of them may also say what its ``fit`` chose (a window length, a fusion weight) through an optional
``fitted()`` method returning JSON-able values; the harness records it in the run's manifest
(:func:`fitted_settings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from benchmark.records import Candidate, LocalizationQuery, Prediction, Question, SplitData, Video


@dataclass(frozen=True)
class TrainingData:
    """What learned components may learn from: train, and validation for model selection."""

    train: SplitData
    validation: SplitData


@dataclass(frozen=True, slots=True)
class RankedVideo:
    video_id: str
    score: float


@runtime_checkable
class Retriever(Protocol):
    name: str

    def fit(self, data: TrainingData) -> None:
        """Learn what needs learning (a no-op for unsupervised retrievers)."""

    def index(self, corpus: Mapping[str, Video]) -> None:
        """Prepare to search ``corpus``; called again whenever the corpus changes."""

    def rank(self, questions: Sequence[Question], top_k: int) -> list[list[RankedVideo]]:
        """The best ``top_k`` videos of the indexed corpus per question, best first."""


@runtime_checkable
class Localizer(Protocol):
    name: str

    def fit(self, data: TrainingData) -> None:
        """Learn what needs learning (a no-op for rule-based localizers)."""

    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        """Up to ``top_n`` scored spans in each query's ``video_id``, best first."""


@runtime_checkable
class System(Protocol):
    name: str

    def fit(self, data: TrainingData) -> None:
        """Train and select (on ``data.validation``) whatever the system learns."""

    def predict(self, questions: Sequence[Question], corpus: Mapping[str, Video],
                max_candidates: int) -> list[Prediction]:
        """Corpus track: ranked (video, span) candidates over ``corpus`` per question."""

    def predict_localization(self, queries: Sequence[LocalizationQuery], corpus: Mapping[str, Video],
                             max_candidates: int) -> list[Prediction]:
        """Localization track: candidates inside each query's given video."""


def fitted_settings(component: object) -> dict[str, Any]:
    """What ``component`` chose in ``fit``, by its optional ``fitted()`` method; ``{}`` when it has none."""
    fitted = getattr(component, "fitted", None)
    return dict(fitted()) if callable(fitted) else {}
