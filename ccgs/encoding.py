"""Encoder input: tokenized subtitles (cached per video), windows of pieces, and (question, window) sequences.

A sequence is ``[CLS] question [SEP] piece_1 [SEP] ... piece_n [SEP]``; the question's ``[SEP]`` and each
piece's ``[SEP]`` are the n + 1 *boundary markers*. A transcript too long for ``max_len`` tokens is split
into windows of whole pieces that overlap by ``window_overlap`` pieces, so no video is truncated or skipped.
The window plan does not depend on the question (the question's budget is fixed), so it is cached per video.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from benchmark.errors import ConfigError
from benchmark.records import Video

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """Pieces ``first_piece .. first_piece + len(piece_tokens) - 1`` of one video, tokenized."""

    video_id: str
    first_piece: int
    piece_tokens: tuple[tuple[int, ...], ...]
    starts: np.ndarray
    ends: np.ndarray

    @property
    def num_pieces(self) -> int:
        return len(self.piece_tokens)

    @property
    def num_tokens(self) -> int:
        return sum(len(tokens) + 1 for tokens in self.piece_tokens)


@dataclass(frozen=True)
class Sequence:
    input_ids: list[int]
    marker_positions: list[int]


def plan_windows(piece_costs: list[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Half-open piece ranges [a, b) covering every piece, each costing at most ``budget`` tokens (a piece
    costs its tokens plus its marker), consecutive ranges sharing up to ``overlap`` pieces."""
    count = len(piece_costs)
    windows: list[tuple[int, int]] = []
    first = 0
    while first < count:
        last, used = first, 0
        while last < count and used + piece_costs[last] <= budget:
            used += piece_costs[last]
            last += 1
        last = max(last, first + 1)  # a single over-long piece is truncated by the caller
        windows.append((first, last))
        if last >= count:
            break
        first = max(first + 1, last - overlap)
    return windows


class SubtitleTokens:
    """Tokenizes questions and subtitles once and plans each video's windows once (in-memory caches)."""

    def __init__(self, tokenizer, max_len: int, window_overlap: int, max_question_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.cls_id = _special_id(tokenizer, "cls_token_id", "bos_token_id")
        self.sep_id = _special_id(tokenizer, "sep_token_id", "eos_token_id")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.max_question_tokens = max_question_tokens
        self.max_len = max_len
        self.window_budget = max_len - max_question_tokens - 2
        if self.window_budget < 2:
            raise ConfigError(f"max_len {max_len} leaves no room for subtitles after a question of "
                              f"{max_question_tokens} tokens")
        self.window_overlap = window_overlap
        self._questions: dict[str, tuple[int, ...]] = {}
        self._windows: dict[str, list[Window]] = {}
        self.windowed_videos = 0

    def question(self, text: str) -> tuple[int, ...]:
        tokens = self._questions.get(text)
        if tokens is None:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            tokens = self._questions[text] = tuple(ids[: self.max_question_tokens])
        return tokens

    def windows(self, video: Video) -> list[Window]:
        cached = self._windows.get(video.video_id)
        if cached is None:
            cached = self._windows[video.video_id] = self._plan(video)
        return cached

    def sequence(self, question: tuple[int, ...], window: Window) -> Sequence:
        ids = [self.cls_id, *question, self.sep_id]
        markers = [len(ids) - 1]
        for tokens in window.piece_tokens:
            ids.extend(tokens)
            ids.append(self.sep_id)
            markers.append(len(ids) - 1)
        return Sequence(ids, markers)

    def _plan(self, video: Video) -> list[Window]:
        texts = [piece.text for piece in video.pieces] or [""]
        starts, ends = piece_times(video)
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        limit = self.window_budget - 1
        tokens = [tuple(ids[:limit]) for ids in encoded]
        plan = plan_windows([len(t) + 1 for t in tokens], self.window_budget, self.window_overlap)
        if len(plan) > 1:
            self.windowed_videos += 1
            log.debug("video %s: %d pieces in %d windows", video.video_id, len(tokens), len(plan))
        return [Window(video.video_id, a, tuple(tokens[a:b]), starts[a:b], ends[a:b]) for a, b in plan]


def piece_times(video: Video) -> tuple[np.ndarray, np.ndarray]:
    """Start and end seconds of each piece; a video without subtitles is one empty piece spanning it all."""
    if not video.pieces:
        return np.array([0.0]), np.array([float(video.duration)])
    starts = np.array([piece.start for piece in video.pieces], dtype=np.float64)
    ends = np.array([piece.end for piece in video.pieces], dtype=np.float64)
    return starts, ends


def _special_id(tokenizer, *names: str) -> int:
    for name in names:
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    raise ConfigError(f"the tokenizer {type(tokenizer).__name__} has none of {names}: CCGS needs a "
                      "classification and a separator token")
