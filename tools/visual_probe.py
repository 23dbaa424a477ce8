"""A no-training probe of the visual signal of a data set with I3D-like features (issue 12, part 1).

For every question word after "with", the probe averages the answer clips' features (minus their video's
mean clip) over the train questions that use the word: a *word centroid*. A test question's clips are
scored by their cosine with the mean centroid of its words (unknown words are skipped), and the probe
answers with the window of the median relative train answer length whose clip scores sum highest. The
"answer-ness" variant scores every clip by its cosine with the mean of all train answer clips (minus the
video mean), whatever the question. Both are scored by the suite's scorer on the localization track (the
gold video given), so their loc_mIoU compares with ``vcval run oracle+...`` rows.

Separability: per test question, the ROC AUC of the clip scores for answer clips against the other clips
of the same video (0.5 = chance), averaged over questions.

    python tools/visual_probe.py --data /tmp/full0 [--out benchmarks/results/visual_probe_seed0.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.data import load_benchmark  # noqa: E402
from benchmark.data.features import clip_bounds, load_clip_features  # noqa: E402
from benchmark.records import Candidate, Prediction  # noqa: E402
from benchmark.scoring import score  # noqa: E402

MAX_CLIPS = 768  # the protocol's feature_clips


def words_after_with(text: str) -> list[str]:
    words = text.lower().rstrip("?").split()
    return words[words.index("with") + 1:] if "with" in words else []


def centred(video) -> np.ndarray:
    features = load_clip_features(video.feature_path, MAX_CLIPS).astype(np.float64)
    return features - features.mean(axis=0, keepdims=True)


def answer_mask(annotation, video, count: int) -> np.ndarray:
    starts, ends = clip_bounds(count, video.duration)
    centres = (starts + ends) / 2
    return (centres >= annotation.start) & (centres <= annotation.end)


def auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """ROC AUC by ranks (ties averaged); None when one class is empty."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    values = np.concatenate([pos, neg])
    for value in np.unique(values):  # average ties
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def best_window(clip_scores: np.ndarray, width: int) -> tuple[int, int]:
    width = int(min(max(width, 1), len(clip_scores)))
    sums = np.convolve(clip_scores, np.ones(width), mode="valid")
    first = int(np.argmax(sums))
    return first, first + width - 1


def cosine(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    return matrix @ vector / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(vector) + 1e-12)


def run_probe(data_dir: str) -> dict:
    began = time.perf_counter()
    bench = load_benchmark(data_dir)
    train, test = bench.split("train"), bench.split("test")
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = defaultdict(int)
    answer_sum, answer_count = None, 0
    relative_lengths = []
    for annotation in train.annotations:
        video = train.videos[annotation.video_id]
        features = centred(video)
        inside = answer_mask(annotation, video, len(features))
        relative_lengths.append((annotation.end - annotation.start) / video.duration)
        if not inside.any():
            continue
        mean_answer = features[inside].mean(axis=0)
        answer_sum = mean_answer if answer_sum is None else answer_sum + mean_answer
        answer_count += 1
        for word in words_after_with(annotation.text):
            sums[word] = sums.get(word, 0.0) + mean_answer
            counts[word] += 1
    centroids = {word: sums[word] / counts[word] for word in sums}
    answer_direction = answer_sum / answer_count
    median_relative = float(np.median(relative_lengths))

    predictions = {"probe": [], "answer-ness": []}
    aucs = {"probe": [], "answer-ness": []}
    unknown = 0
    for annotation in test.annotations:
        video = test.videos[annotation.video_id]
        features = centred(video)
        known = [centroids[w] for w in words_after_with(annotation.text) if w in centroids]
        unknown += not known
        query = np.mean(known, axis=0) if known else answer_direction
        starts, ends = clip_bounds(len(features), video.duration)
        inside = answer_mask(annotation, video, len(features))
        width = round(median_relative * len(features))
        for name, direction in (("probe", query), ("answer-ness", answer_direction)):
            clip_scores = cosine(features, direction)
            first, last = best_window(clip_scores, width)
            predictions[name].append(Prediction(annotation.qid, (
                Candidate(annotation.video_id, float(starts[first]), float(ends[last]), 1.0),)))
            value = auc(clip_scores, inside)
            if value is not None:
                aucs[name].append(value)
    results = {}
    for name, preds in predictions.items():
        report = score(preds, test, task="localization", bootstrap=1000, seed=0)
        results[name] = {"loc_mIoU": report.metrics["loc_mIoU"], "loc_mIoU_ci": list(report.ci["loc_mIoU"]),
                         "R1_IoU0.5": report.metrics["R1_IoU0.5"],
                         "clip_auc_mean": float(np.mean(aucs[name])), "auc_questions": len(aucs[name])}
    return {"data_dir": str(data_dir), "fingerprint": bench.fingerprint, "test_questions": len(test.annotations),
            "train_questions": len(train.annotations), "words_with_centroid": len(centroids),
            "test_questions_without_known_word": unknown, "median_relative_answer_length": median_relative,
            "max_clips": MAX_CLIPS, "results": results, "seconds": round(time.perf_counter() - began, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="data folder (CCGS layout with features/I3D)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    result = run_probe(args.data)
    result["command"] = "python tools/visual_probe.py " + " ".join(sys.argv[1:])
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
