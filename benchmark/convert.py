"""Importers from the prediction formats of the field's evaluators into vcval predictions (version 1).

- ``tvr``: TVR's ``standalone_eval`` submission, ``{"video2idx": {name: idx}, "VCMR" | "SVMR" | "VR":
  [{"desc_id", "predictions": [[video_idx, start, end, score], ...]}]}``.
- ``medvidqa2024``: the NLM MedVidQA 2024 (TREC) VCVAL run, ``[{"question_id", "relevant_videos":
  [{"video_id", "relevant_score", "answer_start_second", "answer_end_second"}]}]``.
- ``cmivqa``: the CCGS authors' CMIVQA evaluator, ``[{"id", "output": [[video_id, start, end], ...]}]``
  (tracks 2 and 3) or ``[{"id", "start_second", "end_second"}]`` (track 1: single video, which needs
  the split to know each question's video).

Candidates keep the source's order (the ranking); lists longer than 100 are cut to the first 100.
A malformed input is an :class:`~benchmark.errors.InputError` naming the file, the record and the field;
times and scores must be finite numbers (``"nan"`` or ``1e999`` are refused, never written).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import InputError
from benchmark.outputs import check_output
from benchmark.predictions import MAX_CANDIDATES, write_predictions
from benchmark.records import Candidate, Prediction, SplitData

SOURCE_FORMATS = ("tvr", "medvidqa2024", "cmivqa")
TVR_TASKS = ("VCMR", "SVMR", "VR")


@dataclass(frozen=True)
class Conversion:
    """What an import produced: the file written, its task, and how many lines and candidates."""

    path: Path
    task: str
    n_questions: int
    n_candidates: int
    n_truncated: int


def convert(source_format: str, in_path: str | Path, out_path: str | Path, *, split: SplitData | None = None,
            tvr_task: str | None = None, system: str | None = None) -> Conversion:
    """Read ``in_path`` in ``source_format`` and write a vcval predictions file to ``out_path``."""
    if source_format not in SOURCE_FORMATS:
        raise InputError(f"unknown source format {source_format!r}, expected one of {list(SOURCE_FORMATS)}",
                         field="from")
    in_path = Path(in_path)
    check_output(out_path, [in_path], option="output")
    data = _load_json(in_path)
    readers: dict[str, Callable[[], tuple[list[Prediction], str]]] = {
        "tvr": lambda: _from_tvr(data, in_path, tvr_task),
        "medvidqa2024": lambda: _from_medvidqa2024(data, in_path),
        "cmivqa": lambda: _from_cmivqa(data, in_path, split),
    }
    predictions, task = readers[source_format]()
    truncated = sum(max(0, len(p.candidates) - MAX_CANDIDATES) for p in predictions)
    predictions = [Prediction(p.qid, p.candidates[:MAX_CANDIDATES]) for p in predictions]
    header = {"task": task, "system": system or in_path.stem}
    if split is not None:
        header["split"] = split.name
    path = write_predictions(out_path, predictions, header)
    return Conversion(path, task, len(predictions), sum(len(p.candidates) for p in predictions), truncated)


def _load_json(path: Path):
    if not path.is_file():
        raise InputError("no such file", path=str(path))
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise InputError(f"cannot be read: {error.strerror or error}", path=str(path)) from None
    except RecursionError:
        raise InputError("not readable JSON: nested too deeply", path=str(path)) from None
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError, or an integer of thousands of digits
        raise InputError(f"not valid JSON ({' '.join(str(error).split())[:200]})", path=str(path)) from None


def _seconds(value, path: Path, record: str, field: str) -> float:
    number = _number(value, path, record, field)
    if number is None:
        raise InputError(f"expected a number of seconds, got {_shown(value)}", path=str(path), record=record,
                         field=field)
    return number


def _number(value, path: Path, record: str, field: str) -> float | None:
    """A finite number from a JSON number or numeric string; None for anything else. NaN and infinity
    (``"nan"``, ``1e999``) are an error: they would be written out as NaN or Infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        raise InputError(f"expected a finite number, got {_shown(value)}", path=str(path), record=record, field=field)
    return number


def _score(value, path: Path, record: str, field: str) -> float | None:
    """An optional score: absent or null gives None; anything else must be a finite number."""
    if value is None:
        return None
    number = _number(value, path, record, field)
    if number is None:
        raise InputError(f"expected a number (the score), got {_shown(value)}", path=str(path), record=record,
                         field=field)
    return number


def _text(value, path: Path, record: str | None, field: str) -> str:
    """An id: a string, or an integer written as one."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"expected a string or integer id, got {_shown(value)}", path=str(path), record=record,
                         field=field)
    return str(value)


def _list(value, path: Path, record: str | None, field: str) -> list:
    if not isinstance(value, list):
        raise InputError(f"expected a list, got {_shown(value)}", path=str(path), record=record, field=field)
    return value


def _shown(value) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else f"an integer of {len(str(abs(value)))} digits"
    return text if len(text) <= 60 else text[:57] + "..."


def _entries(data, path: Path, key: str | None = None) -> list:
    entries = data.get(key) if key is not None and isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise InputError(f"expected a list of predictions{f' under {key!r}' if key else ''}", path=str(path),
                         field=key)
    return entries


def _field(entry, name: str, path: Path, index: int):
    if not isinstance(entry, dict) or name not in entry:
        raise InputError(f"entry {index} has no field {name!r}", path=str(path), record=str(index), field=name)
    return entry[name]


def _from_tvr(data, path: Path, tvr_task: str | None) -> tuple[list[Prediction], str]:
    if not isinstance(data, dict) or not isinstance(data.get("video2idx"), dict):
        raise InputError("expected a TVR submission object with 'video2idx'", path=str(path), field="video2idx")
    if tvr_task is None:
        tvr_task = next((t for t in TVR_TASKS if t in data), None)
        if tvr_task is None:
            raise InputError(f"no predictions: expected one of {list(TVR_TASKS)}", path=str(path))
    elif tvr_task not in TVR_TASKS:
        raise InputError(f"unknown TVR task {tvr_task!r}, expected one of {list(TVR_TASKS)}", field="tvr-task")
    idx2video = {}
    for name, index in data["video2idx"].items():
        if isinstance(index, str) and index.isdecimal() and len(index) < 19:
            index = int(index)
        if isinstance(index, bool) or not isinstance(index, int):
            raise InputError(f"expected an integer video index, got {_shown(index)}", path=str(path),
                             field=f"video2idx.{name}")
        idx2video[index] = name
    predictions = []
    for index, entry in enumerate(_entries(data, path, tvr_task)):
        qid = _text(_field(entry, "desc_id", path, index), path, str(index), "desc_id")
        rows = _list(_field(entry, "predictions", path, index), path, qid, f"{tvr_task}[{index}].predictions")
        candidates = []
        for position, row in enumerate(rows):
            where = f"{tvr_task}[{index}].predictions[{position}]"
            if not isinstance(row, list) or len(row) < 3:
                raise InputError("expected [video_idx, start, end, score]", path=str(path), record=qid, field=where)
            if isinstance(row[0], bool) or not isinstance(row[0], int) or row[0] not in idx2video:
                raise InputError(f"video index {_shown(row[0])} not in video2idx", path=str(path), record=qid,
                                 field=where)
            score = _score(row[3], path, qid, where) if len(row) > 3 else None
            candidates.append(Candidate(idx2video[row[0]], _seconds(row[1], path, qid, where),
                                        _seconds(row[2], path, qid, where), score))
        predictions.append(Prediction(qid, tuple(candidates)))
    return predictions, "localization" if tvr_task == "SVMR" else "corpus"


def _from_medvidqa2024(data, path: Path) -> tuple[list[Prediction], str]:
    predictions = []
    for index, entry in enumerate(_entries(data, path)):
        qid = _text(_field(entry, "question_id", path, index), path, str(index), "question_id")
        videos = _list(_field(entry, "relevant_videos", path, index), path, qid, "relevant_videos")
        candidates = []
        for position, video in enumerate(videos):
            where = f"relevant_videos[{position}]"
            if not isinstance(video, dict) or "video_id" not in video:
                raise InputError("expected an object with video_id", path=str(path), record=qid, field=where)
            candidates.append(Candidate(
                _text(video["video_id"], path, qid, f"{where}.video_id"),
                _seconds(video.get("answer_start_second"), path, qid, f"{where}.answer_start_second"),
                _seconds(video.get("answer_end_second"), path, qid, f"{where}.answer_end_second"),
                _score(video.get("relevant_score"), path, qid, f"{where}.relevant_score")))
        predictions.append(Prediction(qid, tuple(candidates)))
    return predictions, "corpus"


def _from_cmivqa(data, path: Path, split: SplitData | None) -> tuple[list[Prediction], str]:
    entries = _entries(data, path)
    single_video = bool(entries) and isinstance(entries[0], dict) and "output" not in entries[0]
    if single_video and split is None:
        raise InputError("a CMIVQA track-1 file has no video ids: give the split (--data-dir and --split) "
                         "so that each question's video is known", path=str(path))
    predictions = []
    for index, entry in enumerate(entries):
        qid = _text(_field(entry, "id", path, index), path, str(index), "id")
        if single_video:
            annotation = split.by_qid.get(qid) if split is not None else None
            if annotation is None:
                raise InputError("question not in the split", path=str(path), record=qid, field="id")
            candidate = Candidate(annotation.video_id,
                                  _seconds(_field(entry, "start_second", path, index), path, qid, "start_second"),
                                  _seconds(_field(entry, "end_second", path, index), path, qid, "end_second"))
            predictions.append(Prediction(qid, (candidate,)))
            continue
        candidates = []
        for position, row in enumerate(_list(_field(entry, "output", path, index), path, qid, "output")):
            where = f"output[{position}]"
            if not isinstance(row, list) or not row:
                raise InputError("expected [video_id, start, end]", path=str(path), record=qid, field=where)
            # A track-2 (retrieval only) row may hold just the video id: its span is empty, at 0 s.
            start = _seconds(row[1], path, qid, where) if len(row) > 2 else 0.0
            end = _seconds(row[2], path, qid, where) if len(row) > 2 else 0.0
            candidates.append(Candidate(_text(row[0], path, qid, f"{where}[0]"), start, end))
        predictions.append(Prediction(qid, tuple(candidates)))
    return predictions, "localization" if single_video else "corpus"
