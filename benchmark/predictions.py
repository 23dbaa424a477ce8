"""The predictions file, format version 1: writing, streaming reading, validation.

A predictions file is JSON Lines, optionally gzip-compressed. An optional first line is a header::

    {"format": "vcval-predictions", "version": 1, "dataset": ..., "split": ..., "system": ..., "task": "corpus"}

and every other line ranks candidates for one question, best first (at most 100)::

    {"qid": "q1", "candidates": [{"video_id": "v7", "start": 12.0, "end": 40.5, "score": 0.93}, ...]}

``docs/predictions.md`` is the public contract. Reading streams line by line with a size limit on the
file and on what a gzip expands to, so memory is bounded by the split's size, not the file's.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, cast

import numpy as np
import orjson

from benchmark.data.sources import canonical_split
from benchmark.errors import DataError, InputError
from benchmark.metrics.retrieval import PAD
from benchmark.metrics.suite import TASKS
from benchmark.outputs import open_output
from benchmark.records import DURATION_TOLERANCE_S, Candidate, Prediction, SplitData, Video

FORMAT_NAME = "vcval-predictions"
FORMAT_VERSION = 1
MAX_CANDIDATES = 100
# Limit on the file, and on what a gzip file expands to. 100 candidates x 150,000 questions fit well within.
DEFAULT_MAX_BYTES = 2 << 30
# Limit on one line: 100 candidates take about 8 KB, so a longer line is malformed (and must not fill memory).
MAX_LINE_BYTES = 1 << 20
# How many problems validation lists before it only counts the rest.
DEFAULT_MAX_PROBLEMS = 1000
HEADER_FIELDS = ("format", "version", "dataset", "split", "system", "task")
_NUMBER_TYPES = (int, float)
_NUMBER_TYPE_SET = frozenset(_NUMBER_TYPES)
_STRING_TYPE = frozenset((str,))
_VIDEO_ID, _START, _END = itemgetter("video_id"), itemgetter("start"), itemgetter("end")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a predictions file: where (line, qid, field) and what was expected."""

    line: int | None
    qid: str | None
    field: str | None
    message: str

    def render(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.qid is not None:
            where.append(f"qid {self.qid!r}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class PredictionsError(InputError):
    """A predictions file that cannot be scored; ``problems`` lists every :class:`Problem` found."""

    SHOWN = 20

    def __init__(self, path: str | Path, problems: Sequence[Problem], omitted: int = 0) -> None:
        self.problems = list(problems)
        self.omitted = omitted
        total = len(self.problems) + omitted
        lines = [f"{total} problem{'s' if total != 1 else ''} in the predictions file:"]
        lines += [f"  {problem.render()}" for problem in self.problems[: self.SHOWN]]
        hidden = total - min(len(self.problems), self.SHOWN)
        if hidden:
            lines.append(f"  ... and {hidden} more")
        first = self.problems[0] if self.problems else None
        super().__init__("\n".join(lines), path=str(path), line=first.line if first else None,
                         field=first.field if first else None)

    def _render(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class PredictionsFile:
    """A predictions file read without a split: its header (or None) and its lines."""

    header: dict | None
    predictions: list[Prediction]


@dataclass(frozen=True)
class CandidateArrays:
    """A split's predictions as padded matrices, one row per question of the split in its order.

    ``codes`` (N, C) int32 video codes, ``-1`` after the last candidate (and for a question without a
    line); ``video_ids[code]`` names a code. ``starts`` / ``ends`` (N, C) float64 seconds.
    """

    qids: tuple[str, ...]
    codes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    video_ids: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class LoadedPredictions:
    """A predictions file read against a split: its header (with the resolved ``task``), the candidate
    matrices, the problems found (the first ones, and how many more) and the sha256 of its bytes."""

    header: dict
    arrays: CandidateArrays
    problems: list[Problem]
    omitted_problems: int
    sha256: str


# ----------------------------------------------------------------------------------------- writing


def write_predictions(path: str | Path, predictions: Sequence[Prediction], header: dict | None = None) -> Path:
    """Write a version-1 predictions file (gzip when ``path`` ends with ``.gz``); returns the path."""
    path = Path(path)
    with open_output(path) as handle:
        if header is not None:
            unknown = sorted(set(header) - set(HEADER_FIELDS))
            if unknown:
                raise InputError(f"unknown header fields {unknown}, expected some of {list(HEADER_FIELDS)}",
                                 path=str(path), field="header")
            handle.write(json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION, **header}) + "\n")
        for prediction in predictions:
            handle.write(json.dumps({"qid": prediction.qid,
                                     "candidates": [_candidate_record(c) for c in prediction.candidates]}) + "\n")
    return path


def _candidate_record(candidate: Candidate) -> dict:
    record: dict = {"video_id": candidate.video_id, "start": float(candidate.start), "end": float(candidate.end)}
    if candidate.score is not None:
        record["score"] = float(candidate.score)
    return record


# ---------------------------------------------------------------------------------------- streaming


class _SizeLimitedReader:
    """Counts the bytes read (after decompression) and stops at the limit."""

    def __init__(self, handle: IO[bytes], path: Path, max_bytes: int, compressed: bool) -> None:
        self.handle = handle
        self.path = path
        self.max_bytes = max_bytes
        self.compressed = compressed
        self.read_bytes = 0

    def lines(self) -> Iterator[tuple[int, bytes]]:
        line_number = 0
        while True:
            raw = self.handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            line_number += 1
            self.read_bytes += len(raw)
            if self.read_bytes > self.max_bytes:
                what = "expands past" if self.compressed else "is larger than"
                raise InputError(f"the file {what} the size limit of {self.max_bytes} bytes "
                                 "(raise it with --max-bytes if this is intended)", path=str(self.path),
                                 line=line_number)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise InputError(f"line longer than {MAX_LINE_BYTES} bytes: a line holds one question's "
                                 f"candidates (at most {MAX_CANDIDATES})", path=str(self.path), line=line_number)
            yield line_number, raw


def require_predictions_file(path: str | Path) -> None:
    """Raise :class:`InputError` unless ``path`` is a regular file: a folder, a FIFO or a device is refused
    at once (reading a FIFO would wait forever for a writer)."""
    path = Path(path)
    if path.is_dir():
        raise InputError("a folder, not a predictions file", path=str(path))
    if path.exists() and not path.is_file():
        raise InputError("not a regular file (a FIFO, a device or a socket), not a predictions file", path=str(path))
    if not path.is_file():
        raise InputError("no such predictions file", path=str(path))


def _open_lines(path: Path, max_bytes: int, digest) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line) of a plain or gzip file; feeds the raw file bytes to ``digest``."""
    require_predictions_file(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"the file is larger than the size limit of {max_bytes} bytes "
                         "(raise it with --max-bytes if this is intended)", path=str(path))
    try:
        with open(path, "rb") as raw_handle:
            compressed = raw_handle.read(2) == b"\x1f\x8b"
    except OSError as error:  # e.g. no read permission
        raise InputError(f"cannot be read: {error.strerror or error}", path=str(path)) from error
    with open(path, "rb") as raw_handle:
        hashing = cast(IO[bytes], _HashingReader(raw_handle, digest))
        handle = cast(IO[bytes], gzip.GzipFile(fileobj=hashing, mode="rb")) if compressed else hashing
        try:
            yield from _SizeLimitedReader(handle, path, max_bytes, compressed).lines()
        except (OSError, EOFError) as error:
            raise InputError(f"not a readable gzip file ({error})", path=str(path)) from error


class _HashingReader:
    """A binary file wrapper that hashes every byte read from it."""

    def __init__(self, handle: IO[bytes], digest) -> None:
        self.handle = handle
        self.digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.handle.readline(size)
        self.digest.update(data)
        return data

    def close(self) -> None:
        self.handle.close()


def _parse_line(raw: bytes, line: int, problems: _Problems) -> dict | None:
    text = raw.strip()
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses NaN, Infinity and numbers beyond a double, which the standard parser reads
        # so that the validator can name the field; anything else it refuses too, with its message.
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            problems.add(line, None, None, f"not valid JSON ({error.__class__.__name__}: {error})")
            return None
        except RecursionError:
            problems.add(line, None, None, "nested too deeply to be read (a line is one flat object)")
            return None
        except ValueError as error:  # an integer of more digits than Python converts
            problems.add(line, None, None, f"not readable JSON ({' '.join(str(error).split())[:160]})")
            return None
    if not isinstance(value, dict):
        problems.add(line, None, None, f"expected a JSON object, got {type(value).__name__}")
        return None
    return value


def _check_header(value: dict, line: int, problems: _Problems) -> dict:
    if value.get("format") != FORMAT_NAME:
        problems.add(line, None, "format", f"unknown format {value.get('format')!r}, expected {FORMAT_NAME!r}")
    if type(value.get("version")) is not int or value.get("version") != FORMAT_VERSION:  # true == 1 in Python
        problems.add(line, None, "version",
                     f"unsupported version {value.get('version')!r}, this scorer reads version {FORMAT_VERSION}")
    for name in ("dataset", "split", "system"):
        if name in value and not isinstance(value[name], str):
            problems.add(line, None, name, f"expected a string, got {value[name]!r}")
    if "task" in value and value["task"] not in TASKS:
        problems.add(line, None, "task", f"unknown task {value['task']!r}, expected one of {list(TASKS)}")
    return value


class _Problems:
    """Problems in line order, the first ``limit`` kept and the rest counted."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[Problem] = []
        self.omitted = 0

    def add(self, line: int | None, qid: str | None, field: str | None, message: str) -> None:
        if len(self.kept) < self.limit:
            self.kept.append(Problem(line, qid, field, message))
        else:
            self.omitted += 1

    def __bool__(self) -> bool:
        return bool(self.kept) or self.omitted > 0

    def sorted(self) -> list[Problem]:
        return sorted(self.kept, key=lambda p: (p.line is None, p.line or 0))


def _candidate_columns(candidates: list, line: int, qid: str, problems: _Problems):
    """Video ids, starts and ends of a line's candidates, or None after recording what is wrong.

    The fast path reads each column with one comprehension; only a line that fails it is inspected
    candidate by candidate, so that every problem names its candidate and field."""
    try:
        video_ids = list(map(_VIDEO_ID, candidates))
        starts = list(map(_START, candidates))
        ends = list(map(_END, candidates))
        if (set(map(type, video_ids)) <= _STRING_TYPE and set(map(type, starts)) <= _NUMBER_TYPE_SET
                and set(map(type, ends)) <= _NUMBER_TYPE_SET):
            return video_ids, starts, ends
    except (KeyError, TypeError):
        pass
    for position, candidate in enumerate(candidates):
        where = f"candidates[{position}]"
        if not isinstance(candidate, dict):
            problems.add(line, qid, where, f"expected an object with video_id, start, end; got {type(candidate).__name__}")
            continue
        for name in ("video_id", "start", "end"):
            if name not in candidate:
                problems.add(line, qid, f"{where}.{name}", "missing")
        if "video_id" in candidate and not isinstance(candidate["video_id"], str):
            problems.add(line, qid, f"{where}.video_id", f"expected a string, got {candidate['video_id']!r}")
        for name in ("start", "end"):
            if name in candidate and type(candidate[name]) not in _NUMBER_TYPES:
                problems.add(line, qid, f"{where}.{name}", f"expected a number of seconds, got {candidate[name]!r}")
    return None


# ----------------------------------------------------------------------------------- split-aware load


def load_predictions(path: str | Path, split: SplitData, corpus: Mapping[str, Video] | None = None, *,
                     task: str | None = None, allow_missing: bool = False, max_bytes: int = DEFAULT_MAX_BYTES,
                     max_problems: int = DEFAULT_MAX_PROBLEMS) -> LoadedPredictions:
    """Read and validate a predictions file against a split in one streaming pass.

    ``corpus`` is the set of videos candidates may point to (default: the split's videos). ``task``
    defaults to the header's task, else ``corpus``. Returns the candidate matrices and every problem;
    see :func:`validate_predictions` and :func:`check_predictions` for the two usual wrappers.
    """
    path = Path(path)
    corpus = split.videos if corpus is None else corpus
    problems = _Problems(max_problems)
    qids = tuple(a.qid for a in split.annotations)
    row_of = {qid: row for row, qid in enumerate(qids)}
    video_ids = list(corpus)
    code_of = {video_id: code for code, video_id in enumerate(video_ids)}
    for annotation in split.annotations:  # gold videos always have a code, even outside the given corpus
        if annotation.video_id not in code_of:
            code_of[annotation.video_id] = len(video_ids)
            video_ids.append(annotation.video_id)
    durations = np.array([corpus[v].duration if v in corpus else np.inf for v in video_ids])
    gold_codes = np.array([code_of[a.video_id] for a in split.annotations], dtype=np.int64)

    n_rows = len(qids)
    codes = np.full((n_rows, MAX_CANDIDATES), PAD, dtype=np.int32)
    starts = np.zeros((n_rows, MAX_CANDIDATES))
    ends = np.zeros((n_rows, MAX_CANDIDATES))
    row_line = np.zeros(n_rows, dtype=np.int64)
    filler = _MatrixFiller(codes, starts, ends)
    longest = 0
    header: dict | None = None
    header_line = 1
    digest = hashlib.sha256()

    for line, qid, value in _content_lines(path, max_bytes, digest, problems):
        if qid is None:
            header, header_line = value, line
            header_split = header.get("split")
            if isinstance(header_split, str) and _canonical_split_name(header_split) != split.name:
                problems.add(line, None, "split", f"the header names split {header_split!r}, "
                                                  f"but the file is checked against '{split.name}'")
            continue
        row = row_of.get(qid)
        if row is None:
            where = f"split '{split.name}'" if split.sampled_from is None else \
                f"the seeded sample of {len(qids)} of the {split.sampled_from} questions of split '{split.name}' " \
                "(--max-questions): a file for the whole split is scored without it"
            problems.add(line, qid, "qid", f"unknown question: not in {where}")
            continue
        if row_line[row]:
            problems.add(line, qid, "qid", f"duplicate: already given on line {row_line[row]}")
            continue
        row_line[row] = line
        candidates = _candidate_list(value, line, qid, problems)
        if candidates is None:
            continue
        columns = _candidate_columns(candidates, line, qid, problems)
        if columns is None:
            continue
        line_ids, line_starts, line_ends = columns
        count = len(line_ids)
        line_codes = list(map(code_of.get, line_ids))
        if None in line_codes:
            for position, (video_id, code) in enumerate(zip(line_ids, line_codes, strict=True)):
                if code is None:
                    problems.add(line, qid, f"candidates[{position}].video_id",
                                 f"unknown video {video_id!r}: not in the corpus of split '{split.name}'")
            continue
        filler.add(row, line_codes, line_starts, line_ends)
        longest = max(longest, count)
    filler.flush()

    if header is not None and "task" in header and header["task"] in TASKS:
        if task is not None and task != header["task"]:
            problems.add(header_line, None, "task", f"the header says task {header['task']!r} but {task!r} was asked for")
        task = task or header["task"]
    task = task or "corpus"

    _check_numbers(codes, starts, ends, durations, gold_codes, row_line, qids, task, problems)
    missing = tuple(qid for qid, line in zip(qids, row_line, strict=True) if not line)
    if missing and not allow_missing:
        shown = ", ".join(repr(q) for q in missing[:5]) + (", ..." if len(missing) > 5 else "")
        problems.add(None, None, "qid", f"{len(missing)} question(s) of split '{split.name}' have no line: {shown} "
                                        "(pass --allow-missing to score them 0)")
    width = max(longest, 1)
    arrays = CandidateArrays(qids, codes[:, :width], starts[:, :width], ends[:, :width], tuple(video_ids), missing)
    return LoadedPredictions(dict(header or {}, task=task), arrays, problems.sorted(), problems.omitted,
                             digest.hexdigest())


def _content_lines(path: Path, max_bytes: int, digest, problems: _Problems) -> Iterator[tuple[int, str | None, dict]]:
    """``(line, qid, object)`` for each prediction line with a string qid, and ``(line, None, header)`` for
    the optional header (a first object without ``qid`` naming a format or version); every line that is
    not JSON, not an object or has no string qid is recorded in ``problems`` and skipped."""
    first_content_line = True
    for line, raw in _open_lines(path, max_bytes, digest):
        value = _parse_line(raw, line, problems)
        if value is None:
            continue
        if first_content_line and "qid" not in value and ("format" in value or "version" in value):
            first_content_line = False
            yield line, None, _check_header(value, line, problems)
            continue
        first_content_line = False
        qid = value.get("qid")
        if not isinstance(qid, str):
            problems.add(line, None, "qid", "missing" if qid is None else f"expected a string, got {qid!r}")
            continue
        yield line, qid, value


def _candidate_list(value: dict, line: int, qid: str, problems: _Problems) -> list | None:
    """The line's ``candidates`` when it is a list of at most MAX_CANDIDATES, else None after recording why."""
    candidates = value.get("candidates")
    if not isinstance(candidates, list):
        problems.add(line, qid, "candidates",
                     "missing" if candidates is None else f"expected a list, got {type(candidates).__name__}")
        return None
    if len(candidates) > MAX_CANDIDATES:
        problems.add(line, qid, "candidates", f"{len(candidates)} candidates, at most {MAX_CANDIDATES} are allowed")
        return None
    return candidates


class _MatrixFiller:
    """Copies lines' candidate columns into the padded matrices a block of lines at a time: one numpy
    conversion per block instead of three per line."""

    BLOCK = 1 << 18

    def __init__(self, codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        self.matrices = (codes, starts, ends)
        self._reset()

    def _reset(self) -> None:
        self.rows: list[int] = []
        self.counts: list[int] = []
        self.columns: tuple[list, list, list] = ([], [], [])

    def add(self, row: int, codes: list, starts: list, ends: list) -> None:
        self.rows.append(row)
        self.counts.append(len(codes))
        for column, values in zip(self.columns, (codes, starts, ends), strict=True):
            column.extend(values)
        if len(self.columns[0]) >= self.BLOCK:
            self.flush()

    def flush(self) -> None:
        counts = np.array(self.counts, dtype=np.int64)
        rows = np.repeat(np.array(self.rows, dtype=np.int64), counts)
        positions = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        codes, starts, ends = self.matrices
        codes[rows, positions] = np.array(self.columns[0], dtype=np.int32)
        starts[rows, positions] = _float_array(self.columns[1])
        ends[rows, positions] = _float_array(self.columns[2])
        self._reset()


def _float_array(values: list) -> np.ndarray:
    """JSON numbers as float64; integers too large for a double become +-inf (then refused as not finite)."""
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:
        return np.array([_to_float(v) for v in values], dtype=np.float64)


def _to_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _canonical_split_name(name: str) -> str:
    try:
        return canonical_split(name)
    except DataError:
        return name


def _check_numbers(codes, starts, ends, durations, gold_codes, row_line, qids, task, problems) -> None:
    """The per-candidate checks that need numbers, over the whole matrix at once."""
    valid = codes != PAD
    safe_codes = np.where(valid, codes, 0)
    checks = [
        (~np.isfinite(starts), "start", "expected a finite number of seconds"),
        (~np.isfinite(ends), "end", "expected a finite number of seconds"),
        (starts < 0, "start", "negative: expected a time >= 0 s"),
        (ends < starts, "end", "before start: expected end >= start"),
        (ends > durations[safe_codes] + DURATION_TOLERANCE_S, "end",
         f"beyond the video's duration (+{DURATION_TOLERANCE_S:g} s tolerance)"),
    ]
    if task == "localization":
        checks.append((codes != gold_codes[:, None], "video_id",
                       "outside the question's gold video: a localization-task candidate must lie in it"))
    reported = np.zeros(codes.shape, dtype=bool)
    for mask, field, message in checks:
        bad = mask & valid & ~reported
        reported |= bad
        for row, position in zip(*np.nonzero(bad), strict=True):
            start, end = float(starts[row, position]), float(ends[row, position])
            detail = message
            if message.startswith("beyond"):
                detail = f"{end!r} s is {message} of {float(durations[safe_codes[row, position]])!r} s"
            elif message.startswith("before start"):
                detail = f"{end!r} is {message} ({start!r})"
            elif field in ("start", "end"):
                detail = f"{start if field == 'start' else end!r}: {message}"
            problems.add(int(row_line[row]), qids[row], f"candidates[{position}].{field}", detail)


def validate_predictions(path: str | Path, split: SplitData, corpus: Mapping[str, Video] | None = None,
                         task: str | None = None, allow_missing: bool = False, *,
                         max_bytes: int = DEFAULT_MAX_BYTES, max_problems: int = DEFAULT_MAX_PROBLEMS) -> list[Problem]:
    """Every problem of a predictions file for ``split`` (empty when valid), in line order.

    After ``max_problems`` problems the rest are only counted; a last :class:`Problem` says how many."""
    loaded = load_predictions(path, split, corpus, task=task, allow_missing=allow_missing, max_bytes=max_bytes,
                              max_problems=max_problems)
    problems = list(loaded.problems)
    if loaded.omitted_problems:
        problems.append(Problem(None, None, None, f"... and {loaded.omitted_problems} more problems not listed"))
    return problems


def check_predictions(path: str | Path, split: SplitData, corpus: Mapping[str, Video] | None = None,
                      task: str | None = None, allow_missing: bool = False, *,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedPredictions:
    """Load a predictions file for scoring; raise :class:`PredictionsError` listing its problems if any."""
    loaded = load_predictions(path, split, corpus, task=task, allow_missing=allow_missing, max_bytes=max_bytes)
    if loaded.problems or loaded.omitted_problems:
        raise PredictionsError(path, loaded.problems, loaded.omitted_problems)
    return loaded


# ------------------------------------------------------------------------------ split-free reading


def read_predictions(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> PredictionsFile:
    """Read a predictions file into :class:`Prediction` records, checking only what needs no split.

    Raises :class:`PredictionsError` listing every structural problem (JSON, qid, candidate fields,
    numbers, duplicates)."""
    path = Path(path)
    problems = _Problems(DEFAULT_MAX_PROBLEMS)
    header: dict | None = None
    predictions: list[Prediction] = []
    seen: dict[str, int] = {}
    for line, qid, value in _content_lines(path, max_bytes, hashlib.sha256(), problems):
        if qid is None:
            header = value
            continue
        if qid in seen:
            problems.add(line, qid, "qid", f"duplicate: already given on line {seen[qid]}")
            continue
        seen[qid] = line
        candidates = _candidate_list(value, line, qid, problems)
        if candidates is None:
            continue
        columns = _candidate_columns(candidates, line, qid, problems)
        if columns is None:
            continue
        parsed = []
        for position, (video_id, start, end, raw_candidate) in enumerate(zip(*columns, candidates, strict=True)):
            if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
                problems.add(line, qid, f"candidates[{position}]",
                             f"expected finite seconds with 0 <= start <= end, got [{start!r}, {end!r}]")
            score = raw_candidate.get("score")
            parsed.append(Candidate(video_id, float(start), float(end),
                                    float(score) if type(score) in _NUMBER_TYPES else None))
        predictions.append(Prediction(qid, tuple(parsed)))
    if problems:
        raise PredictionsError(path, problems.sorted(), problems.omitted)
    return PredictionsFile(header, predictions)


def arrays_from_predictions(predictions: Sequence[Prediction], split: SplitData,
                            allow_missing: bool = False) -> CandidateArrays:
    """In-memory predictions (a system's own output) as :class:`CandidateArrays` for ``split``.

    Checks what would make the numbers wrong: unknown or repeated questions, more than 100 candidates,
    and (unless ``allow_missing``, which scores them 0) questions without a prediction."""
    qids = tuple(a.qid for a in split.annotations)
    row_of = {qid: row for row, qid in enumerate(qids)}
    code_of: dict[str, int] = {}
    for annotation in split.annotations:
        code_of.setdefault(annotation.video_id, len(code_of))
    by_row = {}
    for prediction in predictions:
        if prediction.qid not in row_of:
            raise InputError(f"unknown question: not in split '{split.name}'", record=prediction.qid, field="qid")
        if row_of[prediction.qid] in by_row:
            raise InputError("duplicate prediction for this question", record=prediction.qid, field="qid")
        if len(prediction.candidates) > MAX_CANDIDATES:
            raise InputError(f"{len(prediction.candidates)} candidates, at most {MAX_CANDIDATES} are allowed",
                             record=prediction.qid, field="candidates")
        by_row[row_of[prediction.qid]] = prediction.candidates
    width = max((len(c) for c in by_row.values()), default=0) or 1
    codes = np.full((len(qids), width), PAD, dtype=np.int32)
    starts = np.zeros((len(qids), width))
    ends = np.zeros((len(qids), width))
    for row, candidates in by_row.items():
        for position, candidate in enumerate(candidates):
            codes[row, position] = code_of.setdefault(candidate.video_id, len(code_of))
            starts[row, position] = candidate.start
            ends[row, position] = candidate.end
    missing = tuple(qid for row, qid in enumerate(qids) if row not in by_row)
    if missing and not allow_missing:
        raise InputError(f"{len(missing)} question(s) of split '{split.name}' have no prediction "
                         f"(allow_missing=True scores them 0)", record=missing[0], field="qid")
    return CandidateArrays(qids, codes, starts, ends, tuple(code_of), missing)
