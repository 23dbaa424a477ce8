"""Diagnosis of the visual localizer (issue 12): train it on a data set's train split and print, per epoch,
the train loss, the validation R1_mIoU its epoch selection uses, and (with highlighting) the ROC AUC of its
per-clip highlight logits for answer against non-answer clips of the gold video, averaged over validation
questions: the same separability measure as tools/visual_probe.py. Validation only: no test answers.

    OMP_NUM_THREADS=1 python tools/visual_diagnose.py /tmp/full0 epochs=4 [key=value ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from visual_probe import auc  # noqa: E402

import baselines.visual as visual  # noqa: E402
from baselines.options import VisualOptions  # noqa: E402
from benchmark.data import load_benchmark  # noqa: E402
from benchmark.options import read_options  # noqa: E402
from benchmark.systems import TrainingData  # noqa: E402


def highlight_auc(localizer: visual.VisualLocalizer, annotations, videos) -> float:
    values = []
    localizer.model.eval()
    with torch.inference_mode():
        for annotation in annotations:
            word_ids, features, (first, last) = localizer._example(annotation, videos)
            _, _, highlight = localizer.model(*localizer._batch([word_ids], [features]))
            if highlight is None:
                return float("nan")
            inside = np.zeros(len(features), dtype=bool)
            inside[first:last + 1] = True
            value = auc(highlight[0].numpy(), inside)
            if value is not None:
                values.append(value)
    return float(np.mean(values))


def main() -> None:
    torch.set_num_threads(1)
    data, overrides = sys.argv[1], dict(arg.split("=", 1) for arg in sys.argv[2:])
    bench = load_benchmark(data)
    options = read_options(VisualOptions, {"max_clips": 768, **overrides}, where="visual_diagnose")
    localizer = visual.VisualLocalizer(options)
    validation = bench.split("validation")
    selection_score = visual.selection_score

    def score_and_auc(model, annotations, videos, metric):  # called once per epoch by fit
        print(f"  validation highlight clip AUC {highlight_auc(model, annotations, videos):.3f}", file=sys.stderr,
              flush=True)
        return selection_score(model, annotations, videos, metric)

    visual.selection_score = score_and_auc
    began = time.perf_counter()
    localizer.fit(TrainingData(bench.split("train"), validation))
    print(f"best epoch {localizer.best_epoch + 1}, validation {localizer.validation_score:.2f}, "
          f"{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
