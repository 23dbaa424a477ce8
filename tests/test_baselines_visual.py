"""The visual localizer learns which segment a question asks about (issue 12): on a small planted set where
every video shows two answer-like segments and only the question's concept word says which one is asked,
answer-ness alone reaches about half the IoU; the model has to learn the word-to-feature-direction link."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from baselines.spans import decode_spans
from baselines.visual import VisualLocalizer, VisualOptions, length_batches
from benchmark.metrics import temporal_iou
from benchmark.records import Annotation, SplitData, Video
from benchmark.systems import TrainingData

CONCEPTS, DIM, CLIPS, SEGMENT = 6, 32, 24, 5


def planted_split(name: str, videos: int, rng: np.random.Generator, directions: np.ndarray, folder) -> SplitData:
    """Each video: 24 one-second clips of noise plus a video offset, two 5-clip segments (concepts a != b)
    that both carry a shared answer direction plus their concept's direction; one question per segment,
    "how to do it with <concept word>"."""
    answer = directions[-1]
    annotations, video_records = [], {}
    for index in range(videos):
        video_id = f"{name}-{index}"
        clips = rng.normal(0.0, 1.0, (CLIPS, DIM)) + rng.normal(0.0, 1.0, DIM)
        first, second = rng.choice(CONCEPTS, 2, replace=False)
        starts = (int(rng.integers(0, 7)), int(rng.integers(12, CLIPS - SEGMENT + 1)))
        for concept, start in zip((first, second), starts, strict=True):
            clips[start:start + SEGMENT] += 3.0 * directions[concept] + 3.0 * answer
            annotations.append(Annotation(f"{video_id}-{concept}", f"how to do it with concept{concept}", video_id,
                                          float(start), float(start + SEGMENT), float(CLIPS)))
        path = folder / f"{video_id}.npy"
        np.save(path, clips.astype(np.float32))
        video_records[video_id] = Video(video_id, float(CLIPS), feature_path=str(path))
    return SplitData(name, tuple(annotations), video_records)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[TrainingData, SplitData]:
    folder = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(0)
    directions = rng.normal(0.0, 1.0, (CONCEPTS + 1, DIM))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    train = planted_split("train", 150, rng, directions, folder)
    validation = planted_split("validation", 8, rng, directions, folder)
    return TrainingData(train, validation), planted_split("test", 15, rng, directions, folder)


def first_span_miou(localizer: VisualLocalizer, split: SplitData) -> float:
    candidates = localizer.localize([a.localization_query for a in split.annotations], split.videos, 1)
    return float(np.mean([temporal_iou(np.array([c[0].start]), np.array([c[0].end]), a.start, a.end)[0]
                          for c, a in zip(candidates, split.annotations, strict=True)]))


def train(planted, **options) -> tuple[VisualLocalizer, float]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        localizer = VisualLocalizer(VisualOptions(**{"dim": 32, "heads": 2, "epochs": 10, "max_clips": 64, "batch_size": 8,
                                                    "learning_rate": 2e-3, **options}))
        started = time.process_time()
        localizer.fit(planted[0])
        seconds = time.process_time() - started
    finally:
        torch.set_num_threads(threads)
    return localizer, seconds


@pytest.fixture(scope="module")
def fixed_miou(planted) -> float:
    localizer, seconds = train(planted)
    assert seconds < 60  # CPU seconds: about 16 on the shared 2-core machine
    losses = [entry["train_loss"] for entry in localizer.history]
    assert len(losses) == 10 and losses[-1] < losses[0]
    return first_span_miou(localizer, planted[1])


def test_visual_localizer_learns_the_asked_concept(fixed_miou):
    assert fixed_miou > 0.8  # 0.90 measured; answer-ness alone picks the right segment half the time


def test_without_the_fixes_the_same_budget_falls_short(planted, fixed_miou):
    """PyTorch's N(0, 1) embedding init, no highlighting and no centring (the model before issue 12): 0.50
    measured with the same budget."""
    localizer, _ = train(planted, embedding_std=1.0, highlight_weight=0.0, center=False)
    assert first_span_miou(localizer, planted[1]) < fixed_miou - 0.2


def test_length_batches_cover_every_example_once_with_similar_lengths():
    lengths = np.array([5, 90, 7, 88, 6, 91, 8, 89])
    batches = length_batches(lengths, 2, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(8))
    assert all(np.ptp(lengths[batch]) <= 2 for batch in batches)


def test_decoding_adds_the_inside_logits_over_the_span():
    flat = np.zeros(5)
    assert decode_spans(flat, flat, 5, 1, inside_scores=np.array([-1.0, 2.0, 2.0, -1.0, 0.5]))[0][:2] == (1, 2)
    assert decode_spans(flat, flat, 1, 1, inside_scores=np.array([-1.0, 2.0, 3.0, -1.0, 0.5]))[0][:2] == (2, 2)
    start, end = np.array([0.0, 5.0, 0.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.0, 5.0, 0.0])
    assert decode_spans(start, end, 5, 1)[0] == (1, 3, 10.0)
    assert decode_spans(start, end, 5, 1, inside_scores=np.full(5, -1.0))[0] == (1, 3, 7.0)
