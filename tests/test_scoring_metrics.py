"""Metric kernels against hand-computed golden values, properties of IoU, and a naive reference loop."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.metrics import metric_keys, per_question_metrics, temporal_iou
from benchmark.metrics.retrieval import gold_video_rank
from benchmark.records import Annotation, Candidate, Prediction, SplitData, Video
from benchmark.scoring import score
from tests.scoring_helpers import GOLDEN

CASES = json.loads((GOLDEN / "metric_cases.json").read_text())["cases"]


def _arrays(case):
    names = {"g": 0}
    width = max(len(case["candidates"]), 1)
    codes = np.full((1, width), -1)
    starts = np.zeros((1, width))
    ends = np.zeros((1, width))
    for position, (video_id, start, end) in enumerate(case["candidates"]):
        codes[0, position] = names.setdefault(video_id, len(names))
        starts[0, position], ends[0, position] = start, end
    return codes, starts, ends, np.array([0]), np.array([case["gold"][0]], float), np.array([case["gold"][1]], float)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_per_question_values(case):
    values, ranks = per_question_metrics(*_arrays(case))
    assert ranks[0] == case["rank"]
    for key, expected in case["expected"].items():
        assert values[key][0] == pytest.approx(expected, abs=1e-9), key
    rows_values, rows_ranks = per_question_metrics(*_arrays(case), video_rank="rows")
    assert rows_ranks[0] == case["rows_rank"]
    for key, expected in {**case["expected"], **case.get("expected_rows", {})}.items():
        if key.startswith("video_") and key not in case.get("expected_rows", {}) and case["rank"] != case["rows_rank"]:
            continue
        assert rows_values[key][0] == pytest.approx(expected, abs=1e-9), key


def test_golden_cases_scored_together_give_the_mean():
    """The same cases as one split through score(): each metric is the mean of the hand values."""
    annotations, predictions, videos = [], [], {}
    for index, case in enumerate(CASES):
        gold_video = f"g{index}"
        for video_id in {c[0] for c in case["candidates"]} | {"g"}:
            name = gold_video if video_id == "g" else f"{video_id}{index}"
            videos[name] = Video(name, 1000.0)
        annotations.append(Annotation(f"q{index}", case["name"], gold_video, *case["gold"], 1000.0))
        predictions.append(Prediction(f"q{index}", tuple(
            Candidate(gold_video if v == "g" else f"{v}{index}", s, e) for v, s, e in case["candidates"])))
    report = score(predictions, SplitData("test", tuple(annotations), videos), bootstrap=0)
    for key in ("R1_mIoU", "loc_mIoU", "video_R1"):
        known = [case["expected"][key] for case in CASES if key in case["expected"]]
        by_case = {row["qid"]: row[key] for row in report.per_query}
        assert [by_case[f"q{i}"] for i, case in enumerate(CASES) if key in case["expected"]] == pytest.approx(known)
        assert report.metrics[key] == pytest.approx(np.mean([row[key] for row in report.per_query]))


def test_metric_keys_are_the_issue_list():
    keys = metric_keys("corpus")
    assert keys[:6] == ("video_R1", "video_R5", "video_R10", "video_R50", "video_R100", "video_MRR")
    assert "R5_IoU0.5" in keys and "R100_IoU0.7" in keys and "R1_mIoU" in keys and keys[-1] == "loc_mIoU"
    assert len(keys) == 30
    assert not any(k.startswith("video_") for k in metric_keys("localization"))


spans = st.tuples(st.floats(0, 1000, allow_nan=False), st.floats(0, 500, allow_nan=False)).map(
    lambda t: (t[0], t[0] + t[1]))


@settings(max_examples=200, deadline=None)
@given(spans, spans)
def test_iou_is_symmetric_bounded_and_one_on_identity(a, b):
    forward = float(temporal_iou(a[0], a[1], b[0], b[1]))
    backward = float(temporal_iou(b[0], b[1], a[0], a[1]))
    assert forward == backward
    assert 0.0 <= forward <= 1.0
    assert float(temporal_iou(a[0], a[1], a[0], a[1])) == 1.0


def test_rank_modes_with_repeats_and_padding():
    codes = np.array([[5, 5, 2, 5, 7, -1], [-1, -1, -1, -1, -1, -1], [7, 1, 1, 1, 1, 1]])
    assert gold_video_rank(codes, np.array([7, 7, 7])).tolist() == [3, 0, 1]
    assert gold_video_rank(codes, np.array([2, 2, 1])).tolist() == [2, 0, 2]
    assert gold_video_rank(codes, np.array([7, 7, 1]), "rows").tolist() == [5, 0, 2]


def naive_question(candidates, gold, video_rank="distinct"):
    """A straightforward per-question loop, written independently of the kernels."""
    gold_video, gold_start, gold_end = gold
    ranking, rank = [], 0
    for position, (video_id, _, _) in enumerate(candidates):
        if video_rank == "rows":
            ranking.append(video_id)
        elif video_id not in ranking:
            ranking.append(video_id)
        if video_id == gold_video and not rank:
            rank = len(ranking) if video_rank == "distinct" else position + 1

    def iou(start, end):
        if start == end == gold_start == gold_end:
            return 1.0
        inter = min(end, gold_end) - max(start, gold_start)
        return inter / (max(end, gold_end) - min(start, gold_start)) if inter > 0 else 0.0

    ious = [iou(s, e) if v == gold_video else 0.0 for v, s, e in candidates]
    out = {}
    for k in (1, 5, 10, 50, 100):
        out[f"video_R{k}"] = 100.0 * (0 < rank <= k)
        best = max(ious[:k], default=0.0)
        for m in (0.3, 0.5, 0.7):
            out[f"R{k}_IoU{m}"] = 100.0 * (best >= m - 1e-9)
        out[f"R{k}_mIoU"] = 100.0 * best
    out["video_MRR"] = 100.0 / rank if rank else 0.0
    first = next((i for i, (v, _, _) in enumerate(candidates) if v == gold_video), None)
    located = ious[first] if first is not None else 0.0
    for m in (0.3, 0.5, 0.7):
        out[f"loc_R1_IoU{m}"] = 100.0 * (located >= m - 1e-9)
    out["loc_mIoU"] = 100.0 * located
    return out


@pytest.mark.parametrize("video_rank", ["distinct", "rows"])
def test_kernels_equal_the_naive_loop_on_random_lists(video_rank):
    rng = np.random.default_rng(3)
    n, width = 300, 30
    codes = np.full((n, width), -1)
    starts, ends = np.zeros((n, width)), np.zeros((n, width))
    lists = []
    for row in range(n):
        count = int(rng.integers(0, width + 1))
        codes[row, :count] = rng.integers(0, 8, count)  # few videos: many repeats
        starts[row, :count] = np.round(rng.uniform(0, 50, count), 1)
        ends[row, :count] = starts[row, :count] + np.round(rng.uniform(0, 30, count), 1)
        lists.append([(int(codes[row, i]), starts[row, i], ends[row, i]) for i in range(count)])
    gold = rng.integers(0, 8, n)
    gold_starts = np.round(rng.uniform(0, 50, n), 1)
    gold_ends = gold_starts + np.round(rng.uniform(0, 30, n), 1)
    values, _ = per_question_metrics(codes, starts, ends, gold, gold_starts, gold_ends, video_rank=video_rank)
    for row in range(n):
        expected = naive_question(lists[row], (gold[row], gold_starts[row], gold_ends[row]), video_rank)
        for key, value in expected.items():
            assert math.isclose(values[key][row], value, abs_tol=1e-9), (row, key)


# ------------------------------------------------------------------ kernel edges (docs/mutation.md)


def test_an_iou_exactly_at_the_tolerance_below_a_threshold_reaches_it():
    from benchmark.metrics import IOU_TOLERANCE, reaches

    assert reaches(np.array([0.5 - IOU_TOLERANCE, 0.5 - 2 * IOU_TOLERANCE]), 0.5).tolist() == [True, False]


def test_localization_takes_the_first_gold_candidate_and_zero_without_one_whatever_lies_outside():
    from benchmark.metrics.localization import first_in_gold_iou

    gold_iou = np.array([[0.9, 0.2], [0.4, 0.6], [0.7, 0.8]])  # values outside the gold video are ignored
    in_gold = np.array([[False, False], [False, True], [True, True]])
    assert first_in_gold_iou(gold_iou, in_gold).tolist() == [0.0, 0.6, 0.7]


def test_video_ranks_are_integers_and_an_unknown_mode_is_named():
    ranks = gold_video_rank(np.array([[3, 1, -1]]), np.array([1]))
    assert ranks.dtype == np.int64 and ranks.tolist() == [2]
    with pytest.raises(ValueError, match=r"video rank mode must be one of \('distinct', 'rows'\), got 'best'"):
        gold_video_rank(np.array([[3]]), np.array([3]), "best")


def test_a_split_where_no_question_has_a_candidate_scores_zero_everywhere():
    """A zero-width candidate matrix (only a direct call makes one: readers pad to one column)."""
    empty = np.zeros((2, 0))
    values, ranks = per_question_metrics(np.zeros((2, 0), dtype=np.int32), empty, empty, np.array([0, 1]),
                                         np.array([0.0, 5.0]), np.array([1.0, 9.0]))
    assert ranks.tolist() == [0, 0] and set(values) == set(metric_keys("corpus"))
    assert all(value.tolist() == [0.0, 0.0] for value in values.values())


def test_metric_keys_default_to_the_corpus_task_and_name_an_unknown_one():
    from benchmark.metrics.retrieval import reciprocal_rank

    assert metric_keys() == metric_keys("corpus")
    with pytest.raises(ValueError, match=r"task must be one of \('corpus', 'localization'\), got 'video'"):
        metric_keys("video")
    assert reciprocal_rank(np.array([0, 4, 0, 1])).tolist() == [0.0, 0.25, 0.0, 1.0]
