"""Property tests for the two readers of user files: whatever bytes or JSON a predictions file or a data
file holds, the reader returns a parsed result or raises the suite's own error (:class:`VcvalError`, which
the CLI prints without a traceback), never another exception (issue 13, part 5)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.data.sources import read_ccgs_folder, read_medvidqa_folder
from benchmark.data.subtitles import read_subtitle_file
from benchmark.errors import VcvalError
from benchmark.predictions import load_predictions, read_predictions

EXAMPLES = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# JSON values of every kind, with the extremes a parser meets: huge and non-finite numbers, lone
# surrogates and control characters in strings, nesting.
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**40, max_value=10**60)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["\ud800", "qid", "video_id", "start", "end", "candidates", "format", "version"]))
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=8) | st.sampled_from(
                               ["qid", "candidates", "video_id", "start", "end", "format", "version", "task",
                                "question", "video_sub_title", "answer_start_second", "answer_end_second",
                                "sample_id", "video_length", "text", "duration"]), children, max_size=5),
                           max_leaves=20)

# JSON texts that the standard parser refuses with an exception other than JSONDecodeError.
HOSTILE_TEXTS = ("[" * 100_000 + "]" * 100_000, "9" * 5000, '{"qid": "1", "candidates": [["v", 0, ' + "9" * 5000 + "]]}",
                 '"\\ud800"', '[{"question": "\\udfff", "video_id": "v"}]', "[" * 1500 + "]" * 1500)


def _dump(value) -> bytes:
    if isinstance(value, Hostile):
        return value.text.encode()
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


class Hostile:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Hostile({self.text[:40]!r}...)"


json_or_hostile = json_values | st.sampled_from(HOSTILE_TEXTS).map(Hostile)


@pytest.fixture(scope="module")
def work():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def _predictions_outcome(path: Path, split) -> None:
    for read in (lambda: load_predictions(path, split), lambda: read_predictions(path)):
        with contextlib.suppress(VcvalError):  # the suite's own error is an accepted outcome
            read()


@EXAMPLES
@given(data=st.binary(max_size=400))
def test_predictions_reader_on_arbitrary_bytes(work, tiny_benchmark, data):
    path = work / "bytes.jsonl"
    path.write_bytes(data)
    _predictions_outcome(path, tiny_benchmark.split("test"))


@EXAMPLES
@given(lines=st.lists(json_or_hostile, min_size=1, max_size=4), qids=st.booleans())
def test_predictions_reader_on_arbitrary_json_lines(work, tiny_benchmark, lines, qids):
    split = tiny_benchmark.split("test")
    if qids:  # lines that look like predictions, so the reader goes past the qid into the candidates
        lines = [{"qid": annotation.qid, "candidates": value} if not isinstance(value, Hostile) else value
                 for annotation, value in zip(split.annotations, lines, strict=False)]
    path = work / "lines.jsonl"
    path.write_bytes(b"\n".join(_dump(line) for line in lines) + b"\n")
    _predictions_outcome(path, split)


def _data_folder(work: Path, test_file: bytes) -> Path:
    folder = work / "data"
    (folder / "text").mkdir(parents=True, exist_ok=True)
    record = {"sample_id": 1, "question": "q", "video_id": "v", "video_length": 20.0, "answer_start_second": 1.0,
              "answer_end_second": 2.0, "video_sub_title": [{"text": "a", "start": 0.0, "duration": 5.0}]}
    for name in ("train", "val"):
        (folder / "text" / f"{name}.json").write_text(json.dumps([{**record, "sample_id": len(name)}]))
    (folder / "text" / "test.json").write_bytes(test_file)
    return folder


def _data_outcome(folder: Path) -> None:
    with contextlib.suppress(VcvalError):
        read_ccgs_folder(folder)


@EXAMPLES
@given(data=st.binary(max_size=400))
def test_data_reader_on_arbitrary_bytes(work, data):
    _data_outcome(_data_folder(work, data))


@EXAMPLES
@given(value=json_or_hostile, as_records=st.booleans())
def test_data_reader_on_arbitrary_json(work, value, as_records):
    if as_records and not isinstance(value, Hostile):  # a list of objects, so the reader goes past the top level into the fields
        value = [value] if isinstance(value, dict) else [{"sample_id": 3, "video_sub_title": value}]
    _data_outcome(_data_folder(work, _dump(value)))


@EXAMPLES
@given(value=json_or_hostile)
def test_subtitle_and_medvidqa_readers_on_arbitrary_json(work, value):
    subtitles = work / "subs"
    subtitles.mkdir(exist_ok=True)
    (subtitles / "v.json").write_bytes(_dump(value))
    with contextlib.suppress(VcvalError):
        read_subtitle_file(subtitles / "v.json")
    folder = work / "medvidqa"
    folder.mkdir(exist_ok=True)
    record = {"sample_id": 1, "question": "q", "video_id": "v", "video_length": 20.0, "answer_start_second": 1.0,
              "answer_end_second": 2.0}
    for name in ("train", "val", "test"):
        (folder / f"{name}.json").write_text(json.dumps([{**record, "sample_id": len(name)}]))
    with contextlib.suppress(VcvalError):
        read_medvidqa_folder(folder, subtitles)
