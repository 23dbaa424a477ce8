"""``run_system``: fit a named baseline and predict one split in memory, for notebooks and the
measurement scripts. What the system is handed comes from the harness's own rule
(:func:`benchmark.harness.isolation.system_inputs`), so it sees exactly what ``vcval run`` would give it;
``vcval run`` adds scoring, files and tracking."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baselines.catalog import SYSTEMS
from benchmark.data import canonical_split
from benchmark.data.loader import Benchmark
from benchmark.errors import ConfigError
from benchmark.harness.isolation import system_inputs
from benchmark.protocol import load_protocol
from benchmark.records import LocalizationQuery, Prediction, Question
from benchmark.systems import TrainingData


def training_data(benchmark: Benchmark, split: str) -> TrainingData:
    """Train, plus a selection split that never holds the answers of ``split`` (see the harness); the
    protocol refuses ``train`` as the predicted split."""
    return system_inputs(benchmark, load_protocol(None).replace(split=canonical_split(split))).training


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
    protocol = load_protocol(None).replace(split=canonical_split(split), task=track, corpus=corpus,
                                           max_candidates=max_candidates)
    inputs = system_inputs(benchmark, protocol)
    system = factory(config)
    system.fit(inputs.training)
    if track == "corpus":
        return system.predict([q for q in inputs.queries if isinstance(q, Question)], inputs.corpus,
                              max_candidates)
    return system.predict_localization([q for q in inputs.queries if isinstance(q, LocalizationQuery)],
                                       inputs.corpus, max_candidates)
