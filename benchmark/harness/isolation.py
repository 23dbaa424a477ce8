"""What a system is handed, and nothing more: the answers of the evaluated split never reach it.

* ``fit`` gets :class:`~benchmark.systems.TrainingData`: train, and a selection split with answers. When
  the evaluated split is itself the protocol's selection split (evaluating on validation), the selection
  split is instead a held-out slice of the train videos, so the evaluated answers stay out of reach.
* ``predict`` gets :class:`~benchmark.records.Question` records (qid and text: frozen, slotted, no video,
  no span), or on the localization track :class:`~benchmark.records.LocalizationQuery` (plus the gold
  video, which that track gives by definition), and a read-only view of the corpus videos (subtitles,
  lengths, feature paths: no answers).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from benchmark.data import Benchmark
from benchmark.data.sampling import sample_questions
from benchmark.protocol import Protocol
from benchmark.records import LocalizationQuery, Question, SplitData, Video
from benchmark.systems import TrainingData

# Share of the train videos held out for model selection when the evaluated split is the selection split
# (about MedVidCQA's validation share: 49 of 849 train + validation videos).
HOLDOUT_FRACTION = 0.06
HOLDOUT_SEED = 0


@dataclass(frozen=True)
class SystemInputs:
    """Everything a system receives in one run."""

    training: TrainingData
    queries: tuple[Question, ...] | tuple[LocalizationQuery, ...]
    corpus: Mapping[str, Video]
    selection: str  # which split model selection sees, in words


def evaluated_split(benchmark: Benchmark, protocol: Protocol) -> SplitData:
    """The questions ``protocol`` evaluates: its split, or a sample of ``max_questions`` of them drawn with
    ``corpus_seed`` (kept in split order; the corpus stays the whole split's)."""
    return sample_questions(benchmark.split(protocol.split), protocol.max_questions, protocol.corpus_seed)


def system_inputs(benchmark: Benchmark, protocol: Protocol) -> SystemInputs:
    """The training data, the answer-free queries and the corpus of ``protocol`` on ``benchmark``."""
    evaluated = evaluated_split(benchmark, protocol)
    train = benchmark.split("train")
    if protocol.selection_split == protocol.split:
        train, selection = hold_out_videos(train, HOLDOUT_FRACTION, HOLDOUT_SEED)
        selection_text = f"{len(selection.annotations)} questions of {len(selection.videos)} held-out train videos"
    elif protocol.selection_split == "train":
        selection = train
        selection_text = "train"
    else:
        selection = benchmark.split(protocol.selection_split)
        selection_text = protocol.selection_split
    queries: tuple[Question, ...] | tuple[LocalizationQuery, ...]
    if protocol.task == "localization":
        queries = tuple(a.localization_query for a in evaluated.annotations)
    else:
        queries = tuple(a.question for a in evaluated.annotations)
    corpus = MappingProxyType(benchmark.corpus(protocol.split, protocol.corpus_setting))
    return SystemInputs(TrainingData(train, selection), queries, corpus, selection_text)


def hold_out_videos(split: SplitData, fraction: float, seed: int) -> tuple[SplitData, SplitData]:
    """Split ``split`` by video (so no video is in both parts): the rest, and ``fraction`` of its videos
    (at least one) with their questions."""
    video_ids = sorted({a.video_id for a in split.annotations})
    count = max(1, round(fraction * len(video_ids)))
    held = set(random.Random(seed).sample(video_ids, min(count, len(video_ids) - 1)))
    kept_annotations = tuple(a for a in split.annotations if a.video_id not in held)
    held_annotations = tuple(a for a in split.annotations if a.video_id in held)
    kept = SplitData(split.name, kept_annotations,
                     {vid: video for vid, video in split.videos.items() if vid not in held})
    heldout = SplitData(f"{split.name}-holdout", held_annotations,
                        {vid: video for vid, video in split.videos.items() if vid in held})
    return kept, heldout
