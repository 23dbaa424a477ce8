"""Window localizers by meaning: the ``semantic`` window (sentence-embedding cosine) and the ``hybrid``
window (BM25 and cosine, normalised per question and fused with a weight fitted on train).

Both search the same sliding windows of subtitle pieces as the lexical ``window`` localizer
(:func:`baselines.passages.sliding_windows`) and choose their settings the same way: the window length (and,
for ``hybrid``, the weight) with the best mean IoU of the first window on a seeded sample of train
questions (:func:`baselines.localizers.fit_sample`); no answer of the evaluated split reaches them.

A window's embedding is the mean of its pieces' sentence embeddings. Each piece is embedded once per video
(kept in memory, and on disk by :class:`baselines.dense.SentenceEncoder`); window means come from prefix
sums of the piece embeddings, so scoring every window of every length costs one matrix product per query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from baselines.dense import EncoderOptions, SentenceEncoder, TextEncoder
from baselines.localizers import (
    LexicalWindowLocalizer,
    SlidingWindowOptions,
    first_window_iou,
    fit_sample,
    video_of,
    video_windows,
    window_candidates,
)
from baselines.passages import Passages, sliding_windows
from baselines.text import LexicalOptions
from benchmark.errors import ConfigError
from benchmark.records import Candidate, LocalizationQuery, Video
from benchmark.systems import TrainingData


def window_embeddings(passages: Passages, pieces: Mapping[str, np.ndarray], dim: int) -> np.ndarray:
    """Unit-length mean embeddings of every window of ``passages`` (rows in passage order), from each video's
    piece embeddings ``pieces[video_id]`` (pieces x dim). A window without pieces gets the zero vector, so it
    scores 0 against any question."""
    embedded = np.zeros((len(passages.texts), dim), dtype=np.float32)
    for position, video_id in enumerate(passages.video_ids):
        own = pieces[video_id]
        if not len(own):
            continue
        prefix = np.zeros((len(own) + 1, dim), dtype=np.float64)
        np.cumsum(own, axis=0, out=prefix[1:])
        window = passages.of_video(position)
        sums = prefix[passages.lasts[window]] - prefix[passages.firsts[window]]
        # the mean's direction is the sum's: normalising the sum gives the unit-length mean
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        embedded[window] = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return embedded


class SemanticWindowLocalizer:
    """The contiguous window of subtitle pieces whose mean sentence embedding has the highest cosine with
    the question's (the ``dense`` encoder, all-MiniLM-L6-v2 by default). The window length is the one with
    the best mean IoU on train, as for ``window``. ``encoder`` replaces the sentence-transformers model
    (any :class:`baselines.dense.TextEncoder`)."""

    name = "semantic"

    def __init__(self, options: SlidingWindowOptions | None = None, encoder_options: EncoderOptions | None = None,
                 encoder: TextEncoder | None = None) -> None:
        self.options = options or SlidingWindowOptions()
        self.encoder = encoder or SentenceEncoder(encoder_options)
        self.size: int | None = None
        self.fit_scores: dict[int, float] = {}
        self._pieces: dict[str, np.ndarray] = {}
        self._questions: dict[str, np.ndarray] = {}
        self._windows: tuple[tuple[str, ...], int, Passages, np.ndarray] | None = None

    def fit(self, data: TrainingData) -> None:
        sample = fit_sample(data.train, self.options)
        self.fit_scores = {size: first_window_iou(*self.window_scores(size, sample.queries, sample.videos), sample)
                           for size in sorted(set(self.options.sizes))}
        self.size = max(self.fit_scores, key=lambda size: (self.fit_scores[size], -size))

    def fitted(self) -> dict[str, object]:
        """What fit chose, and the train mean IoU of every window length it tried."""
        return {"size": self.size, "fit_mIoU": {str(size): value for size, value in self.fit_scores.items()}}

    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        if self.size is None:
            raise ConfigError("SemanticWindowLocalizer.localize called before fit(training data)")
        return window_candidates(*self.window_scores(self.size, queries, videos), queries, top_n)

    def window_scores(self, size: int, queries: Sequence[LocalizationQuery],
                      videos: Mapping[str, Video]) -> tuple[Passages, list[np.ndarray]]:
        """The windows of ``size`` pieces of ``videos``, and each query's cosines with its video's windows."""
        for query in queries:
            video_of(query, videos)
        if not queries:
            return sliding_windows(videos, size, self.options.stride), []
        questions = self.question_embeddings([q.text for q in queries])
        passages, embedded = self._embedded_windows(size, videos, questions.shape[1])
        return passages, [embedded[window] @ question
                          for window, question in zip(video_windows(passages, queries), questions, strict=True)]

    def question_embeddings(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text (at least one); each distinct text is encoded once per localizer."""
        missing = sorted(set(texts) - set(self._questions))
        if missing:
            self._questions.update(zip(missing, self.encoder.encode(missing), strict=True))
        return np.stack([self._questions[text] for text in texts])

    def piece_embeddings(self, videos: Mapping[str, Video]) -> dict[str, np.ndarray]:
        """Each video's piece embeddings (pieces x dim); the pieces of a video are encoded on its first use
        only, those of all new videos in one batch."""
        new = [video_id for video_id in videos if video_id not in self._pieces]
        texts = [piece.text for video_id in new for piece in videos[video_id].pieces]
        encoded = self.encoder.encode_cached(texts) if texts else np.zeros((0, 0), dtype=np.float32)
        cursor = 0
        for video_id in new:
            count = len(videos[video_id].pieces)
            self._pieces[video_id] = encoded[cursor:cursor + count]
            cursor += count
        return {video_id: self._pieces[video_id] for video_id in videos}

    def _embedded_windows(self, size: int, videos: Mapping[str, Video], dim: int) -> tuple[Passages, np.ndarray]:
        key = tuple(videos)
        if self._windows is None or self._windows[0] != key or self._windows[1] != size:
            passages = sliding_windows(videos, size, self.options.stride)
            self._windows = (key, size, passages, window_embeddings(passages, self.piece_embeddings(videos), dim))
        return self._windows[2], self._windows[3]


def normalized(scores: np.ndarray, how: Literal["zscore", "minmax"]) -> np.ndarray:
    """One question's window scores on a common scale: ``zscore`` (minus the mean, over the standard
    deviation) or ``minmax`` (onto [0, 1]); all zeros when the scores are all equal."""
    scores = np.asarray(scores, dtype=np.float64)
    if how == "zscore":
        centred = scores - scores.mean() if len(scores) else scores
        spread = float(scores.std()) if len(scores) else 0.0
    else:
        centred = scores - scores.min() if len(scores) else scores
        spread = float(np.ptp(scores)) if len(scores) else 0.0
    return centred / spread if spread > 1e-12 else np.zeros_like(scores)


def fused(lexical: Sequence[np.ndarray], semantic: Sequence[np.ndarray], lexical_weight: float,
          how: Literal["zscore", "minmax"]) -> list[np.ndarray]:
    """Per question: w * normalized(BM25) + (1 - w) * normalized(cosine), over the same windows."""
    return [lexical_weight * normalized(a, how) + (1.0 - lexical_weight) * normalized(b, how)
            for a, b in zip(lexical, semantic, strict=True)]


@dataclass(frozen=True)
class HybridOptions:
    """``lexical_weights``: the weights w of the BM25 score tried on train (the cosine gets 1 - w; 0 is the
    ``semantic`` localizer, 1 the lexical ``window``); ``normalization``: how each question's scores over
    the windows of its video are put on one scale before fusing, ``zscore`` or ``minmax``."""

    lexical_weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    normalization: Literal["zscore", "minmax"] = "zscore"

    def __post_init__(self) -> None:
        if not self.lexical_weights or not all(0.0 <= w <= 1.0 for w in self.lexical_weights):
            raise ValueError("hybrid.lexical_weights must be a non-empty list of weights in [0, 1]")


class HybridWindowLocalizer:
    """Windows scored by BM25 (as ``window``) and by embedding cosine (as ``semantic``), each normalised per
    question over the windows of its video and fused as w * BM25 + (1 - w) * cosine. The window length and
    w are chosen together on train (best mean IoU of the first window on the fit sample), never on the
    evaluated split."""

    name = "hybrid"

    def __init__(self, options: SlidingWindowOptions | None = None, hybrid: HybridOptions | None = None,
                 lexical: LexicalOptions | None = None, encoder_options: EncoderOptions | None = None,
                 encoder: TextEncoder | None = None) -> None:
        self.options = options or SlidingWindowOptions()
        self.hybrid = hybrid or HybridOptions()
        self.lexical = LexicalWindowLocalizer(self.options, lexical)
        self.semantic = SemanticWindowLocalizer(self.options, encoder_options, encoder)
        self.size: int | None = None
        self.lexical_weight: float | None = None
        self.fit_scores: dict[tuple[int, float], float] = {}

    def fit(self, data: TrainingData) -> None:
        sample = fit_sample(data.train, self.options)
        self.fit_scores = {}
        for size in sorted(set(self.options.sizes)):
            passages, lexical = self.lexical.window_scores(size, sample.queries, sample.videos)
            _, semantic = self.semantic.window_scores(size, sample.queries, sample.videos)
            for weight in self.hybrid.lexical_weights:
                self.fit_scores[(size, weight)] = first_window_iou(
                    passages, fused(lexical, semantic, weight, self.hybrid.normalization), sample)
        order = {setting: i for i, setting in enumerate(self.fit_scores)}
        self.size, self.lexical_weight = max(self.fit_scores, key=lambda s: (self.fit_scores[s], -order[s]))

    def fitted(self) -> dict[str, object]:
        """What fit chose, and the train mean IoU of every (window length, weight) it tried."""
        return {"size": self.size, "lexical_weight": self.lexical_weight, "normalization": self.hybrid.normalization,
                "fit_mIoU": {f"{size}/{weight}": value for (size, weight), value in self.fit_scores.items()}}

    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        if self.size is None or self.lexical_weight is None:
            raise ConfigError("HybridWindowLocalizer.localize called before fit(training data)")
        passages, lexical = self.lexical.window_scores(self.size, queries, videos)
        _, semantic = self.semantic.window_scores(self.size, queries, videos)
        return window_candidates(passages, fused(lexical, semantic, self.lexical_weight, self.hybrid.normalization),
                                 queries, top_n)
