"""The named baseline systems: ``SYSTEMS[name](config) -> System``.

Names are ``RETRIEVER+LOCALIZER`` (two-stage, see :mod:`baselines.two_stage` for the score combination),
``oracle+LOCALIZER`` (localization track only), or a single-stage name (``bm25``, ``dense``,
``bm25-passage``, ``random``). A config is a mapping of options, flat (``{"bm25.k1": 0.9}``) or nested
(``{"bm25": {"k1": 0.9}}``); an option the system does not have is a :class:`ConfigError`. The options of
each component are listed in docs/baselines.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from baselines.bm25 import BM25Retriever, PassageBM25Retriever, WindowOptions
from baselines.dense import DenseOptions, DenseRetriever
from baselines.localizers import (
    LexicalWindowLocalizer,
    LexicalWindowOptions,
    PriorLocalizer,
    PriorOptions,
    RandomLocalizer,
    RandomOptions,
    WholeVideoLocalizer,
)
from baselines.options import ConfigReader
from baselines.random_retrieval import RandomRetriever
from baselines.text import LexicalOptions
from baselines.two_stage import CombinationOptions, OracleVideoSystem, PassageBM25System, TwoStageSystem
from benchmark.systems import Localizer, Retriever, System

Config = Mapping[str, Any] | None


def _bm25(reader: ConfigReader) -> Retriever:
    return BM25Retriever(reader.options(LexicalOptions, "bm25"))


def _dense(reader: ConfigReader) -> Retriever:
    return DenseRetriever(reader.options(DenseOptions, "dense"))


def _random_retriever(reader: ConfigReader) -> Retriever:
    return RandomRetriever(reader.options(RandomOptions, "random"))


def _whole(reader: ConfigReader) -> Localizer:
    return WholeVideoLocalizer()


def _random_localizer(reader: ConfigReader) -> Localizer:
    return RandomLocalizer(reader.options(RandomOptions, "random"))


def _prior(reader: ConfigReader) -> Localizer:
    return PriorLocalizer(reader.options(PriorOptions, "prior"))


def _window(reader: ConfigReader) -> Localizer:
    return LexicalWindowLocalizer(reader.options(LexicalWindowOptions, "window"),
                                  reader.options(LexicalOptions, "window"))


def _textspan(reader: ConfigReader) -> Localizer:
    # torch and transformers are imported only when a learned localizer is built
    from baselines.textspan import TextSpanLocalizer, TextSpanOptions

    return TextSpanLocalizer(reader.options(TextSpanOptions, "textspan"))


def _visual(reader: ConfigReader) -> Localizer:
    from baselines.visual import VisualLocalizer, VisualOptions

    return VisualLocalizer(reader.options(VisualOptions, "visual"))


RETRIEVERS: dict[str, tuple[Callable[[ConfigReader], Retriever], str]] = {
    "bm25": (_bm25, "BM25 (Lucene) over each video's whole transcript"),
    "dense": (_dense, "sentence-transformers cosine, best window of subtitle pieces per video"),
    "random": (_random_retriever, "a random ranking (seeded per question)"),
}
LOCALIZERS: dict[str, tuple[Callable[[ConfigReader], Localizer], str]] = {
    "whole": (_whole, "the whole video"),
    "random": (_random_localizer, "a random span, lengths drawn from train"),
    "prior": (_prior, "the span with the best mean IoU against the train answers (relative time)"),
    "window": (_window, "the best BM25 window of subtitle pieces, window length fitted on train"),
    "textspan": (_textspan, "a transformer encoder over question + pieces with start/end heads"),
    "visual": (_visual, "VSLBase-style: question + I3D features, context-query attention, start/end heads"),
}


@dataclass(frozen=True)
class SystemFactory:
    """A named system: call it with a config mapping to get a fresh :class:`benchmark.systems.System`."""

    name: str
    description: str
    build: Callable[[ConfigReader], System]
    tracks: tuple[str, ...] = ("corpus", "localization")

    def __post_init__(self) -> None:
        object.__setattr__(self, "__doc__", self.description)  # what `vcval systems` shows

    def __call__(self, config: Config = None) -> System:
        reader = ConfigReader(config, self.name)
        system = self.build(reader)
        reader.check_all_used()
        return system


def _two_stage(name: str, retriever: str, localizer: str) -> SystemFactory:
    def build(reader: ConfigReader) -> System:
        return TwoStageSystem(name, RETRIEVERS[retriever][0](reader), LOCALIZERS[localizer][0](reader),
                              reader.options(CombinationOptions, ""))

    return SystemFactory(name, f"{RETRIEVERS[retriever][1]}; span: {LOCALIZERS[localizer][1]}", build)


def _oracle(name: str, localizer: str) -> SystemFactory:
    def build(reader: ConfigReader) -> System:
        return OracleVideoSystem(name, LOCALIZERS[localizer][0](reader))

    return SystemFactory(name, f"gold video given (localization track); span: {LOCALIZERS[localizer][1]}", build,
                         tracks=("localization",))


def _passage(reader: ConfigReader) -> System:
    return PassageBM25System("bm25-passage", PassageBM25Retriever(reader.options(LexicalOptions, "bm25"),
                                                                  reader.options(WindowOptions, "passage")))


def _catalog() -> dict[str, SystemFactory]:
    systems: dict[str, SystemFactory] = {}
    for retriever in RETRIEVERS:
        single = _two_stage(retriever, retriever, "random" if retriever == "random" else "whole")
        systems[retriever] = single
        for localizer in LOCALIZERS:
            if localizer != "whole" and retriever != "random":
                name = f"{retriever}+{localizer}"
                systems[name] = _two_stage(name, retriever, localizer)
    systems["bm25-passage"] = SystemFactory(
        "bm25-passage", "BM25 over sliding windows of subtitle pieces; a video scores as its best window, "
        "which is the span", _passage)
    for localizer in LOCALIZERS:
        systems[f"oracle+{localizer}"] = _oracle(f"oracle+{localizer}", localizer)
    return systems


SYSTEMS: dict[str, SystemFactory] = _catalog()
