"""Subtitle readers: YouTube caption JSON (``[{start, duration, text}]``), WebVTT and SRT.

Every reader returns :class:`~benchmark.records.SubtitlePiece` tuples in file order and checks that
times are finite, non-negative and sorted, naming the file and the piece on any problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmark.data.json_text import read_json_text
from benchmark.errors import DataError
from benchmark.records import SubtitlePiece

SUBTITLE_SUFFIXES = (".json", ".vtt", ".srt")

_TIMESTAMP = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_CUE_TIMING = re.compile(rf"^\s*({_TIMESTAMP.pattern})\s*-->\s*({_TIMESTAMP.pattern})")
_TAG = re.compile(r"<[^>]+>")
# More hour digits than this is not a video's time (and a few thousand overflow a float).
MAX_HOUR_DIGITS = 6


def pieces_from_caption_records(records: object, *, path: str, record: str | None = None) -> tuple[SubtitlePiece, ...]:
    """Pieces from YouTube caption records ``{text, start, duration}`` (the CCGS ``video_sub_title``)."""
    if not isinstance(records, list):
        raise DataError("expected a list of {text, start, duration} objects", path=path, record=record,
                        field="video_sub_title")
    pieces = []
    for index, item in enumerate(records):
        where = f"{record}, piece {index}" if record else f"piece {index}"
        if not isinstance(item, dict):
            raise DataError("expected an object {text, start, duration}", path=path, record=where)
        for name in ("text", "start", "duration"):
            if name not in item:
                raise DataError("missing", path=path, record=where, field=name)
        start = finite_number(item["start"], path=path, record=where, field="start")
        duration = finite_number(item["duration"], path=path, record=where, field="duration")
        if duration < 0:
            raise DataError(f"expected a duration >= 0, got {duration}", path=path, record=where, field="duration")
        if not isinstance(item["text"], str):
            raise DataError("expected a string", path=path, record=where, field="text")
        pieces.append(SubtitlePiece(start, start + duration, item["text"]))
    check_piece_times(pieces, path=path, record=record)
    return tuple(pieces)


def check_piece_times(pieces: Sequence[SubtitlePiece], *, path: str, record: str | None = None) -> None:
    """Pieces must start at or after 0 and be sorted by start time."""
    previous_start = -math.inf
    for index, piece in enumerate(pieces):
        where = f"{record}, piece {index}" if record else f"piece {index}"
        if piece.start < 0:
            raise DataError(f"negative start time {piece.start}", path=path, record=where, field="start")
        if piece.end < piece.start:
            raise DataError(f"ends ({piece.end}) before it starts ({piece.start})", path=path, record=where,
                            field="end")
        if piece.start < previous_start:
            raise DataError(f"pieces are not sorted by start time: {piece.start} comes after {previous_start}",
                            path=path, record=where, field="start")
        previous_start = piece.start


def read_subtitle_file(path: Path) -> tuple[SubtitlePiece, ...]:
    """Read one subtitle file, choosing the parser by suffix."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise DataError(f"cannot read subtitle file: {error.strerror}", path=str(path)) from error
    except UnicodeDecodeError as error:
        raise DataError(f"not UTF-8 text: {error.reason}", path=str(path)) from error
    if suffix == ".json":
        return pieces_from_caption_records(read_json_text(text, path), path=str(path))
    if suffix in (".vtt", ".srt"):
        pieces = tuple(_parse_cues(text.splitlines(), path=str(path)))
        check_piece_times(pieces, path=str(path))
        return pieces
    raise DataError(f"unknown subtitle format '{suffix}', expected one of {', '.join(SUBTITLE_SUFFIXES)}",
                    path=str(path))


def _parse_cues(lines: Iterable[str], *, path: str) -> Iterable[SubtitlePiece]:
    """WebVTT and SRT share the cue shape: optional id line, ``start --> end`` line, text lines, blank line."""
    timing: tuple[float, float] | None = None
    text_lines: list[str] = []
    for line_number, line in enumerate(lines, start=1):
        match = _CUE_TIMING.match(line)
        if match:
            if timing is not None and text_lines:
                yield SubtitlePiece(timing[0], timing[1], _clean_cue_text(text_lines))
            timing = (_seconds(match.group(1), path, line_number), _seconds(match.group(6), path, line_number))
            if timing[1] < timing[0]:
                raise DataError(f"cue ends before it starts ({line.strip()})", path=path, line=line_number,
                                field="end")
            text_lines = []
        elif not line.strip():
            if timing is not None and text_lines:
                yield SubtitlePiece(timing[0], timing[1], _clean_cue_text(text_lines))
            timing, text_lines = None, []
        elif timing is not None:
            text_lines.append(line)
        elif "-->" in line:
            raise DataError(f"cannot read cue timing '{line.strip()}', expected HH:MM:SS.mmm --> HH:MM:SS.mmm",
                            path=path, line=line_number, field="timing")
    if timing is not None and text_lines:
        yield SubtitlePiece(timing[0], timing[1], _clean_cue_text(text_lines))


def _clean_cue_text(lines: list[str]) -> str:
    return " ".join(_TAG.sub("", line).strip() for line in lines if line.strip())


def _seconds(stamp: str, path: str, line_number: int) -> float:
    match = _TIMESTAMP.fullmatch(stamp)
    assert match is not None  # guaranteed by _CUE_TIMING
    hours, minutes, seconds, fraction = match.groups()
    if hours is not None and len(hours.lstrip("0")) > MAX_HOUR_DIGITS:
        raise DataError(f"cue time {stamp[:20]}{'...' if len(stamp) > 20 else ''} has {len(hours)} hour digits; a video lasts less than "
                        f"{10 ** MAX_HOUR_DIGITS} hours", path=path, line=line_number, field="timing")
    millis = ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(fraction.ljust(3, "0"))
    return millis / 1000


def finite_number(value: object, *, path: str, record: str, field: str) -> float:
    """A JSON number that is neither a boolean nor NaN/inf, as float; else a DataError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"expected a number, got {value!r}", path=path, record=record, field=field)
    number = float(value)
    if not math.isfinite(number):
        raise DataError(f"expected a finite number, got {value!r}", path=path, record=record, field=field)
    return number
