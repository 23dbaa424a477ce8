"""``load_benchmark``: a data folder, through the Hugging Face builder, into typed splits and corpora."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import datasets

from benchmark.data.builder import MedVidCQABuilder, source_state
from benchmark.data.corpus import CorpusSetting
from benchmark.data.sources import SPLITS, canonical_split, detect_format
from benchmark.errors import VcvalError
from benchmark.hashing import file_sha256
from benchmark.records import Annotation, SplitData, SubtitlePiece, Video

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "vcval" / "datasets"


@dataclass(frozen=True)
class Benchmark:
    """A loaded data folder: three typed splits, the extra corpus videos, and a content fingerprint."""

    data_dir: str
    data_format: str
    splits: Mapping[str, SplitData]
    corpus_videos: Mapping[str, Video]
    videos_without_subtitles: tuple[str, ...]

    @property
    def name(self) -> str:
        return Path(self.data_dir).name

    def split(self, name: str) -> SplitData:
        return self.splits[canonical_split(name)]

    @cached_property
    def videos(self) -> dict[str, Video]:
        """Every video of every split and of corpus.json."""
        videos: dict[str, Video] = {}
        for split in SPLITS:
            videos.update(self.splits[split].videos)
        videos.update(self.corpus_videos)
        return videos

    def corpus(self, split: str, setting: CorpusSetting | str = "split") -> dict[str, Video]:
        """The videos a question of ``split`` is searched against, in a fixed order."""
        if isinstance(setting, str):
            setting = CorpusSetting.parse(setting)
        split = canonical_split(split)
        if setting.kind == "full":
            return dict(self.videos)
        corpus = dict(self.splits[split].videos)
        corpus.update(self.corpus_videos)
        if setting.distractors:
            pool = sorted(video_id for video_id in self.videos if video_id not in corpus)
            chosen = random.Random(setting.seed).sample(pool, min(setting.distractors, len(pool)))
            for video_id in sorted(chosen):
                corpus[video_id] = self.videos[video_id]
        return corpus

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over the canonical content: every question and answer, every video's length and
        subtitles, and the bytes of every feature file. Equal fingerprints mean the same evaluation data."""
        digest = hashlib.sha256()
        for split in SPLITS:
            for a in sorted(self.splits[split].annotations, key=lambda a: a.qid):
                digest.update(_canonical(["q", split, a.qid, a.text, a.video_id, a.start, a.end, a.video_duration]))
        for video_id in sorted(self.videos):
            video = self.videos[video_id]
            role = "corpus" if video_id in self.corpus_videos else "question"
            digest.update(_canonical(["v", video_id, role, video.duration,
                                      [[p.start, p.end, p.text] for p in video.pieces]]))
            if video.feature_path:
                digest.update(_canonical(["f", video_id, file_sha256(video.feature_path)]))
        return digest.hexdigest()


def load_benchmark(data_dir: str | Path, data_format: str | None = None, subtitles_dir: str | Path | None = None,
                   features_dir: str | Path | None = None, cache_dir: str | Path | None = None) -> Benchmark:
    """Load a data folder (CCGS layout or official MedVidQA JSON) through :class:`MedVidCQABuilder`."""
    data_dir = Path(data_dir)
    data_format = data_format or detect_format(data_dir)
    options = {
        "data_dir": str(data_dir.resolve()),
        "data_format": data_format,
        "subtitles_dir": str(Path(subtitles_dir).resolve()) if subtitles_dir else None,
        "features_dir": str(Path(features_dir).resolve()) if features_dir else None,
        "cache_dir": str(cache_dir or DEFAULT_CACHE_DIR),
    }
    # Both builders share one cache key: it reads every annotation and subtitle file's bytes.
    options["source_state"] = source_state(data_dir, options["subtitles_dir"], options["features_dir"])
    with _quiet_datasets():
        question_builder = MedVidCQABuilder(config_name="questions", **options)
        video_builder = MedVidCQABuilder(config_name="videos", **options)
        try:
            question_builder.download_and_prepare()
            video_builder.download_and_prepare()
        except datasets.exceptions.DatasetGenerationError as error:
            # The builder wraps our reader's errors; show the user the one that names file and field.
            if isinstance(error.__cause__, VcvalError):
                raise error.__cause__ from None
            raise
        questions = question_builder.as_dataset()
        videos = video_builder.as_dataset()
    splits: dict[str, SplitData] = {}
    corpus_videos: dict[str, Video] = {}
    for split in SPLITS:
        annotations = tuple(
            Annotation(row["qid"], row["question"], row["video_id"], row["answer_start"], row["answer_end"],
                       row["video_duration"])
            for row in questions[split]
        )
        split_videos: dict[str, Video] = {}
        for row in videos[split]:
            video = _video_from_row(row)
            if row["role"] == 0:
                split_videos[video.video_id] = video
            else:
                corpus_videos[video.video_id] = video
        splits[split] = SplitData(split, annotations, split_videos)
    return Benchmark(
        data_dir=str(data_dir),
        data_format=data_format,
        splits=splits,
        corpus_videos=corpus_videos,
        videos_without_subtitles=tuple(sorted({v.video_id for split in splits.values() for v in split.videos.values()
                                               if not v.pieces})),
    )


def _video_from_row(row: dict) -> Video:
    pieces = tuple(SubtitlePiece(p["start"], p["end"], p["text"]) for p in row["subtitles"])
    return Video(row["video_id"], row["duration"], pieces, row["feature_path"])


def _canonical(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()



class _quiet_datasets:
    """Hide the builder's progress bars and cache messages; our CLI prints its own summary."""

    def __enter__(self):
        self._verbosity = datasets.logging.get_verbosity()
        datasets.logging.set_verbosity_error()
        datasets.disable_progress_bars()

    def __exit__(self, *exc):
        datasets.logging.set_verbosity(self._verbosity)
        datasets.enable_progress_bars()
