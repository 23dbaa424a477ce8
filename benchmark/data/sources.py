"""Readers that turn a data folder into validated records: the CCGS layout and the official MedVidQA JSON.

Both return a :class:`SourceData`; the Hugging Face builder (:mod:`benchmark.data.builder`) turns that
into ``datasets`` splits. Every problem names the file, the record and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.json_text import read_json_text
from benchmark.data.subtitles import (
    SUBTITLE_SUFFIXES,
    finite_number,
    pieces_from_caption_records,
    read_subtitle_file,
)
from benchmark.errors import DataError
from benchmark.records import DURATION_TOLERANCE_S, Annotation, SubtitlePiece, Video

SPLITS = ("train", "validation", "test")
SPLIT_FILE_STEMS = {"train": "train", "validation": "val", "test": "test"}
FEATURE_DIM = 1024
# An answer or a subtitle piece may end this far past the stated video length (rounding of lengths).
FORMATS = ("ccgs", "medvidqa")


@dataclass
class SourceData:
    """Everything a data folder holds, validated: answers per split, all videos, and what is missing."""

    annotations: dict[str, list[Annotation]]
    videos: dict[str, Video]
    # Videos added by corpus.json that no question of any split points to (or that it merely lists).
    corpus_video_ids: list[str] = field(default_factory=list)
    # Videos that questions point to but that have no subtitle file (MedVidQA without subtitles).
    videos_without_subtitles: list[str] = field(default_factory=list)
    source_files: list[Path] = field(default_factory=list)


def canonical_split(name: str) -> str:
    """Accept ``val`` and ``dev`` for ``validation``."""
    aliases = {"val": "validation", "dev": "validation", "valid": "validation"}
    split = aliases.get(name, name)
    if split not in SPLITS:
        raise DataError(f"unknown split '{name}', expected one of train, validation (val), test")
    return split


def read_ccgs_folder(data_dir: Path) -> SourceData:
    """The CCGS / MedVidCQA release: ``text/{train,val,test}.json``, optional ``corpus.json`` and
    ``features/I3D/<video_id>.npy``."""
    data_dir = Path(data_dir)
    features_dir = data_dir / "features" / "I3D"
    builder = _SourceAssembler(features_dir if features_dir.is_dir() else None)
    for split in SPLITS:
        path = data_dir / "text" / f"{SPLIT_FILE_STEMS[split]}.json"
        records = _read_json_list(path, what="question records", allow_empty=False)
        builder.source_files.append(path)
        for index, item in enumerate(records):
            record = _record_name(index, item)
            _require(item, ("question", "video_id", "video_sub_title", "answer_start_second", "answer_end_second"),
                     path=path, record=record)
            pieces = pieces_from_caption_records(item["video_sub_title"], path=str(path), record=record)
            builder.add_question(split, index, item, pieces, path=path, record=record)
    corpus_path = data_dir / "corpus.json"
    if corpus_path.exists():
        builder.source_files.append(corpus_path)
        for index, item in enumerate(_read_json_list(corpus_path)):
            record = f"{index} (video_id {item.get('video_id')!r})" if isinstance(item, dict) else str(index)
            _require(item, ("video_id", "video_sub_title"), path=corpus_path, record=record)
            pieces = pieces_from_caption_records(item["video_sub_title"], path=str(corpus_path), record=record)
            builder.add_corpus_video(item, pieces, path=corpus_path, record=record)
    return builder.finish()


def read_medvidqa_folder(data_dir: Path, subtitles_dir: Path | None = None,
                         features_dir: Path | None = None) -> SourceData:
    """The official MedVidQA release (``{train,val,test}.json`` at the top of ``data_dir`` or under
    ``text/``), with subtitles read from ``subtitles_dir/<video_id>.{json,vtt,srt}``."""
    data_dir = Path(data_dir)
    if features_dir is None and (data_dir / "features" / "I3D").is_dir():
        features_dir = data_dir / "features" / "I3D"
    builder = _SourceAssembler(Path(features_dir) if features_dir else None)
    subtitle_files = _index_subtitle_files(Path(subtitles_dir)) if subtitles_dir else {}
    for split in SPLITS:
        stem = SPLIT_FILE_STEMS[split]
        path = data_dir / f"{stem}.json"
        if not path.exists() and (data_dir / "text" / f"{stem}.json").exists():
            path = data_dir / "text" / f"{stem}.json"
        records = _read_json_list(path, what="question records", allow_empty=False)
        builder.source_files.append(path)
        for index, item in enumerate(records):
            record = _record_name(index, item)
            _require(item, ("question", "video_id", "answer_start_second", "answer_end_second", "video_length"),
                     path=path, record=record)
            video_id = _string(item["video_id"], path=str(path), record=record, field="video_id")
            subtitle_path = subtitle_files.get(video_id)
            if subtitle_path is None:
                pieces: tuple[SubtitlePiece, ...] | None = None
            else:
                pieces = read_subtitle_file(subtitle_path)
                if subtitle_path not in builder.source_files:
                    builder.source_files.append(subtitle_path)
            builder.add_question(split, index, item, pieces, path=path, record=record)
    return builder.finish()


def read_source(data_dir: Path, data_format: str = "ccgs", subtitles_dir: Path | None = None,
                features_dir: Path | None = None) -> SourceData:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError("data folder not found", path=str(data_dir))
    if data_format == "ccgs":
        if subtitles_dir is not None:
            raise DataError("--subtitles is for --format medvidqa; the CCGS layout carries its subtitles",
                            path=str(data_dir))
        return read_ccgs_folder(data_dir)
    if data_format == "medvidqa":
        return read_medvidqa_folder(data_dir, subtitles_dir, features_dir)
    raise DataError(f"unknown data format '{data_format}', expected one of {', '.join(FORMATS)}")


def detect_format(data_dir: Path) -> str:
    """``ccgs`` when ``text/`` holds records with subtitles, ``medvidqa`` when the official files lie at the top."""
    data_dir = Path(data_dir)
    if (data_dir / "text" / "train.json").exists():
        return "ccgs"
    if (data_dir / "train.json").exists():
        return "medvidqa"
    raise DataError("cannot tell the data format: expected text/train.json (CCGS layout) or train.json "
                    "(MedVidQA)", path=str(data_dir))


class _SourceAssembler:
    """Collects questions and videos, checking that every mention of a video agrees."""

    def __init__(self, features_dir: Path | None) -> None:
        self.features_dir = features_dir
        self.annotations: dict[str, list[Annotation]] = {split: [] for split in SPLITS}
        self.videos: dict[str, Video] = {}
        self.question_videos: set[str] = set()
        self.corpus_video_ids: list[str] = []
        self.without_subtitles: set[str] = set()
        self.qids: dict[str, str] = {}
        self.source_files: list[Path] = []

    def add_question(self, split: str, index: int, item: dict, pieces: tuple[SubtitlePiece, ...] | None, *,
                     path: Path, record: str) -> None:
        where: dict[str, Any] = {"path": str(path), "record": record}
        if not isinstance(item["question"], str):
            raise DataError(f"expected a string, got {item['question']!r}", field="question", **where)
        text = item["question"].strip()  # may be empty: crowd data has empty questions, which score as asked
        video_id = _string(item["video_id"], field="video_id", **where)
        start = finite_number(item["answer_start_second"], field="answer_start_second", **where)
        end = finite_number(item["answer_end_second"], field="answer_end_second", **where)
        if "video_length" in item and item["video_length"] is not None:
            duration = finite_number(item["video_length"], field="video_length", **where)
        else:
            ends = [piece.end for piece in pieces or ()] + [end]
            duration = max(ends)
        if duration <= 0:
            raise DataError(f"expected a positive video length, got {duration}", field="video_length", **where)
        if start < 0:
            raise DataError(f"answer starts before the video ({start} s)", field="answer_start_second", **where)
        if end <= start:
            raise DataError(f"answer ends ({end} s) at or before its start ({start} s)", field="answer_end_second",
                            **where)
        if end > duration + DURATION_TOLERANCE_S:
            raise DataError(f"answer ends at {end} s, after the end of the video ({duration} s)",
                            field="answer_end_second", **where)
        qid = str(item["sample_id"]) if item.get("sample_id") is not None else f"{SPLIT_FILE_STEMS[split]}-{index}"
        if qid in self.qids:
            raise DataError(f"duplicate question id {qid} (first seen in {self.qids[qid]})", field="sample_id",
                            **where)
        self.qids[qid] = f"{path.name} record {index}"
        # Splits may share videos (TutorialVQA does; MedVidQA does not): each split's corpus holds its own.
        self.question_videos.add(video_id)
        if pieces is None:
            self.without_subtitles.add(video_id)
        self._add_video(video_id, duration, pieces or (), where)
        self.annotations[split].append(Annotation(qid, text, video_id, start, min(end, duration), duration))

    def add_corpus_video(self, item: dict, pieces: tuple[SubtitlePiece, ...], *, path: Path, record: str) -> None:
        where: dict[str, Any] = {"path": str(path), "record": record}
        video_id = _string(item["video_id"], field="video_id", **where)
        if "video_length" in item and item["video_length"] is not None:
            duration = finite_number(item["video_length"], field="video_length", **where)
        else:
            duration = max((piece.end for piece in pieces), default=0.0)
        if duration <= 0:
            raise DataError(f"expected a positive video length, got {duration}", field="video_length", **where)
        self._add_video(video_id, duration, pieces, where)
        if video_id not in self.question_videos and video_id not in self.corpus_video_ids:
            self.corpus_video_ids.append(video_id)

    def _add_video(self, video_id: str, duration: float, pieces: tuple[SubtitlePiece, ...], where: dict) -> None:
        known = self.videos.get(video_id)
        if known is not None:
            if abs(known.duration - duration) > 1e-6:
                raise DataError(f"video {video_id} has length {duration} here but {known.duration} elsewhere",
                                field="video_length", **where)
            if pieces and known.pieces and pieces != known.pieces:
                raise DataError(f"video {video_id} has different subtitles here than in an earlier record",
                                field="video_sub_title", **where)
            if pieces and not known.pieces:
                self.videos[video_id] = Video(video_id, duration, pieces, known.feature_path)
            return
        last_end = max((piece.end for piece in pieces), default=0.0)
        if last_end > duration + DURATION_TOLERANCE_S:
            raise DataError(f"a subtitle piece of video {video_id} ends at {last_end} s, after the end of the "
                            f"video ({duration} s)", field="video_sub_title", **where)
        self.videos[video_id] = Video(video_id, duration, pieces, self._feature_path(video_id))

    def _feature_path(self, video_id: str) -> str | None:
        if self.features_dir is None:
            return None
        path = self.features_dir / f"{video_id}.npy"
        if not path.exists():
            return None
        check_feature_file(path)
        return str(path)

    def finish(self) -> SourceData:
        return SourceData(
            annotations=self.annotations,
            videos=self.videos,
            corpus_video_ids=self.corpus_video_ids,
            videos_without_subtitles=sorted(self.without_subtitles),
            source_files=self.source_files,
        )


def check_feature_file(path: Path, feature_dim: int = FEATURE_DIM) -> tuple[int, int]:
    """Read only the header of a ``.npy`` file and check it is (clips x feature_dim) floats."""
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise DataError(f"not a readable .npy array: {error}", path=str(path)) from error
    if array.ndim != 2 or array.shape[1] != feature_dim or array.shape[0] == 0:
        raise DataError(f"expected video features of shape (clips, {feature_dim}), got {tuple(array.shape)}",
                        path=str(path), field="shape")
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"expected floating-point features, got {array.dtype}", path=str(path), field="dtype")
    return int(array.shape[0]), int(array.shape[1])


def _index_subtitle_files(subtitles_dir: Path) -> dict[str, Path]:
    """Map video ids to subtitle files: ``<id>.json``, ``<id>.vtt``, ``<id>.srt`` or ``<id>.<lang>.vtt``."""
    if not subtitles_dir.is_dir():
        raise DataError("subtitles folder not found", path=str(subtitles_dir))
    files: dict[str, Path] = {}
    for path in sorted(subtitles_dir.iterdir()):
        if path.suffix.lower() not in SUBTITLE_SUFFIXES:
            continue
        video_id = path.name.split(".")[0]
        if video_id in files:
            raise DataError(f"two subtitle files for video {video_id}: {files[video_id].name} and {path.name}",
                            path=str(subtitles_dir))
        files[video_id] = path
    return files


def _read_json_list(path: Path, *, what: str = "records", allow_empty: bool = True) -> list:
    if not path.exists():
        raise DataError("file not found", path=str(path))
    if not path.is_file():
        raise DataError("a folder, not a JSON file", path=str(path))
    try:
        with path.open(encoding="utf-8") as handle:
            data = read_json_text(handle.read(), path)
    except OSError as error:
        raise DataError(f"cannot be read: {error.strerror or error}", path=str(path)) from error
    except UnicodeDecodeError as error:
        raise DataError(f"not UTF-8 text: {error.reason}", path=str(path)) from error
    if not isinstance(data, list):
        raise DataError(f"expected a JSON list of {what}, got {type(data).__name__}", path=str(path))
    if not data and not allow_empty:
        raise DataError(f"holds no {what} (an empty list): every split needs at least one question",
                        path=str(path))
    return data


def _record_name(index: int, item: object) -> str:
    if isinstance(item, dict) and "sample_id" in item:
        return f"{index} (sample_id {item['sample_id']})"
    return str(index)


def _require(item: object, names: tuple[str, ...], *, path: Path, record: str) -> None:
    if not isinstance(item, dict):
        raise DataError(f"expected an object, got {type(item).__name__}", path=str(path), record=record)
    for name in names:
        if name not in item:
            raise DataError("missing", path=str(path), record=record, field=name)


def _string(value: object, *, path: str, record: str, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"expected a non-empty string, got {value!r}", path=path, record=record, field=field)
    return value.strip()
