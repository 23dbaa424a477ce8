"""``run_system``: fit a named baseline on train (selecting on validation) and predict one split, for
notebooks and the measurement scripts. The harness (``vcval run``) does the same with tracking."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baselines.catalog import SYSTEMS
from benchmark.data import canonical_split
from benchmark.data.loader import Benchmark
from benchmark.errors import ConfigError
from benchmark.records import Prediction
from benchmark.systems import System, TrainingData


def training_data(benchmark: Benchmark, split: str) -> TrainingData:
    """Train, plus validation for model selection, unless validation is the split being predicted: then
    selection falls back to train, so that no answer of the predicted split is ever seen."""
    split = canonical_split(split)
    if split == "train":
        raise ConfigError("cannot predict the train split: systems are trained on it")
    train = benchmark.split("train")
    return TrainingData(train, train if split == "validation" else benchmark.split("validation"))


def build_system(name: str, config: Mapping[str, Any] | None = None) -> System:
    if name not in SYSTEMS:
        raise ConfigError(f"unknown system '{name}'; the baselines are: {', '.join(sorted(SYSTEMS))}")
    return SYSTEMS[name](config)


def run_system(name: str, benchmark: Benchmark, split: str = "test", config: Mapping[str, Any] | None = None,
               corpus: str = "split", track: str | None = None, max_candidates: int = 10) -> list[Prediction]:
    """Fit the system ``name`` and predict every question of ``split``.

    ``track``: 'corpus' (questions only, searched over ``benchmark.corpus(split, corpus)``) or 'localization'
    (each question with its gold video); default: the first track the system supports."""
    factory = SYSTEMS.get(name)
    if factory is None:
        raise ConfigError(f"unknown system '{name}'; the baselines are: {', '.join(sorted(SYSTEMS))}")
    track = track or factory.tracks[0]
    if track not in factory.tracks:
        raise ConfigError(f"system '{name}' runs on the {' and '.join(factory.tracks)} track, not '{track}'")
    system = factory(config)
    system.fit(training_data(benchmark, split))
    evaluated = benchmark.split(split)
    videos = benchmark.corpus(split, corpus)
    if track == "corpus":
        return system.predict(list(evaluated.questions), videos, max_candidates)
    queries = [a.localization_query for a in evaluated.annotations]
    return system.predict_localization(queries, videos, max_candidates)
