"""Training labels: which span of subtitle pieces answers a question.

A span (i, j) runs from the start of piece i to the end of piece j. The target is the span whose time
interval has the highest IoU with the gold answer (first in row-major order on ties), as in the authors'
code; the nearest-piece mapping of the paper's text is kept for inspection and tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.data.ceiling import span_iou_matrix
from benchmark.data.features import clip_bounds

__all__ = ["SpanLabel", "clip_labels", "nearest_pieces", "span_iou_matrix", "span_label"]


@dataclass(frozen=True)
class SpanLabel:
    start_piece: int
    """Piece whose start is nearest the answer start (the first on ties)."""
    end_piece: int
    """Piece whose end is nearest the answer end (the last on ties)."""
    target: tuple[int, int]
    """(i, j) of the best-IoU span with i <= j."""
    best_iou: float


def nearest_pieces(starts: np.ndarray, ends: np.ndarray, answer_start: float, answer_end: float) -> tuple[int, int]:
    start_piece = int(np.argmin(np.abs(starts - answer_start)))
    end_distance = np.abs(ends - answer_end)
    end_piece = int(len(ends) - 1 - np.argmin(end_distance[::-1]))
    return start_piece, end_piece


def span_label(starts: np.ndarray, ends: np.ndarray, answer_start: float, answer_end: float,
               max_pieces: int | None = None) -> SpanLabel:
    """The best-IoU span; with ``max_pieces``, among the spans of at most that many pieces (the ones a model
    with ``max_span_pieces`` scores, so that its target is never a masked span)."""
    iou = span_iou_matrix(starts, ends, answer_start, answer_end)
    if max_pieces is not None:
        iou = np.tril(iou, k=max_pieces - 1)
    flat = int(np.argmax(iou))
    target = divmod(flat, iou.shape[1])
    start_piece, end_piece = nearest_pieces(np.asarray(starts), np.asarray(ends), answer_start, answer_end)
    return SpanLabel(start_piece, end_piece, (int(target[0]), int(target[1])), float(iou.flat[flat]))


def clip_labels(num_clips: int, length: int, duration: float, answer_start: float, answer_end: float) -> np.ndarray:
    """Highlight labels for ``num_clips`` clips spread evenly over ``duration``, padded to ``length``: 1 for a
    clip whose interval overlaps the answer."""
    labels = np.zeros(length, dtype=np.float32)
    if num_clips == 0 or duration <= 0:
        return labels
    starts, ends = clip_bounds(num_clips, duration)
    labels[:num_clips] = (ends > answer_start) & (starts < answer_end)
    return labels
