"""Writing and reading predictions files, and the importers from other evaluators' formats."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.convert import convert
from benchmark.errors import InputError
from benchmark.predictions import (
    PredictionsError,
    arrays_from_predictions,
    check_predictions,
    read_predictions,
    write_predictions,
)
from benchmark.records import Candidate, Prediction
from benchmark.scoring import score
from tests.scoring_helpers import small_split, write_lines

candidates = st.builds(
    lambda video, start, length, score: Candidate(video, start, start + length, score),
    st.text(min_size=1, max_size=8), st.floats(0, 1e4, allow_nan=False), st.floats(0, 1e3, allow_nan=False),
    st.none() | st.floats(-1e6, 1e6, allow_nan=False))
predictions = st.lists(st.builds(Prediction, st.text(min_size=1, max_size=8),
                                 st.lists(candidates, max_size=5).map(tuple)),
                       max_size=5, unique_by=lambda p: p.qid)


@settings(max_examples=50, deadline=None)
@given(predictions, st.booleans())
def test_write_then_read_gives_the_same_predictions(tmp_path_factory, values, compressed):
    path = tmp_path_factory.mktemp("io") / ("p.jsonl.gz" if compressed else "p.jsonl")
    write_predictions(path, values, {"system": "s", "task": "corpus"})
    read = read_predictions(path)
    assert read.header == {"format": "vcval-predictions", "version": 1, "system": "s", "task": "corpus"}
    assert read.predictions == values


def test_write_rejects_unknown_header_fields(tmp_path):
    with pytest.raises(InputError, match="unknown header fields"):
        write_predictions(tmp_path / "p.jsonl", [], {"sytem": "typo"})


def test_read_reports_structural_problems(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", [{"qid": "a", "candidates": [{"video_id": "v", "start": 5, "end": 1}]},
                                              {"qid": "a", "candidates": []}])
    with pytest.raises(PredictionsError) as caught:
        read_predictions(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(1, "candidates[0]"), (2, "qid")]


def test_in_memory_and_file_predictions_score_the_same(tmp_path):
    split = small_split()
    values = [Prediction("q1", (Candidate("x", 0, 5), Candidate("g1", 12, 30))), Prediction("q2", ()),
              Prediction("q3", (Candidate("g1", 60, 65),))]
    path = write_predictions(tmp_path / "p.jsonl", values)
    from_file = score(path, split, bootstrap=0)
    from_memory = score(values, split, bootstrap=0)
    assert from_file.metrics == from_memory.metrics
    assert from_memory.metrics["video_MRR"] == pytest.approx((50 + 0 + 100) / 3)
    assert arrays_from_predictions(values[:1], split, allow_missing=True).missing == ("q2", "q3")
    with pytest.raises(InputError, match="have no prediction"):
        score(values[:1], split)
    with pytest.raises(InputError, match="duplicate"):
        score(values + values[:1], split)


def test_convert_tvr(tmp_path):
    submission = {"video2idx": {"g1": 0, "g2": 1, "x": 2},
                  "VCMR": [{"desc_id": "q1", "predictions": [[2, 0, 5, 0.9], [0, 10, 20, 0.5]]},
                           {"desc_id": "q2", "predictions": [[1, 0, 50, 0.3]]},
                           {"desc_id": "q3", "predictions": []}],
                  "SVMR": [{"desc_id": "q1", "predictions": [[0, 10, 30, 1.0]]}]}
    source = tmp_path / "tvr.json"
    source.write_text(json.dumps(submission))
    result = convert("tvr", source, tmp_path / "out.jsonl")
    assert (result.task, result.n_questions, result.n_candidates) == ("corpus", 3, 3)
    read = read_predictions(result.path)
    assert read.predictions[0].candidates == (Candidate("x", 0, 5, 0.9), Candidate("g1", 10, 20, 0.5))
    single = convert("tvr", source, tmp_path / "svmr.jsonl", tvr_task="SVMR")
    assert single.task == "localization" and read_predictions(single.path).header["task"] == "localization"


def test_convert_medvidqa2024_keeps_list_order(tmp_path):
    run = [{"question_id": "q2", "relevant_videos": [
        {"video_id": "x", "relevant_score": 0.2, "answer_start_second": 1, "answer_end_second": 4},
        {"video_id": "g2", "relevant_score": 0.9, "answer_start_second": "0", "answer_end_second": 50.0}]}]
    source = tmp_path / "run.json"
    source.write_text(json.dumps(run))
    result = convert("medvidqa2024", source, tmp_path / "out.jsonl.gz")
    (prediction,) = read_predictions(result.path).predictions
    assert [c.video_id for c in prediction.candidates] == ["x", "g2"]
    assert prediction.candidates[1] == Candidate("g2", 0.0, 50.0, 0.9)


def test_convert_cmivqa_both_tracks(tmp_path):
    split = small_split()
    corpus_run = tmp_path / "task23.json"
    corpus_run.write_text(json.dumps([{"id": "q1", "output": [["g1", 10, 30], ["x", 0, 5]]}, {"id": "q2", "output": [["g2"]]}]))
    result = convert("cmivqa", corpus_run, tmp_path / "c.jsonl")
    read = read_predictions(result.path)
    assert read.predictions[1].candidates == (Candidate("g2", 0.0, 0.0),)
    single_run = tmp_path / "task1.json"
    single_run.write_text(json.dumps([{"id": "q1", "start_second": 11, "end_second": 29}]))
    with pytest.raises(InputError, match="give the split"):
        convert("cmivqa", single_run, tmp_path / "s.jsonl")
    single = convert("cmivqa", single_run, tmp_path / "s.jsonl", split=split)
    assert single.task == "localization"
    loaded = check_predictions(single.path, split, allow_missing=True)
    assert loaded.header["task"] == "localization" and loaded.arrays.missing == ("q2", "q3")


def test_convert_errors_name_record_and_field(tmp_path):
    source = tmp_path / "tvr.json"
    source.write_text(json.dumps({"video2idx": {"g1": 0}, "VCMR": [{"desc_id": 4, "predictions": [[9, 0, 1]]}]}))
    with pytest.raises(InputError, match="video index 9") as caught:
        convert("tvr", source, tmp_path / "o.jsonl")
    assert caught.value.record == "4" and caught.value.field == "VCMR[0].predictions[0]"
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        convert("cmivqa", bad, tmp_path / "o.jsonl")


def test_read_without_a_header_gives_none(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", [{"qid": "a", "candidates": []}])
    assert read_predictions(path).header is None


def test_read_names_every_problem_and_reads_on_after_each(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", [
        "{not json",
        {"qid": "a", "candidates": [{"video_id": "v", "start": 1, "end": 2}]},
        {"qid": "a", "candidates": []},
        {"qid": "b", "candidates": "v"},
        {"qid": "c", "candidates": [{"video_id": "v", "start": 1}]},
        {"qid": "d", "candidates": [{"video_id": "v", "start": -1, "end": 5}, {"video_id": "v", "start": 2, "end": 1}]},
        '{"qid": "e", "candidates": [{"video_id": "v", "start": NaN, "end": 5}]}',
        {"qid": "f", "candidates": [{"video_id": "v", "start": 0, "end": 1}]},
    ])
    with pytest.raises(PredictionsError) as caught:
        read_predictions(path)
    error = caught.value
    assert error.path == str(path) and error.omitted == 0
    found = [(p.line, p.qid, p.field) for p in error.problems]
    assert found == [(1, None, None), (3, "a", "qid"), (4, "b", "candidates"), (5, "c", "candidates[0].end"),
                     (6, "d", "candidates[0]"), (6, "d", "candidates[1]"), (7, "e", "candidates[0]")]
    messages = [p.message for p in error.problems]
    assert messages[1] == "duplicate: already given on line 2"
    assert messages[2] == "expected a list, got str"
    assert messages[4] == "expected finite seconds with 0 <= start <= end, got [-1, 5]"
    assert messages[5] == "expected finite seconds with 0 <= start <= end, got [2, 1]"
    assert messages[6] == "expected finite seconds with 0 <= start <= end, got [nan, 5]"


def test_read_counts_the_problems_past_the_first_thousand(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", [{"qid": f"q{i}"} for i in range(1005)])
    with pytest.raises(PredictionsError) as caught:
        read_predictions(path)
    assert len(caught.value.problems) == 1000 and caught.value.omitted == 5
    assert caught.value.problems[-1].line == 1000


def test_in_memory_predictions_code_the_gold_videos_first():
    split = small_split()
    values = [Prediction("q2", (Candidate("x", 0, 5), Candidate("g2", 1, 2))), Prediction("q1", ()),
              Prediction("q3", (Candidate("g1", 60, 65),))]
    arrays = arrays_from_predictions(values, split)
    assert arrays.qids == ("q1", "q2", "q3") and arrays.missing == ()
    assert arrays.video_ids == ("g1", "g2", "x")
    assert arrays.codes.dtype == np.int32 and arrays.codes.tolist() == [[-1, -1], [2, 1], [0, -1]]
    assert arrays.starts.tolist() == [[0, 0], [0, 1], [60, 0]] and arrays.ends.tolist() == [[0, 0], [5, 2], [65, 0]]
    empty = arrays_from_predictions([], split, allow_missing=True)
    assert empty.codes.shape == (3, 1) and empty.missing == ("q1", "q2", "q3")


@pytest.mark.parametrize("values, message, record, field", [
    ([Prediction("zz", ())], "unknown question: not in split 'test'", "zz", "qid"),
    ([Prediction("q1", ()), Prediction("q1", ())], "duplicate prediction for this question", "q1", "qid"),
    ([Prediction("q1", (Candidate("g1", 0, 1),) * 101)], "101 candidates, at most 100 are allowed", "q1", "candidates"),
    ([Prediction("q1", ())], "2 question(s) of split 'test' have no prediction (allow_missing=True scores them 0)",
     "q2", "qid"),
])
def test_in_memory_predictions_refusals_name_question_and_field(values, message, record, field):
    with pytest.raises(InputError) as caught:
        arrays_from_predictions(values, small_split())
    assert (caught.value.message, caught.value.record, caught.value.field) == (message, record, field)
