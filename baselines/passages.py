"""Passages: sliding windows of consecutive subtitle pieces, the unit of passage retrieval and of the
lexical window localizer. A passage spans from its first piece's start to its last piece's end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from benchmark.records import Video


@dataclass(frozen=True)
class Passages:
    """All windows of a corpus, grouped by video in corpus order.

    ``video_index[i]`` is the position (in ``video_ids``) of the video of passage ``i``; the passages of
    video ``v`` are ``offsets[v]:offsets[v + 1]``. Passage ``i`` holds the pieces ``firsts[i]:lasts[i]`` of
    its video (none for the one empty passage of a video without subtitles)."""

    video_ids: tuple[str, ...]
    texts: list[str]
    starts: np.ndarray
    ends: np.ndarray
    video_index: np.ndarray
    offsets: np.ndarray
    firsts: np.ndarray
    lasts: np.ndarray

    def of_video(self, position: int) -> slice:
        return slice(int(self.offsets[position]), int(self.offsets[position + 1]))


def sliding_windows(corpus: Mapping[str, Video], size: int, stride: int) -> Passages:
    """Windows of ``size`` pieces every ``stride`` pieces (the last window ends at the last piece). A video
    with fewer pieces than ``size`` is one window; a video without subtitles is one empty window covering it."""
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be >= 1, got {size} and {stride}")
    texts: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    video_index: list[int] = []
    pieces_of: list[tuple[int, int]] = []
    offsets = [0]
    for position, video in enumerate(corpus.values()):
        pieces = video.pieces
        if not pieces:
            texts.append("")
            starts.append(0.0)
            ends.append(video.duration)
            video_index.append(position)
            pieces_of.append((0, 0))
        else:
            last_start = max(len(pieces) - size, 0)
            window_starts = list(range(0, last_start + 1, stride))
            if window_starts[-1] != last_start:
                window_starts.append(last_start)
            for first in window_starts:
                window = pieces[first:first + size]
                texts.append(" ".join(piece.text for piece in window))
                starts.append(window[0].start)
                ends.append(max(window[-1].end, window[0].start))
                video_index.append(position)
                pieces_of.append((first, first + len(window)))
        offsets.append(len(texts))
    ranges = np.asarray(pieces_of, dtype=np.int64).reshape(-1, 2)
    return Passages(tuple(corpus), texts, np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64),
                    np.asarray(video_index, dtype=np.int64), np.asarray(offsets, dtype=np.int64),
                    ranges[:, 0], ranges[:, 1])


def best_per_video(passages: Passages, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For one query's passage scores: each video's best score and the index of its best passage."""
    best_scores = np.maximum.reduceat(scores, passages.offsets[:-1])
    best_index = np.empty(len(passages.video_ids), dtype=np.int64)
    for position in range(len(passages.video_ids)):
        window = passages.of_video(position)
        best_index[position] = window.start + int(np.argmax(scores[window]))
    return best_scores, best_index
