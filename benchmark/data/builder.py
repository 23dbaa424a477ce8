"""The Hugging Face ``datasets`` builder of MedVidCQA-shaped data (a ``GeneratorBasedBuilder`` used directly).

Two configurations:

* ``questions``: splits ``train`` / ``validation`` / ``test`` of (qid, question, video_id, answer_start,
  answer_end, video_duration);
* ``videos``: the same splits, each holding the videos its questions point to plus the videos of
  ``corpus.json`` (``role`` says which), with subtitle pieces and the feature file path.

Example::

    builder = MedVidCQABuilder(config_name="questions", data_dir="data/medvidcqa")
    builder.download_and_prepare()
    questions = builder.as_dataset()          # a DatasetDict
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import datasets

from benchmark.data.sources import SPLITS, SourceData, detect_format, read_source
from benchmark.hashing import file_sha256

# Part of every cache path: raise it when the readers accept or produce something different, so that no
# cache built by an older reader (one that accepted an empty split, say) is served.
BUILDER_VERSION = "1.1.0"
# Files keyed by their stat (with ctime and inode) rather than their bytes; see ``source_state``.
_STAT_KEYED_SUFFIXES = (".npy",)

_DESCRIPTION = "Video corpus visual answer localization: questions, untrimmed videos, subtitles, answer spans."

QUESTION_FEATURES = datasets.Features({
    "qid": datasets.Value("string"),
    "question": datasets.Value("string"),
    "video_id": datasets.Value("string"),
    "answer_start": datasets.Value("float64"),
    "answer_end": datasets.Value("float64"),
    "video_duration": datasets.Value("float64"),
})

VIDEO_FEATURES = datasets.Features({
    "video_id": datasets.Value("string"),
    "duration": datasets.Value("float64"),
    "role": datasets.ClassLabel(names=["question", "corpus"]),
    "subtitles": datasets.List({
        "start": datasets.Value("float64"),
        "end": datasets.Value("float64"),
        "text": datasets.Value("string"),
    }),
    "feature_path": datasets.Value("string"),
})


@dataclass
class MedVidCQAConfig(datasets.BuilderConfig):
    data_format: str | None = None
    subtitles_dir: str | None = None
    features_dir: str | None = None
    # Key of the Arrow cache: changes whenever a source file's content changes (see ``source_state``).
    source_state: str = ""


class MedVidCQABuilder(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIG_CLASS = MedVidCQAConfig
    BUILDER_CONFIGS = [
        MedVidCQAConfig(name="questions", version=datasets.Version(BUILDER_VERSION), description="questions with answers"),
        MedVidCQAConfig(name="videos", version=datasets.Version(BUILDER_VERSION), description="videos with subtitles"),
    ]
    DEFAULT_CONFIG_NAME = "questions"

    def __init__(self, *args, **kwargs) -> None:
        data_dir = kwargs.get("data_dir")
        if data_dir is not None and "source_state" not in kwargs:
            kwargs["source_state"] = source_state(Path(data_dir), kwargs.get("subtitles_dir"),
                                                  kwargs.get("features_dir"))
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        features = QUESTION_FEATURES if self.config.name == "questions" else VIDEO_FEATURES
        return datasets.DatasetInfo(description=_DESCRIPTION, features=features,
                                    citation=CITATION, homepage="https://arxiv.org/abs/2210.05423")

    def source(self) -> SourceData:
        config = self.config
        return _read_source_once(config.data_dir, config.data_format or detect_format(Path(config.data_dir)),
                                 config.subtitles_dir, config.features_dir, config.source_state)

    def _split_generators(self, dl_manager):
        hf_names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=hf_names[split], gen_kwargs={"split": split}) for split in SPLITS]

    def _generate_examples(self, split: str):
        source = self.source()
        if self.config.name == "questions":
            for annotation in source.annotations[split]:
                yield annotation.qid, {
                    "qid": annotation.qid,
                    "question": annotation.text,
                    "video_id": annotation.video_id,
                    "answer_start": annotation.start,
                    "answer_end": annotation.end,
                    "video_duration": annotation.video_duration,
                }
            return
        question_videos = dict.fromkeys(a.video_id for a in source.annotations[split])
        rows = [(video_id, "question") for video_id in question_videos]
        rows += [(video_id, "corpus") for video_id in source.corpus_video_ids]
        for video_id, role in rows:
            video = source.videos[video_id]
            yield video_id, {
                "video_id": video_id,
                "duration": video.duration,
                "role": role,
                "subtitles": [{"start": p.start, "end": p.end, "text": p.text} for p in video.pieces],
                "feature_path": video.feature_path,
            }


@lru_cache(maxsize=4)
def _read_source_once(data_dir: str, data_format: str, subtitles_dir: str | None, features_dir: str | None,
                      state: str) -> SourceData:
    """Both configurations (and repeated loads of an unchanged folder) read the files once."""
    return read_source(Path(data_dir), data_format, Path(subtitles_dir) if subtitles_dir else None,
                       Path(features_dir) if features_dir else None)


def source_state(data_dir: Path, subtitles_dir: str | None, features_dir: str | None) -> str:
    """The key of the Arrow cache: a digest of every file under the data folders.

    Annotation and subtitle files are keyed by their bytes: a size and modification time can be kept or
    reproduced by ``rsync -t``, ``git checkout``, archive extraction or a copy within one second, and the
    cached records feed the data fingerprint. Feature files (``.npy``, large, stored only as a path in the
    cache and hashed from their bytes by the fingerprint) are keyed by inode, size, mtime and ctime, which
    a user cannot set back."""
    digest = hashlib.sha256()
    for folder in (data_dir, subtitles_dir, features_dir):
        if folder is None or not Path(folder).is_dir():
            continue
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                if name.endswith(_STAT_KEYED_SUFFIXES):
                    stat = os.stat(path)
                    key = f"{stat.st_ino}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}"
                else:
                    key = file_sha256(path)
                digest.update(f"{path}\0{key}\n".encode())
    return digest.hexdigest()[:16]



CITATION = """\
@inproceedings{li2023learning,
  title={Learning to Locate Visual Answer in Video Corpus Using Question},
  author={Li, Bin and Weng, Yixuan and Sun, Bin and Li, Shutao},
  booktitle={ICASSP},
  year={2023}
}
@article{gupta2022dataset,
  title={A Dataset for Medical Instructional Video Classification and Question Answering},
  author={Gupta, Deepak and Attal, Kush and Demner-Fushman, Dina},
  journal={arXiv preprint arXiv:2201.12888},
  year={2022}
}"""
