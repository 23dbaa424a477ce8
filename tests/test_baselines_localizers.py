"""Span-only localizers and the span helpers they share."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.localizers import (
    LexicalWindowLocalizer,
    PriorLocalizer,
    RandomLocalizer,
    SlidingWindowOptions,
    WholeVideoLocalizer,
)
from baselines.passages import sliding_windows
from baselines.spans import decode_spans, non_maximum_suppression
from baselines.training import gold_units
from benchmark.errors import ConfigError, DataError
from benchmark.metrics import temporal_iou
from benchmark.records import Annotation, LocalizationQuery, SplitData, SubtitlePiece, Video
from benchmark.systems import TrainingData

FILLER = "so now we just go on with this part"


def video(video_id: str, keyword_pieces: dict[int, str], pieces: int = 30, duration: float = 120.0) -> Video:
    step = duration / pieces
    return Video(video_id, duration, tuple(
        SubtitlePiece(i * step, (i + 1) * step, keyword_pieces.get(i, FILLER)) for i in range(pieces)))


def training(annotations: list[Annotation], videos: dict[str, Video]) -> TrainingData:
    split = SplitData("train", tuple(annotations), videos)
    return TrainingData(split, SplitData("validation", tuple(annotations[:2]), videos))


def planted_data() -> tuple[TrainingData, dict[str, Video]]:
    """Videos whose answer is 6 pieces (24 s) saying the question's rare words."""
    videos, annotations = {}, []
    for i in range(8):
        first = 3 + 2 * i
        words = f"bandage{i} ankle{i}"
        videos[f"v{i}"] = video(f"v{i}", {p: f"{words} wrap {words}" for p in range(first, first + 6)})
        annotations.append(Annotation(f"q{i}", f"how to use {words}", f"v{i}", first * 4.0, (first + 6) * 4.0, 120.0))
    return training(annotations, videos), videos


def test_temporal_iou_and_nms():
    starts, ends = np.array([0.0, 5.0, 20.0]), np.array([10.0, 15.0, 30.0])
    np.testing.assert_allclose(temporal_iou(starts, ends, 0.0, 10.0), [1.0, 5 / 15, 0.0])
    assert non_maximum_suppression(starts, ends, np.array([3.0, 2.0, 1.0]), 3, iou_threshold=0.3) == [0, 2]
    assert non_maximum_suppression(starts, ends, np.array([3.0, 2.0, 1.0]), 3, iou_threshold=0.5) == [0, 1, 2]


def test_the_localizers_use_the_scorers_zero_length_rule():
    # one IoU for scorer and localizers: two identical zero-length spans have IoU 1, so NMS keeps one
    points = np.array([4.0, 4.0, 7.0])
    assert temporal_iou(points, points, 4.0, 4.0).tolist() == [1.0, 1.0, 0.0]
    assert non_maximum_suppression(points, points, np.array([3.0, 2.0, 1.0]), 3) == [0, 2]


def test_decode_spans_respects_order_and_length():
    start = np.array([0.0, 5.0, 0.0, 0.0, 0.0])
    end = np.array([0.0, 0.0, 0.0, 4.0, 9.0])
    spans = decode_spans(start, end, max_length=3, top_n=1)
    assert spans == [(1, 3, 9.0)]
    assert decode_spans(start, end, max_length=5, top_n=1) == [(1, 4, 14.0)]
    for first, last, _ in decode_spans(start, end, max_length=2, top_n=5):
        assert first <= last < first + 2


def test_gold_units_cover_the_answer():
    starts, ends = np.arange(10.0), np.arange(10.0) + 1.0
    assert gold_units(starts, ends, 2.5, 5.5) == (2, 5)
    assert gold_units(starts, ends, 3.0, 3.0) == (3, 3)
    assert gold_units(starts, ends, -5.0, 100.0) == (0, 9)


def test_sliding_windows_cover_every_piece_and_empty_videos():
    corpus = {"a": video("a", {}, pieces=10), "b": Video("b", 50.0, ())}
    passages = sliding_windows(corpus, size=4, stride=3)
    a = passages.of_video(0)
    assert passages.starts[a].tolist() == [0.0, 36.0, 72.0]  # pieces 0, 3, 6 of 12 s each
    assert passages.ends[a][-1] == 120.0
    b = passages.of_video(1)
    assert (passages.starts[b].tolist(), passages.ends[b].tolist(), passages.texts[b][0]) == ([0.0], [50.0], "")


def test_whole_video():
    data, videos = planted_data()
    spans = WholeVideoLocalizer().localize([LocalizationQuery("q", "x", "v1")], videos, 5)
    assert [(c.start, c.end) for c in spans[0]] == [(0.0, 120.0)]


def test_random_localizer_is_seeded_per_question_and_uses_train_lengths():
    data, videos = planted_data()
    localizer = RandomLocalizer()
    localizer.fit(data)
    queries = [LocalizationQuery(f"q{i}", "x", f"v{i}") for i in range(8)]
    together = localizer.localize(queries, videos, 3)
    alone = localizer.localize(queries[5:6], videos, 3)
    assert together[5] == alone[0]
    for spans in together:
        for c in spans:
            assert c.end - c.start == pytest.approx(24.0)
            assert 0.0 <= c.start and c.end <= 120.0
    assert len({c.start for spans in together for c in spans}) > 10


def test_prior_localizer_predicts_the_train_position():
    videos = {"v": video("v", {}, duration=100.0), "w": video("w", {}, duration=200.0)}
    annotations = [Annotation(f"q{i}", "x", "v", 20.0, 40.0, 100.0) for i in range(5)]
    localizer = PriorLocalizer()
    localizer.fit(training(annotations, videos))
    best = localizer.localize([LocalizationQuery("t", "y", "w")], videos, 3)[0]
    assert (best[0].start, best[0].end) == pytest.approx((40.0, 80.0))
    assert len(best) == 3 and best[0].score >= best[1].score >= best[2].score


def test_lexical_window_finds_the_planted_answer_and_fits_its_length():
    data, videos = planted_data()
    localizer = LexicalWindowLocalizer(SlidingWindowOptions(sizes=(1, 6, 20)))
    localizer.fit(data)
    assert localizer.size == 6
    assert localizer.fit_scores[6] == pytest.approx(1.0)
    spans = localizer.localize([LocalizationQuery("t", "wrap bandage3 ankle3", "v3")], videos, 2)[0]
    assert (spans[0].start, spans[0].end) == (36.0, 60.0)
    assert len(spans) == 2 and spans[1].score <= spans[0].score


def test_localizers_need_fit_and_known_videos():
    data, videos = planted_data()
    with pytest.raises(ConfigError):
        RandomLocalizer().localize([LocalizationQuery("q", "x", "v1")], videos, 1)
    localizer = LexicalWindowLocalizer(SlidingWindowOptions(sizes=(4,)))
    localizer.fit(data)
    with pytest.raises(DataError, match="nowhere"):
        localizer.localize([LocalizationQuery("q", "x", "nowhere")], videos, 1)
