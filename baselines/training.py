"""Helpers shared by the learned localizers: gold units, model selection on validation, quiet logging."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from benchmark.errors import ConfigError
from benchmark.records import Annotation, Prediction, SplitData, Video


def gold_units(unit_starts: np.ndarray, unit_ends: np.ndarray, start: float, end: float) -> tuple[int, int]:
    """The first and last unit (subtitle piece or clip) of a gold span: the first unit that ends after the
    answer starts, and the last that starts before it ends (never before the first)."""
    count = len(unit_starts)
    first = int(np.searchsorted(unit_ends, start, side="right"))
    last = int(np.searchsorted(unit_starts, end, side="left")) - 1
    first = min(max(first, 0), count - 1)
    last = min(max(last, first), count - 1)
    return first, last


def selection_score(localizer, annotations: Sequence[Annotation], videos: Mapping[str, Video], metric: str) -> float:
    """The protocol's selection ``metric`` for a localizer's spans on validation questions, each in its gold
    video (the localization track), as the scorer computes it: ``R1_mIoU`` is the mean IoU of the first
    span, in percent."""
    from benchmark.scoring import score

    candidates = localizer.localize([a.localization_query for a in annotations], videos, 10)
    predictions = [Prediction(a.qid, tuple(c)) for a, c in zip(annotations, candidates, strict=True)]
    metrics = score(predictions, SplitData("selection", tuple(annotations), dict(videos)), task="localization",
                    bootstrap=0).metrics
    if metric not in metrics:
        raise ConfigError(f"unknown selection metric '{metric}' for a localizer (localization track); expected "
                          f"one of {', '.join(sorted(metrics))}")
    return metrics[metric]


class BestState:
    """Keeps a copy of the model weights with the best validation score seen so far."""

    def __init__(self) -> None:
        self.score = -np.inf
        self.epoch = -1
        self.state: dict | None = None

    def offer(self, score: float, epoch: int, state_dict: Callable[[], dict]) -> None:
        if score > self.score:
            self.score, self.epoch, self.state = score, epoch, copy.deepcopy(state_dict())


def quiet_transformers() -> None:
    """No progress bars or load reports from transformers inside the benchmark's output."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
