"""Learned localizers: tiny configs train on synthetic 'tiny' within a minute and beat the random
localizer's mean IoU of the first candidate on held-out (test) questions."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from baselines.localizers import RandomLocalizer
from baselines.spans import temporal_iou
from baselines.textspan import TextSpanLocalizer, TextSpanOptions
from baselines.visual import VisualLocalizer, VisualOptions
from benchmark.errors import ConfigError, DataError
from benchmark.random_encoder import build_random_encoder
from benchmark.records import Video
from benchmark.systems import TrainingData


def first_candidate_miou(localizer, split) -> float:
    candidates = localizer.localize([a.localization_query for a in split.annotations], split.videos, 5)
    assert all(1 <= len(c) <= 5 for c in candidates)
    return float(np.mean([temporal_iou(np.array([c[0].start]), np.array([c[0].end]), a.start, a.end)[0]
                          for c, a in zip(candidates, split.annotations, strict=True)]))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core machine they lose 10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_training(tiny_benchmark) -> TrainingData:
    return TrainingData(tiny_benchmark.split("train"), tiny_benchmark.split("validation"))


@pytest.fixture(scope="module")
def random_miou(tiny_benchmark, tiny_training) -> float:
    localizer = RandomLocalizer()
    localizer.fit(tiny_training)
    return first_candidate_miou(localizer, tiny_benchmark.split("test"))


@pytest.mark.slow
def test_text_span_localizer_from_a_local_encoder_folder(tmp_path, tiny_benchmark, tiny_training, random_miou):
    texts = [a.text for a in tiny_training.train.annotations] + \
        [p.text for v in tiny_training.train.videos.values() for p in v.pieces]
    folder = build_random_encoder(tmp_path / "tiny-deberta", texts, "tiny", vocab_size=1000,
                                  max_position_embeddings=128)
    localizer = TextSpanLocalizer(TextSpanOptions(encoder=str(folder), max_length=128, epochs=5,
                                                  learning_rate=1e-3, batch_questions=4))
    started = time.process_time()
    localizer.fit(tiny_training)
    assert time.process_time() - started < 60  # CPU seconds: wall time depends on what else runs
    assert localizer.validation_score is not None and 0 <= localizer.best_epoch < 5
    assert first_candidate_miou(localizer, tiny_benchmark.split("test")) > random_miou


def test_text_span_localizer_builds_its_tiny_encoder_offline(tiny_benchmark, tiny_training):
    localizer = TextSpanLocalizer(TextSpanOptions(encoder="tiny", max_length=128, epochs=1, learning_rate=1e-3,
                                                  max_train_questions=8, max_validation_questions=4))
    localizer.fit(tiny_training)
    assert type(localizer.model.encoder).__name__ == "DebertaV2Model"
    test = tiny_benchmark.split("test")
    candidates = localizer.localize([a.localization_query for a in test.annotations[:3]], test.videos, 3)
    for found, annotation in zip(candidates, test.annotations, strict=False):
        video = test.videos[annotation.video_id]
        assert found and all(c.video_id == video.video_id and 0 <= c.start <= c.end <= video.duration for c in found)


def test_visual_localizer_trains_on_features(tiny_benchmark, tiny_training, random_miou):
    localizer = VisualLocalizer(VisualOptions(dim=64, heads=2, epochs=10, max_clips=64))
    started = time.process_time()
    localizer.fit(tiny_training)
    assert time.process_time() - started < 60  # CPU seconds: wall time depends on what else runs
    assert first_candidate_miou(localizer, tiny_benchmark.split("test")) > random_miou


def test_learned_localizer_errors(tmp_path, tiny_training):
    with pytest.raises(ConfigError, match="cannot load"):
        TextSpanLocalizer(TextSpanOptions(encoder=str(tmp_path))).fit(tiny_training)
    with pytest.raises(ConfigError, match="before fit"):
        TextSpanLocalizer().localize([], {}, 1)
    localizer = VisualLocalizer(VisualOptions(dim=16, heads=2, epochs=1, max_clips=16))
    localizer.fit(tiny_training)
    query = tiny_training.train.annotations[0].localization_query
    with pytest.raises(DataError, match="features"):
        localizer.localize([query], {query.video_id: Video(query.video_id, 10.0)}, 1)
    with pytest.raises(ValueError):
        VisualOptions(dim=10, heads=3)
