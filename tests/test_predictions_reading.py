"""Reading a predictions file: what is a file, the size and line limits at their exact bounds, the header
line, lines that cannot be parsed, and the digest and header a load returns."""

from __future__ import annotations

import gzip
import hashlib
import json
import os

import numpy as np
import pytest

from benchmark import predictions as predictions_module
from benchmark.data.sampling import sample_questions
from benchmark.errors import InputError
from benchmark.predictions import MAX_LINE_BYTES, load_predictions, validate_predictions, write_predictions
from benchmark.records import Annotation, SplitData, Video
from tests.scoring_helpers import good_lines, small_split, write_lines

HEADER = {"format": "vcval-predictions", "version": 1, "task": "corpus"}


def problems(path, split=None, **options):
    return [(p.line, p.qid, p.field, p.message) for p in validate_predictions(path, split or small_split(), **options)]


def padded_line(size: int, newline: bool) -> bytes:
    """A valid line for q3 (no candidates) of exactly ``size`` bytes, its newline included when ``newline``."""
    head, tail = b'{"qid": "q3", "candidates": [', b"]}" + (b"\n" if newline else b"")
    return head + b" " * (size - len(head) - len(tail)) + tail


def lines_bytes(lines: list) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


# ----------------------------------------------------------------------------------------- the file


def test_what_is_not_a_predictions_file_is_named(tmp_path):
    cases = {tmp_path: "a folder, not a predictions file", tmp_path / "absent.jsonl": "no such predictions file"}
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    cases[fifo] = "not a regular file (a FIFO, a device or a socket), not a predictions file"
    for path, message in cases.items():
        with pytest.raises(InputError) as caught:
            validate_predictions(path, small_split())
        assert (caught.value.message, caught.value.path) == (message, str(path))


def test_a_file_that_cannot_be_opened_names_the_reason(tmp_path, monkeypatch):
    path = write_lines(tmp_path / "p.jsonl", good_lines(), HEADER)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(predictions_module, "open", refuse, raising=False)
    with pytest.raises(InputError) as caught:
        validate_predictions(path, small_split())
    assert (caught.value.message, caught.value.path) == ("cannot be read: Permission denied", str(path))


def test_a_broken_gzip_file_is_named(tmp_path):
    path = tmp_path / "p.jsonl.gz"
    path.write_bytes(gzip.compress(lines_bytes([HEADER] + good_lines()))[:40])
    with pytest.raises(InputError) as caught:
        validate_predictions(path, small_split())
    assert caught.value.path == str(path)
    assert caught.value.message == ("not a readable gzip file (Compressed file ended before the end-of-stream "
                                    "marker was reached)")


def test_the_size_limit_admits_a_file_of_exactly_its_size(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(lines_bytes([HEADER] + good_lines()))
    size = path.stat().st_size
    assert problems(path, max_bytes=size) == []
    with pytest.raises(InputError) as caught:
        validate_predictions(path, small_split(), max_bytes=size - 1)
    assert caught.value.path == str(path)
    assert caught.value.message == (f"the file is larger than the size limit of {size - 1} bytes "
                                    "(raise it with --max-bytes if this is intended)")


def test_a_gzip_file_may_expand_to_exactly_the_limit(tmp_path):
    content = lines_bytes([HEADER] + good_lines())
    path = tmp_path / "p.jsonl.gz"
    path.write_bytes(gzip.compress(content))
    assert problems(path, max_bytes=len(content)) == []
    with pytest.raises(InputError) as caught:
        validate_predictions(path, small_split(), max_bytes=len(content) - 1)
    assert (caught.value.path, caught.value.line) == (str(path), 4)
    assert caught.value.message == (f"the file expands past the size limit of {len(content) - 1} bytes "
                                    "(raise it with --max-bytes if this is intended)")


# --------------------------------------------------------------------------------------- the lines


def test_the_line_limit_at_its_bound(tmp_path):
    path = tmp_path / "p.jsonl"
    start = lines_bytes([HEADER] + good_lines()[:2])
    path.write_bytes(start + padded_line(MAX_LINE_BYTES + 1, newline=True))  # the limit, then its newline
    assert problems(path) == []
    path.write_bytes(start + padded_line(MAX_LINE_BYTES, newline=False))  # a last line without a newline
    assert problems(path) == []
    path.write_bytes(start + padded_line(MAX_LINE_BYTES + 2, newline=True))
    with pytest.raises(InputError) as caught:
        validate_predictions(path, small_split())
    assert (caught.value.path, caught.value.line) == (str(path), 4)
    assert caught.value.message == (f"line longer than {MAX_LINE_BYTES} bytes: a line holds one question's "
                                    "candidates (at most 100)")


def test_a_file_without_a_last_newline_is_read(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(lines_bytes([HEADER] + good_lines()).rstrip(b"\n"))
    assert problems(path) == []


def test_lines_that_cannot_be_parsed_are_named_and_reading_goes_on(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    huge_integer = '{"qid": "q3", "candidates": [], "n": ' + "9" * 5000 + "}"
    path = write_lines(tmp_path / "p.jsonl", [deep, huge_integer, [1], {"candidates": []}, {"qid": 7},
                                              *good_lines()], HEADER)
    found = problems(path)
    assert found[0] == (2, None, None, "nested too deeply to be read (a line is one flat object)")
    assert found[1][:3] == (3, None, None) and found[1][3].startswith("not readable JSON (Exceeds the limit (4300 digits)")
    assert found[2:] == [(4, None, None, "expected a JSON object, got list"), (5, None, "qid", "missing"),
                         (6, None, "qid", "expected a string, got 7")]


def test_candidate_problems_name_the_question_and_every_candidate(tmp_path):
    lines = good_lines()
    lines[0]["candidates"] = [3, "x", {"video_id": 4, "start": "0", "end": 1}]
    lines[1] = {"qid": "q2"}
    lines[2]["candidates"] = [{"video_id": "nowhere", "start": 0, "end": 1}]
    found = problems(write_lines(tmp_path / "p.jsonl", lines, HEADER))
    assert found == [
        (2, "q1", "candidates[0]", "expected an object with video_id, start, end; got int"),
        (2, "q1", "candidates[1]", "expected an object with video_id, start, end; got str"),
        (2, "q1", "candidates[2].video_id", "expected a string, got 4"),
        (2, "q1", "candidates[2].start", "expected a number of seconds, got '0'"),
        (3, "q2", "candidates", "missing"),
        (4, "q3", "candidates[0].video_id", "unknown video 'nowhere': not in the corpus of split 'test'")]


def test_exactly_100_candidates_are_allowed(tmp_path):
    lines = good_lines()
    lines[0]["candidates"] = [{"video_id": "g1", "start": 0, "end": 1}] * 100
    assert problems(write_lines(tmp_path / "p.jsonl", lines, HEADER)) == []
    lines[0]["candidates"].append({"video_id": "g1", "start": 0, "end": 1})
    assert problems(write_lines(tmp_path / "p.jsonl", lines, HEADER)) == [
        (2, "q1", "candidates", "101 candidates, at most 100 are allowed")]


def test_a_duplicate_names_its_first_line_and_reading_goes_on(tmp_path):
    lines = good_lines() + [good_lines()[0], {"qid": "q9", "candidates": []}]
    found = problems(write_lines(tmp_path / "p.jsonl", lines, HEADER))
    assert found == [(5, "q1", "qid", "duplicate: already given on line 2"),
                     (6, "q9", "qid", "unknown question: not in split 'test'")]


# -------------------------------------------------------------------------------------- the header


@pytest.mark.parametrize("header, expected", [
    ({"format": "vcval-predictions"}, [(1, None, "version", "unsupported version None, this scorer reads version 1")]),
    ({"version": 1}, [(1, None, "format", "unknown format None, expected 'vcval-predictions'")]),
])
def test_a_first_line_with_format_or_version_and_no_qid_is_the_header(tmp_path, header, expected):
    assert problems(write_lines(tmp_path / "p.jsonl", good_lines(), header)) == expected


def test_only_the_first_line_can_be_the_header(tmp_path):
    later_header = write_lines(tmp_path / "a.jsonl", [good_lines()[0], HEADER, *good_lines()[1:]])
    assert problems(later_header) == [(2, None, "qid", "missing")]
    second_header = write_lines(tmp_path / "b.jsonl", [HEADER, *good_lines()], HEADER)
    assert problems(second_header) == [(2, None, "qid", "missing")]


def test_a_prediction_line_with_a_format_key_is_a_prediction(tmp_path):
    lines = good_lines()
    lines[0]["format"] = "mine"
    lines[1]["version"] = 3
    assert problems(write_lines(tmp_path / "p.jsonl", lines)) == []


def test_a_task_asked_for_against_the_header_is_named(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", good_lines(), HEADER)
    assert problems(path, task="localization")[0] == (
        1, None, "task", "the header says task 'corpus' but 'localization' was asked for")


def test_load_returns_the_header_with_its_task_the_digest_and_int32_codes(tmp_path):
    path = tmp_path / "p.jsonl.gz"
    path.write_bytes(gzip.compress(lines_bytes([{**HEADER, "system": "mine"}] + good_lines())))
    loaded = load_predictions(path, small_split())
    assert loaded.header == {"format": "vcval-predictions", "version": 1, "task": "corpus", "system": "mine"}
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.arrays.codes.dtype == np.int32 and loaded.arrays.codes.tolist() == [[0, 2], [2, 1], [-1, -1]]
    plain = write_lines(tmp_path / "plain.jsonl", good_lines())
    assert load_predictions(plain, small_split(), task="localization").header == {"task": "localization"}


# ------------------------------------------------------------------------------------ the questions


def seven_questions() -> SplitData:
    videos = {"g1": Video("g1", 100.0)}
    annotations = tuple(Annotation(f"q{i}", "how", "g1", 1.0, 2.0, 100.0) for i in range(1, 8))
    return SplitData("test", annotations, videos)


@pytest.mark.parametrize("given, shown", [(1, "'q2', 'q3', 'q4', 'q5', 'q6', ..."), (2, "'q3', 'q4', 'q5', 'q6', 'q7'")])
def test_missing_questions_list_five_then_an_ellipsis(tmp_path, given, shown):
    lines = [{"qid": f"q{i}", "candidates": []} for i in range(1, given + 1)]
    found = problems(write_lines(tmp_path / "p.jsonl", lines), seven_questions())
    assert found == [(None, None, "qid", f"{7 - given} question(s) of split 'test' have no line: {shown} "
                                         "(pass --allow-missing to score them 0)")]


def test_a_question_outside_the_seeded_sample_is_named_as_such(tmp_path):
    sample = sample_questions(seven_questions(), 3, seed=0)
    outside = next(f"q{i}" for i in range(1, 8) if f"q{i}" not in {a.qid for a in sample.annotations})
    path = write_lines(tmp_path / "p.jsonl", [{"qid": outside, "candidates": []}])
    assert problems(path, sample, allow_missing=True) == [
        (1, outside, "qid", "unknown question: not in the seeded sample of 3 of the 7 questions of split 'test' "
                            "(--max-questions): a file for the whole split is scored without it")]


def test_writing_refuses_unknown_header_fields_naming_file_and_field(tmp_path):
    path = tmp_path / "p.jsonl"
    with pytest.raises(InputError) as caught:
        write_predictions(path, [], {"sytem": "typo"})
    assert (caught.value.path, caught.value.field) == (str(path), "header")
    assert caught.value.message == ("unknown header fields ['sytem'], expected some of "
                                    "['format', 'version', 'dataset', 'split', 'system', 'task']")
