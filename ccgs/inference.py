"""Batched corpus inference: every span of every (question, video window) scored, all spans ranked together.

Work items (question, window) are sorted by length and cut into batches under a token budget (length
bucketing keeps padding small); each batch is one forward pass with padding masks, and each item's best
spans are taken with one ``topk`` on the device. Spans seen in two overlapping windows keep their best
score; ``spans_per_video`` caps one video's spans in a candidate list. ``max_batch_size=1`` with
``bucketing=False`` is the authors' one-pair-at-a-time scheme, kept for the speed benchmark and the
equivalence test.

Launched as several processes (:mod:`ccgs.distributed`), each process scores its share of the items,
balanced by token count, and every process merges everyone's best spans: the candidates are those of one
process, up to the order of tied scores and the float noise of other batch paddings.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.records import Candidate, Video
from ccgs.collate import EncodedBatch, PieceTimes, collate
from ccgs.distributed import gather_from_all, process_count, process_index, shard_by_tokens
from ccgs.encoding import SubtitleTokens, Window, piece_times
from ccgs.features import ClipFeatures
from ccgs.model import MASKED, CCGSModel


@dataclass(frozen=True)
class _Item:
    question: int
    video: Video
    window: Window
    length: int


@dataclass
class InferenceStats:
    pairs: int = 0
    """(question, video) pairs scored."""
    windows: int = 0
    """(question, window) encoder inputs; more than ``pairs`` when transcripts are windowed."""
    batches: int = 0
    """Forward passes of this process."""
    seconds: float = 0.0
    processes: int = 1
    """Processes that shared the work (each scored about 1/processes of the windows' tokens)."""

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds else 0.0


class SpanScorer:
    def __init__(self, model: CCGSModel, tokens: SubtitleTokens, features: ClipFeatures | None,
                 device: torch.device | str = "cpu", batch_tokens: int = 16384,
                 autocast_dtype: torch.dtype | None = None, spans_per_video: int | None = None,
                 deduplicate: bool = True, inverted_spans: str = "by_index") -> None:
        self.model = model
        self.tokens = tokens
        self.features = features
        self.device = torch.device(device)
        self.batch_tokens = batch_tokens
        self.autocast_dtype = autocast_dtype
        self.spans_per_video = spans_per_video
        self.deduplicate = deduplicate
        self.inverted_spans = inverted_spans
        self.stats = InferenceStats()

    def encode(self, items: Sequence[tuple[tuple[int, ...], Video, Window]]) -> EncodedBatch:
        """One padded batch of (question tokens, video, window) items."""
        sequences = [self.tokens.sequence(question, window) for question, _, window in items]
        clips = [self.features.get(video) for _, video, _ in items] if self.features is not None else None
        num_clips = self.model.clips if self.features is not None else 0
        times = None
        if self.features is not None and self.model.temporal_fusion:
            times = [PieceTimes(window.starts, window.ends, video.duration) for _, video, window in items]
        return collate(sequences, self.tokens.pad_id, clips, num_clips, self.model.config.visual_dim, times)

    @torch.inference_mode()
    def logits(self, batch: EncodedBatch) -> torch.Tensor:
        self.model.eval()
        autocast = (torch.autocast(self.device.type, dtype=self.autocast_dtype) if self.autocast_dtype
                    else contextlib.nullcontext())
        with autocast:
            return self.model(batch.to(self.device)).logits

    def rank(self, questions: Sequence[str], videos: Sequence[Sequence[Video]], top_n: int,
             max_batch_size: int | None = None, bucketing: bool = True, progress: bool = False
             ) -> list[list[Candidate]]:
        """The ``top_n`` best (video, span) candidates per question over that question's ``videos``."""
        started = time.perf_counter()
        question_tokens = [self.tokens.question(text) for text in questions]
        items = [
            _Item(q, video, window, len(question_tokens[q]) + 2 + window.num_tokens)
            for q, video_list in enumerate(videos) for video in video_list for window in self.tokens.windows(video)
        ]
        if bucketing:
            items.sort(key=lambda item: -item.length)
        processes = process_count()
        mine = items
        if processes > 1:
            share = shard_by_tokens([item.length for item in items], processes)[process_index()]
            mine = [items[i] for i in share]
        found: list[tuple[np.ndarray, ...]] = []
        bar = tqdm(total=len(mine), desc="ccgs inference", unit="window",
                   disable=not progress or process_index() != 0, leave=False)
        for batch_items in self._batches(mine, max_batch_size):
            encoded = self.encode([(question_tokens[i.question], i.video, i.window) for i in batch_items])
            found.append(self._best_spans(batch_items, self.logits(encoded), top_n))
            self.stats.batches += 1
            bar.update(len(batch_items))
        bar.close()
        if processes > 1:
            found = [part for parts in gather_from_all(found) for part in parts]
        self.stats.processes = processes
        candidates = self._merge(found, len(questions), videos, top_n, self.spans_per_video, self.deduplicate,
                                 self.inverted_spans)
        self.stats.pairs += sum(len(v) for v in videos)
        self.stats.windows += len(items)
        self.stats.seconds += time.perf_counter() - started
        return candidates

    def _batches(self, items: list[_Item], max_batch_size: int | None):
        start = 0
        while start < len(items):
            end = start + 1
            longest = items[start].length
            while end < len(items) and (max_batch_size is None or end - start < max_batch_size):
                longest = max(longest, items[end].length)
                if longest * (end - start + 1) > self.batch_tokens:
                    break
                end += 1
            yield items[start:end]
            start = end

    @staticmethod
    def _best_spans(items: list[_Item], logits: torch.Tensor, top_n: int) -> tuple[np.ndarray, ...]:
        batch, n, _ = logits.shape
        values, index = logits.reshape(batch, n * n).float().topk(min(top_n, n * n), dim=1)
        values, index = values.cpu().numpy(), index.cpu().numpy()
        first = np.array([item.window.first_piece for item in items])[:, None]
        row = np.broadcast_to(np.arange(batch)[:, None], values.shape)
        keep = values > MASKED / 2
        return (np.array([item.question for item in items])[row[keep]],
                np.array([item.video.video_id for item in items], dtype=object)[row[keep]],
                (index // n + first)[keep], (index % n + first)[keep], values[keep])

    @staticmethod
    def _merge(found: list[tuple[np.ndarray, ...]], num_questions: int, videos: Sequence[Sequence[Video]],
               top_n: int, spans_per_video: int | None, deduplicate: bool = True,
               inverted_spans: str = "by_index") -> list[list[Candidate]]:
        results: list[list[Candidate]] = [[] for _ in range(num_questions)]
        if not found:
            return results
        question, video_id, start, end, score = (np.concatenate(parts) for parts in zip(*found, strict=True))
        order = np.lexsort((-score, question))
        question, video_id, start, end, score = question[order], video_id[order], start[order], end[order], score[order]
        bounds = np.searchsorted(question, np.arange(num_questions + 1))
        for q in range(num_questions):
            lookup = {video.video_id: video for video in videos[q]}
            seen: set[tuple[str, float, float]] = set()
            per_video: dict[str, int] = {}
            for k in range(bounds[q], bounds[q + 1]):
                if spans_per_video is not None and per_video.get(video_id[k], 0) >= spans_per_video:
                    continue
                candidate = span_candidate(lookup[video_id[k]], int(start[k]), int(end[k]), float(score[k]),
                                           inverted_spans)
                key = (candidate.video_id, candidate.start, candidate.end)
                if deduplicate and key in seen:  # the same span from an overlapping window, with a lower score
                    continue
                seen.add(key)
                per_video[candidate.video_id] = per_video.get(candidate.video_id, 0) + 1
                results[q].append(candidate)
                if len(results[q]) == top_n:
                    break
        return results


def span_candidate(video: Video, first: int, last: int, score: float, inverted_spans: str = "by_index"
                   ) -> Candidate:
    """Span from the start of piece ``first`` to the end of piece ``last``. An inverted span (scored only
    without the valid-span mask) runs from ``first`` to the end of the last piece: ``by_time`` when its start
    time is not before its end time, as the authors' evaluator (``get_iou`` in main.py) decides, which over
    overlapping subtitles keeps some spans with ``last < first``; ``by_index`` whenever ``last < first``."""
    starts, ends = piece_times(video)
    inverted = starts[first] >= ends[last] if inverted_spans == "by_time" else last < first
    end = ends[-1] if inverted else ends[last]
    return Candidate(video.video_id, float(starts[first]), float(max(end, starts[first])), score)
