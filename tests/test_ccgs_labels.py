"""Labels on hand-made subtitles, the IoU matrix, clip labels and the window plan."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from benchmark.records import SubtitlePiece, Video
from ccgs.encoding import SubtitleTokens, plan_windows
from ccgs.labels import clip_labels, nearest_pieces, span_iou_matrix, span_label

STARTS = np.array([0.0, 4.0, 10.0, 15.0, 22.0])
ENDS = np.array([3.5, 9.0, 14.0, 21.0, 30.0])


def test_nearest_pieces_take_the_first_start_and_the_last_end_on_ties():
    assert nearest_pieces(STARTS, ENDS, 9.6, 20.0) == (2, 3)
    # answer start 7.0 is 3 s from both piece 1 (4.0) and piece 2 (10.0): the first wins
    assert nearest_pieces(STARTS, ENDS, 7.0, 17.5)[0] == 1
    # answer end 17.5 is 3.5 s from both piece 2's end (14.0) and piece 3's end (21.0): the last wins
    assert nearest_pieces(STARTS, ENDS, 7.0, 17.5)[1] == 3


def test_iou_matrix_is_upper_triangular_with_exact_values():
    iou = span_iou_matrix(STARTS, ENDS, 10.0, 21.0)
    assert iou.shape == (5, 5)
    assert np.all(np.tril(iou, -1) == 0)
    assert iou[2, 3] == 1.0
    assert np.isclose(iou[1, 3], 11.0 / 17.0)  # [4, 21] vs [10, 21]
    assert np.isclose(iou[2, 2], 4.0 / 11.0)  # [10, 14] vs [10, 21]
    assert iou[0, 0] == 0.0


def test_target_is_the_best_iou_span_not_the_nearest_pieces():
    label = span_label(STARTS, ENDS, 9.6, 20.0)
    assert label.target == (2, 3)
    assert np.isclose(label.best_iou, (20.0 - 10.0) / (21.0 - 9.6))
    # nearest pieces (1 and 1) differ from the best span when an answer straddles a gap
    label = span_label(STARTS, ENDS, 3.0, 9.2)
    assert (label.start_piece, label.end_piece) == (1, 1)
    assert label.target == (1, 1)


def test_target_stays_within_the_longest_scored_span():
    assert span_label(STARTS, ENDS, 0.0, 30.0).target == (0, 4)
    label = span_label(STARTS, ENDS, 0.0, 30.0, max_pieces=2)
    assert label.target[1] - label.target[0] <= 1
    assert np.isclose(label.best_iou, (30.0 - 15.0) / 30.0)  # pieces 3..4, the longest coverage of 2 pieces


def test_clip_labels_mark_overlapping_clips_and_pad():
    labels = clip_labels(num_clips=10, length=16, duration=100.0, answer_start=25.0, answer_end=41.0)
    assert labels.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0] + [0] * 6


@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.integers(41, 200), st.integers(0, 5))
def test_window_plan_covers_every_piece_within_budget(costs, budget, overlap):
    windows = plan_windows(costs, budget, overlap)
    assert windows[0][0] == 0 and windows[-1][1] == len(costs)
    for (a, b), (c, _) in zip(windows, windows[1:], strict=False):
        assert a < c <= b  # progress, and no gap between consecutive windows
        assert b - c <= overlap
    for a, b in windows:
        assert sum(costs[a:b]) <= budget


class _WordTokenizer:
    """Each word is one token (id = its length); enough to pin sequence layout and windows."""

    cls_token_id, sep_token_id, pad_token_id = 1, 2, 0

    def __call__(self, text, add_special_tokens=False):
        if isinstance(text, list):
            return {"input_ids": [[len(w) + 10 for w in t.split()] for t in text]}
        return {"input_ids": [len(w) + 10 for w in text.split()]}


def test_sequence_layout_markers_and_windowing():
    pieces = tuple(SubtitlePiece(float(i), float(i) + 1, "a bb ccc") for i in range(10))
    tokens = SubtitleTokens(_WordTokenizer(), max_len=24, window_overlap=1, max_question_tokens=4)
    video = Video("v", 10.0, pieces)
    windows = tokens.windows(video)
    assert [(w.first_piece, w.num_pieces) for w in windows] == [(0, 4), (3, 4), (6, 4)]  # budget 18: 4 x (3 + marker)
    assert tokens.windowed_videos == 1
    sequence = tokens.sequence(tokens.question("why is it"), windows[0])
    assert sequence.input_ids[:5] == [1, 13, 12, 12, 2]
    assert sequence.marker_positions == [4, 8, 12, 16, 20]
    assert all(sequence.input_ids[p] == 2 for p in sequence.marker_positions)
    assert len(sequence.input_ids) <= 24


def test_video_without_subtitles_is_one_piece_spanning_it():
    tokens = SubtitleTokens(_WordTokenizer(), max_len=24, window_overlap=1, max_question_tokens=4)
    (window,) = tokens.windows(Video("silent", 42.0))
    assert window.num_pieces == 1 and window.starts.tolist() == [0.0] and window.ends.tolist() == [42.0]


def test_best_iou_span_beats_the_nearest_pieces_by_hand():
    # answer [2.2, 12.5]: nearest start piece 1 (4.0 is 1.8 s away, 0.0 is 2.2), nearest end piece 2 (14.0)
    label = span_label(STARTS, ENDS, 2.2, 12.5)
    assert (label.start_piece, label.end_piece) == (1, 2)
    # (1, 2) = [4, 14]: 8.5 / 11.8 = 0.720; (0, 2) = [0, 14]: 10.3 / 14 = 0.736, the best
    assert label.target == (0, 2)
    assert np.isclose(label.best_iou, 10.3 / 14.0)


def test_training_examples_learn_the_best_iou_span_of_the_best_window():
    from benchmark.records import Annotation, SplitData
    from ccgs.training import training_examples

    pieces = tuple(SubtitlePiece(float(s), float(e), "a bb ccc") for s, e in zip(STARTS, ENDS, strict=True))
    later = tuple(SubtitlePiece(40.0 + 5 * i, 44.0 + 5 * i, "a bb ccc") for i in range(4))
    video = Video("v", 60.0, pieces + later)
    answer = Annotation("q1", "why is it", "v", 2.2, 12.5, 60.0)
    split = SplitData("train", (answer,), {"v": video})
    tokens = SubtitleTokens(_WordTokenizer(), max_len=24, window_overlap=1, max_question_tokens=4)
    windows = tokens.windows(video)  # 4 pieces per window: [0, 4), [3, 7), [6, 9)
    assert [(w.first_piece, w.num_pieces) for w in windows] == [(0, 4), (3, 4), (6, 3)]
    (example,) = training_examples(split, tokens)
    assert example.window.first_piece == 0 and example.target == (0, 2)  # not the nearest pieces (1, 2)
    assert example.ious[0, 2] == example.ious.max()
    assert [w.first_piece for w in example.answer_free] == [3, 6]  # windows sharing no time with the answer
    assert training_examples(split, tokens, "skip") == []  # the authors drop a transcript over max_len


def test_training_example_in_a_later_window_keeps_window_relative_targets():
    from benchmark.records import Annotation, SplitData
    from ccgs.training import training_examples

    pieces = tuple(SubtitlePiece(10.0 * i, 10.0 * i + 8.0, "a bb ccc") for i in range(10))
    video = Video("v", 100.0, pieces)
    tokens = SubtitleTokens(_WordTokenizer(), max_len=24, window_overlap=1, max_question_tokens=4)
    # pieces 7 and 8 (70 .. 88) live only in the third window [6, 10): indices 1 and 2 inside it
    split = SplitData("train", (Annotation("q", "why", "v", 70.0, 88.0, 100.0),), {"v": video})
    (example,) = training_examples(split, tokens)
    assert example.window.first_piece == 6 and example.target == (1, 2)


def test_clip_labels_touching_clips_do_not_overlap_and_are_float32():
    # 10 clips of 10 s; the answer [30, 40) is clip 3 exactly: clip 2 ends where it starts, clip 4 starts where
    # it ends, and neither overlaps
    labels = clip_labels(num_clips=10, length=10, duration=100.0, answer_start=30.0, answer_end=40.0)
    assert labels.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] and labels.dtype == np.float32
    assert clip_labels(num_clips=1, length=2, duration=0.5, answer_start=0.1, answer_end=0.2).tolist() == [1, 0]
    assert clip_labels(num_clips=0, length=2, duration=10.0, answer_start=1.0, answer_end=2.0).tolist() == [0, 0]


def _split(video: Video, *answers: tuple[float, float]):
    from benchmark.records import Annotation, SplitData

    return SplitData("train", tuple(Annotation(f"q{k}", "why is it", video.video_id, s, e, video.duration)
                                    for k, (s, e) in enumerate(answers)), {video.video_id: video})


def test_skipping_long_transcripts_keeps_every_single_window_question(caplog):
    import logging

    from benchmark.records import SplitData
    from ccgs.training import training_examples

    tokens = SubtitleTokens(_WordTokenizer(), max_len=24, window_overlap=1, max_question_tokens=4)
    long = Video("long", 60.0, tuple(SubtitlePiece(10.0 * i, 10.0 * i + 8, "a bb ccc") for i in range(5)))
    short = Video("short", 40.0, tuple(SubtitlePiece(10.0 * i, 10.0 * i + 8, "a bb ccc") for i in range(3)))
    assert len(tokens.windows(long)) == 2 and len(tokens.windows(short)) == 1
    a, b = _split(long, (0.0, 18.0)), _split(short, (10.0, 18.0))
    split = SplitData("train", a.annotations + b.annotations, {"long": long, "short": short})
    with caplog.at_level(logging.INFO, logger="ccgs.training"):
        kept = training_examples(split, tokens, "skip")
    assert [e.annotation_index for e in kept] == [1] and kept[0].target == (1, 1)  # the 2-window question skipped
    assert "2 training questions, 1 of them on a windowed transcript (skipped)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ccgs.training"):
        assert [e.annotation_index for e in training_examples(split, tokens)] == [0, 1]
    assert "1 of them on a windowed transcript (trained on their best window)" in caplog.text


def test_training_targets_respect_the_longest_scored_span_and_keep_the_iou_matrix():
    from ccgs.training import training_examples

    tokens = SubtitleTokens(_WordTokenizer(), max_len=60, window_overlap=1, max_question_tokens=4)
    video = Video("v", 30.0, tuple(SubtitlePiece(float(s), float(e), "a") for s, e in zip(STARTS, ENDS, strict=True)))
    (whole,) = training_examples(_split(video, (0.0, 30.0)), tokens)
    assert whole.target == (0, 4)
    (capped,) = training_examples(_split(video, (0.0, 30.0)), tokens, max_span_pieces=2)
    assert capped.target == (3, 4)  # the 2-piece span covering most of the answer
    assert capped.ious.dtype == np.float32
    np.testing.assert_array_equal(capped.ious, span_iou_matrix(STARTS, ENDS, 0.0, 30.0).astype(np.float32))
