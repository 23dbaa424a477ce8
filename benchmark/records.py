"""The data model, defined once: subtitle pieces, videos, questions, answers and ranked candidates.

A *system* only ever sees :class:`Question` (or :class:`LocalizationQuery` on the single-video track);
answers live in :class:`Annotation`, which the harness keeps to itself for the split being predicted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# An answer or a candidate may end this far past the video's stated duration (durations are rounded).
DURATION_TOLERANCE_S = 1.0


@dataclass(frozen=True, slots=True)
class SubtitlePiece:
    """One caption line: shown from ``start`` to ``end`` seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Video:
    """One corpus video: its duration, its subtitle pieces in time order, and optionally a feature file."""

    video_id: str
    duration: float
    pieces: tuple[SubtitlePiece, ...] = ()
    feature_path: str | None = None

    @property
    def transcript(self) -> str:
        return " ".join(piece.text for piece in self.pieces)


@dataclass(frozen=True, slots=True)
class Question:
    """What a corpus-track system receives: the question text, never its video or answer."""

    qid: str
    text: str


@dataclass(frozen=True, slots=True)
class LocalizationQuery:
    """What a single-video (oracle) track system receives: the question and the video known to answer it."""

    qid: str
    text: str
    video_id: str


@dataclass(frozen=True, slots=True)
class Span:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Annotation:
    """A question with its gold answer: the video and the time span that answer it."""

    qid: str
    text: str
    video_id: str
    start: float
    end: float
    video_duration: float

    @property
    def question(self) -> Question:
        return Question(self.qid, self.text)

    @property
    def localization_query(self) -> LocalizationQuery:
        return LocalizationQuery(self.qid, self.text, self.video_id)

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ranked answer: a span in a video. ``score`` is informative; list order is the ranking."""

    video_id: str
    start: float
    end: float
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    qid: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class SplitData:
    """One split: its annotated questions and the videos they point to (not yet the evaluation corpus)."""

    name: str
    annotations: tuple[Annotation, ...]
    videos: Mapping[str, Video]
    by_qid: Mapping[str, Annotation] = field(init=False, repr=False, compare=False)
    # When this is a seeded sample of a split (benchmark.data.sampling): how many questions the split has.
    sampled_from: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_qid", {a.qid: a for a in self.annotations})

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(a.question for a in self.annotations)
