"""Every validation case of a predictions file names its line and field."""

from __future__ import annotations

import gzip
import json

import pytest

from benchmark.errors import InputError
from benchmark.predictions import (
    MAX_LINE_BYTES,
    PredictionsError,
    Problem,
    check_predictions,
    load_predictions,
    validate_predictions,
)
from benchmark.records import Annotation, SplitData, Video
from tests.scoring_helpers import good_lines, small_split, write_lines

HEADER = {"format": "vcval-predictions", "version": 1, "task": "corpus"}


def problems_of(tmp_path, lines, header=HEADER, split_name="test", **options):
    path = write_lines(tmp_path / "p.jsonl", lines, header)
    split = small_split(split_name)
    return validate_predictions(path, split, split.videos, **options)


def only(problems):
    assert len(problems) == 1, [p.render() for p in problems]
    return problems[0]


def with_line(index, change):
    lines = good_lines()
    lines[index] = change(lines[index])
    return lines


def with_candidate(field, value, index=0, position=0):
    def change(line):
        line["candidates"][position][field] = value
        return line
    return with_line(index, change)


def test_a_good_file_is_valid(tmp_path):
    assert problems_of(tmp_path, good_lines()) == []
    assert problems_of(tmp_path, good_lines(), header=None) == []


@pytest.mark.parametrize("raw, message", [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object")])
def test_not_json_or_not_an_object(tmp_path, raw, message):
    lines = good_lines()
    lines.insert(1, raw)
    problem = only(problems_of(tmp_path, lines))
    assert problem.line == 3 and message in problem.message


@pytest.mark.parametrize("header, field, message", [
    ({"format": "tvr", "version": 1}, "format", "unknown format 'tvr', expected 'vcval-predictions'"),
    ({"format": "vcval-predictions", "version": 2}, "version", "unsupported version 2, this scorer reads version 1"),
    ({"format": "vcval-predictions", "version": True}, "version", "unsupported version True, this scorer reads version 1"),
    ({"format": "vcval-predictions", "version": 1, "task": "x"}, "task",
     "unknown task 'x', expected one of ['corpus', 'localization']"),
    ({"format": "vcval-predictions", "version": 1, "split": "val"}, "split",
     "the header names split 'val', but the file is checked against 'test'"),
    ({"format": "vcval-predictions", "version": 1, "dataset": 1}, "dataset", "expected a string, got 1"),
    ({"format": "vcval-predictions", "version": 1, "split": ["test"]}, "split", "expected a string, got ['test']"),
    ({"format": "vcval-predictions", "version": 1, "system": None}, "system", "expected a string, got None")])
def test_bad_header(tmp_path, header, field, message):
    problem = only(problems_of(tmp_path, good_lines(), header=header))
    assert (problem.line, problem.qid, problem.field, problem.message) == (1, None, field, message)


@pytest.mark.parametrize("qid, message", [(None, "missing"), (7, "expected a string")])
def test_missing_or_non_string_qid(tmp_path, qid, message):
    lines = good_lines() + [{"qid": qid, "candidates": []} if qid is not None else {"candidates": []}]
    problem = only(problems_of(tmp_path, lines))
    assert (problem.line, problem.field) == (5, "qid") and message in problem.message


def test_unknown_and_duplicate_qid(tmp_path):
    lines = good_lines() + [{"qid": "nope", "candidates": []}, good_lines()[0]]
    unknown, duplicate = problems_of(tmp_path, lines)
    assert (unknown.line, unknown.qid, unknown.field) == (5, "nope", "qid") and "unknown question" in unknown.message
    assert (duplicate.line, duplicate.qid) == (6, "q1") and "already given on line 2" in duplicate.message


def test_missing_questions_are_an_error_unless_allowed(tmp_path):
    lines = good_lines()[:2]
    problem = only(problems_of(tmp_path, lines))
    assert problem.field == "qid" and "'q3'" in problem.message and "--allow-missing" in problem.message
    assert problems_of(tmp_path, lines, allow_missing=True) == []


@pytest.mark.parametrize("candidates, message", [("abc", "expected a list"), (None, "missing")])
def test_candidates_not_a_list(tmp_path, candidates, message):
    lines = with_line(0, lambda line: {"qid": "q1"} if candidates is None else {**line, "candidates": candidates})
    problem = only(problems_of(tmp_path, lines))
    assert (problem.line, problem.field) == (2, "candidates") and message in problem.message


def test_more_than_100_candidates(tmp_path):
    many = [{"video_id": "g1", "start": 0, "end": 1}] * 101
    problem = only(problems_of(tmp_path, with_line(0, lambda line: {**line, "candidates": many})))
    assert (problem.line, problem.field) == (2, "candidates") and "at most 100" in problem.message


@pytest.mark.parametrize("field", ["video_id", "start", "end"])
def test_candidate_missing_a_field(tmp_path, field):
    def drop(line):
        del line["candidates"][1][field]
        return line
    problem = only(problems_of(tmp_path, with_line(1, drop)))
    assert (problem.line, problem.qid, problem.field) == (3, "q2", f"candidates[1].{field}")
    assert problem.message == "missing"


def test_candidate_not_an_object(tmp_path):
    problem = only(problems_of(tmp_path, with_line(0, lambda line: {**line, "candidates": [3]})))
    assert (problem.line, problem.field) == (2, "candidates[0]")


def test_unknown_video(tmp_path):
    problem = only(problems_of(tmp_path, with_candidate("video_id", "elsewhere", index=1, position=1)))
    assert (problem.line, problem.field) == (3, "candidates[1].video_id") and "'elsewhere'" in problem.message


@pytest.mark.parametrize("field, value, shown", [("start", "NaN", "nan"), ("end", "Infinity", "inf"),
                                                 ("start", "-Infinity", "-inf"), ("end", "1e400", "inf"),
                                                 ("end", "1" + "0" * 400, "inf")])
def test_non_finite_numbers(tmp_path, field, value, shown):
    path = write_lines(tmp_path / "p.jsonl", good_lines(), HEADER)
    original = '"start": 10.0' if field == "start" else '"end": 20.0'
    path.write_text(path.read_text().replace(original, f'"{field}": {value}'))
    problem = only(validate_predictions(path, small_split()))
    assert (problem.line, problem.field) == (2, f"candidates[0].{field}")
    assert problem.message == f"{shown}: expected a finite number of seconds"


@pytest.mark.parametrize("field, value", [("start", "10"), ("end", None), ("start", True), ("video_id", 3)])
def test_wrong_types(tmp_path, field, value):
    problem = only(problems_of(tmp_path, with_candidate(field, value)))
    assert (problem.line, problem.field) == (2, f"candidates[0].{field}")
    assert "expected" in problem.message


@pytest.mark.parametrize("start, end, field, message", [
    (-1.0, 5.0, "start", "-1.0: negative: expected a time >= 0 s"),
    (20.0, 10.0, "end", "10.0 is before start: expected end >= start (20.0)"),
    (10.0, 101.5, "end", "101.5 s is beyond the video's duration (+1 s tolerance) of 100.0 s")])
def test_bad_spans(tmp_path, start, end, field, message):
    lines = with_candidate("end", end)
    lines[0]["candidates"][0]["start"] = start
    problem = only(problems_of(tmp_path, lines))
    assert (problem.line, problem.qid, problem.field, problem.message) == (2, "q1", f"candidates[0].{field}", message)


def test_end_within_the_duration_tolerance_is_valid(tmp_path):
    assert problems_of(tmp_path, with_candidate("end", 100.9)) == []
    assert problems_of(tmp_path, with_candidate("end", 101.0)) == []  # exactly the duration + 1 s


def test_a_split_of_one_video(tmp_path):
    split = SplitData("test", (Annotation("q1", "how", "g1", 10.0, 30.0, 100.0),), {"g1": Video("g1", 100.0)})
    path = write_lines(tmp_path / "p.jsonl", [{"qid": "q1", "candidates": [{"video_id": "g1", "start": 0, "end": 1}]}])
    assert validate_predictions(path, split) == []


def test_gold_videos_outside_the_given_corpus_are_accepted_without_a_duration(tmp_path):
    split = small_split()
    corpus = {"g1": split.videos["g1"], "x": split.videos["x"]}
    path = write_lines(tmp_path / "p.jsonl", [{"qid": "q2", "candidates": [{"video_id": "g2", "start": 0, "end": 500}]}])
    loaded = load_predictions(path, split, corpus, allow_missing=True)
    assert loaded.problems == [] and loaded.arrays.video_ids == ("g1", "x", "g2")
    assert loaded.arrays.codes.tolist() == [[-1], [2], [-1]]


def test_load_reports_missing_questions_by_default_after_the_lines(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", ["{", good_lines()[0]])
    loaded = load_predictions(path, small_split())
    assert [(p.line, p.field) for p in loaded.problems] == [(1, None), (None, "qid")]
    assert loaded.problems[1].message == ("2 question(s) of split 'test' have no line: 'q2', 'q3' "
                                          "(pass --allow-missing to score them 0)")


def test_localization_candidate_outside_the_gold_video(tmp_path):
    header = {**HEADER, "task": "localization"}
    problems = problems_of(tmp_path, good_lines(), header=header)
    assert [(p.line, p.field) for p in problems] == [(2, "candidates[1].video_id"), (3, "candidates[0].video_id")]
    assert problems[0].message == "outside the question's gold video: a localization-task candidate must lie in it"
    assert problems_of(tmp_path, good_lines(), header=HEADER, task="localization") != []


def test_explicit_task_contradicting_the_header(tmp_path):
    problems = problems_of(tmp_path, good_lines(), header={**HEADER, "task": "corpus"}, task="localization")
    assert (1, "task") in [(p.line, p.field) for p in problems]


def test_problems_are_capped_then_counted(tmp_path):
    lines = good_lines() + [{"qid": f"z{i}", "candidates": []} for i in range(30)]
    problems = problems_of(tmp_path, lines, max_problems=10)
    assert len(problems) == 11 and problems[-1].message == "... and 20 more problems not listed"
    assert problems[-1].render() == "... and 20 more problems not listed"


def test_size_limit_and_gzip_expanding_past_it(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", good_lines(), HEADER)
    with pytest.raises(InputError, match="larger than the size limit"):
        validate_predictions(path, small_split(), max_bytes=100)
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wt") as handle:
        handle.write(json.dumps(HEADER) + "\n" + (" " * 10_000 + "\n") * 200)
    assert bomb.stat().st_size < 10_000
    with pytest.raises(InputError, match="expands past the size limit") as caught:
        validate_predictions(bomb, small_split(), max_bytes=1_000_000)
    assert caught.value.line is not None


def test_overlong_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"qid": "q1", "candidates": [' + " " * (MAX_LINE_BYTES + 10) + "]}\n")
    with pytest.raises(InputError, match="line longer than") as caught:
        validate_predictions(path, small_split())
    assert caught.value.line == 1


def test_gzip_predictions_validate(tmp_path):
    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(json.dumps(line) for line in [HEADER] + good_lines()) + "\n")
    assert validate_predictions(path, small_split()) == []


def test_check_raises_one_error_listing_every_problem(tmp_path):
    lines = with_candidate("start", -3.0) + [{"qid": "nope", "candidates": []}]
    path = write_lines(tmp_path / "p.jsonl", lines, HEADER)
    with pytest.raises(PredictionsError) as caught:
        check_predictions(path, small_split())
    error = caught.value
    assert isinstance(error, InputError) and len(error.problems) == 2
    assert error.line == 2 and error.field == "candidates[0].start"
    assert "2 problems" in str(error) and "line 5, qid 'nope', field 'qid'" in str(error)


def test_the_error_counts_shown_and_hidden_problems(tmp_path):
    one = PredictionsError(tmp_path / "p.jsonl", [Problem(2, "q1", "qid", "missing")])
    assert str(one) == f"{tmp_path / 'p.jsonl'}: 1 problem in the predictions file:\n  line 2, qid 'q1', field 'qid': missing"
    assert (one.path, one.line, one.field, one.omitted) == (str(tmp_path / "p.jsonl"), 2, "qid", 0)
    many = PredictionsError("p.jsonl", [Problem(i, None, "qid", "missing") for i in range(1, 26)], omitted=3)
    assert many.message.splitlines()[0] == "28 problems in the predictions file:"
    assert many.message.splitlines()[1:] == [f"  line {i}, field 'qid': missing" for i in range(1, 21)] + ["  ... and 8 more"]
    counted_only = PredictionsError("p.jsonl", [], omitted=5)
    assert (counted_only.line, counted_only.field, counted_only.omitted) == (None, None, 5)
    assert counted_only.message == "5 problems in the predictions file:\n  ... and 5 more"


def test_check_defaults_and_passes_on_its_options(tmp_path):
    split = small_split()
    lines = good_lines()
    lines[0]["candidates"].append({"video_id": "y", "start": 0.0, "end": 1.0})
    path = write_lines(tmp_path / "p.jsonl", lines, {"format": "vcval-predictions", "version": 1})
    corpus = {**split.videos, "y": Video("y", 10.0)}
    assert check_predictions(path, split, corpus).arrays.video_ids == ("g1", "g2", "x", "y")
    assert validate_predictions(path, split, corpus) == []
    with pytest.raises(PredictionsError, match="outside the question's gold video"):
        check_predictions(path, split, corpus, task="localization")
    with pytest.raises(InputError, match="larger than the size limit of 100 bytes"):
        check_predictions(path, split, corpus, max_bytes=100)
    path = write_lines(tmp_path / "p.jsonl", good_lines()[:2], HEADER)
    with pytest.raises(PredictionsError, match="have no line"):
        check_predictions(path, split)
    assert check_predictions(path, split, allow_missing=True).arrays.missing == ("q3",)


def test_check_counts_the_problems_past_the_first_thousand(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", [{"qid": f"z{i}", "candidates": []} for i in range(1005)], HEADER)
    with pytest.raises(PredictionsError) as caught:
        check_predictions(path, small_split(), allow_missing=True)
    assert caught.value.path == str(path) and len(caught.value.problems) == 1000 and caught.value.omitted == 5


def test_a_header_split_alias_names_the_checked_split(tmp_path):
    assert problems_of(tmp_path, good_lines(), header={**HEADER, "split": "val"}, split_name="validation") == []
    problem = only(problems_of(tmp_path, good_lines(), header={**HEADER, "split": "val"}))
    assert (problem.line, problem.field) == (1, "split")


@pytest.mark.parametrize("field, written, value, message", [
    ("end", "20.0", 10**400, "inf: expected a finite number of seconds"),
    ("start", "10.0", -(10**400), "-inf: expected a finite number of seconds")])
def test_integers_beyond_a_double_are_refused_as_infinite(tmp_path, field, written, value, message):
    lines = [json.dumps(line) for line in good_lines()]
    lines[0] = lines[0].replace(f'"{field}": {written}', f'"{field}": {value}', 1)
    problem = only(problems_of(tmp_path, lines))
    assert (problem.line, problem.field, problem.message) == (2, f"candidates[0].{field}", message)
