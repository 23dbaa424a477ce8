"""Synthetic MedVidCQA: a deterministic generator (by seed) of questions, subtitled videos and I3D-like
features in the CCGS layout, for the demo and the tests.

How the signal is planted, so that every channel matters but none is trivial:

* Each video belongs to a *topic*; videos of a topic share topic words, so a question's words also occur
  in other videos (lexical retrieval is informative, not decisive).
* Each question is asked about a *segment* (its answer span). The segment has key words drawn from its
  video's words; pieces inside the segment say them often, pieces elsewhere in the video sometimes.
* Each segment shows a *visual concept*: its clips carry the concept's direction in feature space (and a
  shared "answer-ness" direction). The question names the concept with a word that the subtitles never
  say, so only the visual channel can use it.

Statistics of ``full`` follow the real MedVidQA (video length log-normal with mean ~390 s and median
~318 s; answers log-normal with mean ~62 s; ~3.4 questions per video; subtitle pieces of 2-6 s).
Synthetic numbers are not MedVidCQA results.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from benchmark.data.sources import FEATURE_DIM, SPLIT_FILE_STEMS, SPLITS
from benchmark.errors import ConfigError
from benchmark.outputs import write_json
from benchmark.ownership import check_replaceable, move_into_place, staging_folder, write_marker


@dataclass(frozen=True)
class SyntheticSize:
    questions: dict[str, int]
    videos: dict[str, int]
    video_length_median_s: dict[str, float]
    video_length_sigma: float = 0.635
    answer_length_median_s: float = 51.5
    answer_length_sigma: float = 0.617
    topics: int = 40
    concepts: int = 64
    vocabulary: int = 6000


SIZES = {
    "tiny": SyntheticSize({"train": 48, "validation": 12, "test": 12}, {"train": 12, "validation": 4, "test": 4},
                          video_length_median_s={"train": 100.0, "validation": 100.0, "test": 100.0}, answer_length_median_s=25.0, topics=2, concepts=8,
                          vocabulary=600),
    "mini": SyntheticSize({"train": 320, "validation": 40, "test": 40}, {"train": 96, "validation": 12, "test": 12},
                          video_length_median_s={"train": 160.0, "validation": 160.0, "test": 160.0}, answer_length_median_s=35.0, topics=3, concepts=24,
                          vocabulary=2500),
    "full": SyntheticSize({"train": 2710, "validation": 145, "test": 155}, {"train": 800, "validation": 49, "test": 50},
                          # MedVidQA's per-split median video lengths (shared/data/medvidqa statistics).
                          video_length_median_s={"train": 318.0, "validation": 290.0, "test": 283.0}, topics=12),
}

TOPIC_WORDS_PER_VIDEO = 24
PROCEDURES_PER_TOPIC = 8
CLIP_SECONDS = 4.0  # one feature clip per 4 s of video
MIN_VIDEO_S, MAX_VIDEO_S = 36.0, 1650.0
MIN_ANSWER_S, MAX_ANSWER_S = 3.0, 300.0

_FILLER = ("so now we you the this is and then just going to here a of it that your on with do make sure "
           "okay right let me show how over again really").split()
_VERBS = "perform apply use treat relieve check stretch massage clean wrap prepare measure place hold".split()
_SYLLABLES = "ka lo mi ne ru sa to vi de pa zo ri mu fe ga hi ju ke la mo".split()


def generate(out_dir: str | Path, size: str = "tiny", seed: int = 0, features: bool = True) -> Path:
    """Write a synthetic data set in the CCGS layout (``text/*.json``, ``features/I3D/*.npy``) and return
    its folder. The same size and seed always give byte-identical files.

    ``out_dir`` must be new, empty, or a synthetic data set this function wrote (holding nothing else):
    a real data folder is never overwritten. The set is built beside it and renamed into place whole."""
    if size not in SIZES:
        raise ConfigError(f"unknown synthetic size '{size}', expected one of {', '.join(SIZES)}")
    out_dir = Path(out_dir)
    check_replaceable(out_dir, "synthetic-data", what="vcval data synth")
    staging = staging_folder(out_dir.resolve())
    try:
        _write_synthetic(staging, SIZES[size], seed, features)
        write_marker(staging, "synthetic-data", made_by=f"vcval data synth --size {size} --seed {seed}")
        check_replaceable(out_dir, "synthetic-data", what="vcval data synth")  # again: files added meanwhile
        move_into_place(staging, out_dir.resolve())
    except OSError as error:
        raise ConfigError(f"cannot write the synthetic data set to {out_dir}: {error.strerror or error}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _write_synthetic(out_dir: Path, spec: SyntheticSize, seed: int, features: bool) -> None:
    rng = np.random.default_rng(seed)
    # Features draw from their own stream, so the text is the same with or without --no-features.
    feature_rng = np.random.default_rng([seed, 1])
    (out_dir / "text").mkdir(parents=True, exist_ok=True)
    vocabulary = _pseudo_words(rng, spec.vocabulary)
    topic_words = [rng.choice(len(vocabulary), 60, replace=False) for _ in range(spec.topics)]
    procedures = [[[vocabulary[i] for i in rng.choice(words, 4, replace=False)] for _ in range(PROCEDURES_PER_TOPIC)]
                  for words in topic_words]
    concept_words = _pseudo_words(rng, spec.concepts, syllables=4, exclude=set(vocabulary))
    concept_directions = rng.normal(0.0, 1.0, (spec.concepts, FEATURE_DIM)).astype(np.float32)
    answer_direction = rng.normal(0.0, 1.0, FEATURE_DIM).astype(np.float32)
    topic_directions = rng.normal(0.0, 1.0, (spec.topics, FEATURE_DIM)).astype(np.float32)
    feature_dir = out_dir / "features" / "I3D"
    if features:
        feature_dir.mkdir(parents=True, exist_ok=True)

    sample_id = 1
    for split in SPLITS:
        records = []
        num_videos, num_questions = spec.videos[split], spec.questions[split]
        per_video = 1 + rng.multinomial(num_questions - num_videos, np.full(num_videos, 1.0 / num_videos))
        lengths = _stratified_lognormal(rng, num_videos, spec.video_length_median_s[split],
                                        spec.video_length_sigma)
        for video_index in range(num_videos):
            video_id = f"syn{seed}-{SPLIT_FILE_STEMS[split]}-{video_index:04d}"
            topic = int(rng.integers(spec.topics))
            video = _make_video(rng, spec, float(lengths[video_index]), vocabulary, topic_words[topic],
                                procedures[topic], concept_words, int(per_video[video_index]))
            for segment in video["segments"]:
                records.append({
                    "sample_id": sample_id,
                    "question": segment["question"],
                    "video_id": video_id,
                    "video_length": video["length"],
                    "answer_start_second": segment["start"],
                    "answer_end_second": segment["end"],
                    "video_sub_title": video["subtitles"],
                })
                sample_id += 1
            if features:
                clips = _make_features(feature_rng, video, topic_directions[topic], concept_directions, answer_direction)
                np.save(feature_dir / f"{video_id}.npy", clips)
        order = rng.permutation(len(records))
        ordered = [records[i] for i in order]
        write_json(out_dir / "text" / f"{SPLIT_FILE_STEMS[split]}.json", ordered, ensure_ascii=False, indent=0)


def _stratified_lognormal(rng: np.random.Generator, count: int, median: float, sigma: float) -> np.ndarray:
    """Video lengths at evenly spaced quantiles of the log-normal, shuffled: a split's mean length then
    follows the distribution's mean instead of wandering with a small sample (50 test videos)."""
    normal = NormalDist()
    quantiles = [normal.inv_cdf((i + 0.5) / count) for i in range(count)]
    lengths = np.clip(median * np.exp(sigma * np.asarray(quantiles)), MIN_VIDEO_S, MAX_VIDEO_S)
    return np.round(rng.permutation(lengths))


def _make_video(rng: np.random.Generator, spec: SyntheticSize, length: float, vocabulary: list[str],
                topic_vocab: np.ndarray, procedures: list[list[str]], concept_words: list[str],
                num_segments: int) -> dict:
    own_words = [vocabulary[i] for i in rng.choice(len(vocabulary), 12, replace=False)]
    video_words = [vocabulary[i] for i in rng.choice(topic_vocab, TOPIC_WORDS_PER_VIDEO, replace=False)] + own_words
    segments: list[dict[str, Any]] = []
    for _ in range(num_segments):
        answer = float(np.clip(rng.lognormal(np.log(spec.answer_length_median_s), spec.answer_length_sigma),
                               MIN_ANSWER_S, min(MAX_ANSWER_S, 0.9 * length)))
        start = float(rng.uniform(0.0, length - answer))
        # A segment shows one of its topic's procedures, which other videos of the topic show too (as many
        # YouTube videos show the same exercise), plus a word of its own video: lexical retrieval is
        # informative (the words are said often in the answer) without being decisive.
        procedure = procedures[int(rng.integers(len(procedures)))]
        own = own_words[int(rng.integers(len(own_words)))]
        keys = [*procedure, own]
        concept = int(rng.integers(len(concept_words)))
        verb = _VERBS[int(rng.integers(len(_VERBS)))]
        asked = [procedure[i] for i in rng.choice(len(procedure), 3, replace=False)]
        tail = f" {own}" if rng.random() < 0.5 else ""
        question = f"How to {verb} the {asked[0]} {asked[1]} with {concept_words[concept]} {asked[2]}{tail}?"
        segments.append({"start": round(start), "end": round(start + answer), "keys": keys, "concept": concept,
                         "question": question})
    for segment in segments:
        segment["end"] = min(max(segment["end"], segment["start"] + 1), length)
    return {"length": length, "segments": segments,
            "subtitles": _make_subtitles(rng, length, segments, video_words)}


def _make_subtitles(rng: np.random.Generator, length: float, segments: list[dict], video_words: list[str]) -> list:
    pieces = []
    time = float(rng.uniform(0.0, 2.0))
    while time < length - 1.0:
        duration = min(float(rng.uniform(2.0, 6.0)), length - time)
        middle = time + duration / 2
        words = [_FILLER[i] for i in rng.integers(len(_FILLER), size=int(rng.integers(4, 9)))]
        words += [video_words[i] for i in rng.integers(len(video_words), size=int(rng.integers(0, 3)))]
        for segment in segments:
            inside = segment["start"] <= middle <= segment["end"]
            if rng.random() < (0.55 if inside else 0.04):
                words += [segment["keys"][i] for i in rng.choice(len(segment["keys"]), int(rng.integers(1, 3)),
                                                                  replace=False)]
        order = rng.permutation(len(words))
        pieces.append({"text": " ".join(words[i] for i in order), "start": round(time, 2),
                       "duration": round(duration, 2)})
        time += duration + float(rng.uniform(0.0, 0.6))
    return pieces


def _make_features(rng: np.random.Generator, video: dict, topic_direction: np.ndarray,
                   concept_directions: np.ndarray, answer_direction: np.ndarray) -> np.ndarray:
    num_clips = max(1, int(np.ceil(video["length"] / CLIP_SECONDS)))
    video_direction = rng.normal(0.0, 1.0, FEATURE_DIM).astype(np.float32)
    clips = (0.3 * topic_direction + 0.3 * video_direction
             + rng.normal(0.0, 1.0, (num_clips, FEATURE_DIM)).astype(np.float32))
    centres = (np.arange(num_clips) + 0.5) * CLIP_SECONDS
    for segment in video["segments"]:
        inside = (centres >= segment["start"]) & (centres <= segment["end"])
        clips[inside] += 0.5 * concept_directions[segment["concept"]] + 0.3 * answer_direction
    return clips.astype(np.float32)


def _pseudo_words(rng: np.random.Generator, count: int, syllables: int = 3, exclude: Collection[str] = ()) -> list[str]:
    words: list[str] = []
    seen = set(exclude)
    while len(words) < count:
        parts = rng.choice(len(_SYLLABLES), int(rng.integers(2, syllables + 1)))
        word = "".join(_SYLLABLES[i] for i in parts)
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words
