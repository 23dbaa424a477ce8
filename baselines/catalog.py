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
from baselines.dense import DenseOptions, DenseRetriever, EncoderOptions, SentenceEncoder
from baselines.localizers import (
    LexicalWindowLocalizer,
    PriorLocalizer,
    PriorOptions,
    RandomLocalizer,
    RandomOptions,
    SlidingWindowOptions,
    WholeVideoLocalizer,
)
from baselines.options import TextSpanOptions, VisualOptions
from baselines.random_retrieval import RandomRetriever
from baselines.semantic import HybridOptions, HybridWindowLocalizer, SemanticWindowLocalizer
from baselines.text import LexicalOptions
from baselines.two_stage import CombinationOptions, OracleVideoSystem, PassageBM25System, TwoStageSystem
from benchmark.options import ConfigReader, protocol_keys_of
from benchmark.systems import Localizer, System

Config = Mapping[str, Any] | None


@dataclass(frozen=True)
class Component:
    """A retriever or localizer: what it is, the options it reads (class and key prefix, in the order
    ``make`` takes them), and how to make it from those options."""

    description: str
    options: tuple[tuple[type, str], ...]
    make: Callable[..., Any]

    def build(self, reader: ConfigReader) -> Any:
        return self.make(*(reader.options(cls, prefix) for cls, prefix in self.options))


def _textspan(options: TextSpanOptions) -> Localizer:
    # torch and transformers are imported only when a learned localizer is built
    from baselines.textspan import TextSpanLocalizer

    return TextSpanLocalizer(options)


def _dense(options: DenseOptions, encoder: EncoderOptions) -> DenseRetriever:
    return DenseRetriever(options, SentenceEncoder(encoder))


def _visual(options: VisualOptions) -> Localizer:
    from baselines.visual import VisualLocalizer

    return VisualLocalizer(options)


RETRIEVERS: dict[str, Component] = {
    "bm25": Component("BM25 (Lucene) over each video's whole transcript", ((LexicalOptions, "bm25"),),
                      BM25Retriever),
    "dense": Component("sentence-transformers cosine, best window of subtitle pieces per video",
                       ((DenseOptions, "dense"), (EncoderOptions, "dense")), _dense),
    "random": Component("a random ranking (seeded per question)", ((RandomOptions, "random"),), RandomRetriever),
}
LOCALIZERS: dict[str, Component] = {
    "whole": Component("the whole video", (), WholeVideoLocalizer),
    "random": Component("a random span, lengths drawn from train", ((RandomOptions, "random"),), RandomLocalizer),
    "prior": Component("the span with the best mean IoU against the train answers (relative time)",
                       ((PriorOptions, "prior"),), PriorLocalizer),
    "window": Component("the best BM25 window of subtitle pieces, window length fitted on train",
                        ((SlidingWindowOptions, "window"), (LexicalOptions, "window")), LexicalWindowLocalizer),
    "semantic": Component("the window of subtitle pieces whose mean sentence embedding is closest to the question's "
                          "(cosine, the dense encoder), window length fitted on train",
                          ((SlidingWindowOptions, "semantic"), (EncoderOptions, "semantic")), SemanticWindowLocalizer),
    "hybrid": Component("windows scored by BM25 and by embedding cosine, normalised per question and fused; window "
                        "length and weight fitted on train",
                        ((SlidingWindowOptions, "hybrid"), (HybridOptions, "hybrid"), (LexicalOptions, "hybrid"),
                         (EncoderOptions, "hybrid")), HybridWindowLocalizer),
    "textspan": Component("a transformer encoder over question + pieces with start/end heads",
                          ((TextSpanOptions, "textspan"),), _textspan),
    "visual": Component("VSLBase-style: question + I3D features, context-query attention, start/end heads",
                        ((VisualOptions, "visual"),), _visual),
}


@dataclass(frozen=True)
class SystemFactory:
    """A named system: call it with a config mapping to get a fresh :class:`benchmark.systems.System`."""

    name: str
    description: str
    build: Callable[[ConfigReader], System]
    options: tuple[tuple[type, str], ...]
    tracks: tuple[str, ...] = ("corpus", "localization")

    def __post_init__(self) -> None:
        object.__setattr__(self, "__doc__", self.description)  # what `vcval systems` shows

    def __call__(self, config: Config = None) -> System:
        reader = ConfigReader(config, self.name)
        system = self.build(reader)
        reader.check_all_used()
        return system

    @property
    def protocol_keys(self) -> dict[str, str]:
        """The options the protocol fixes, as each component's options class declares them."""
        keys: dict[str, str] = {}
        for cls, prefix in self.options:
            keys.update(protocol_keys_of(cls, f"{prefix}." if prefix else ""))
        return keys


def _two_stage(name: str, retriever: str, localizer: str) -> SystemFactory:
    first, second = RETRIEVERS[retriever], LOCALIZERS[localizer]

    def build(reader: ConfigReader) -> System:
        return TwoStageSystem(name, first.build(reader), second.build(reader), reader.options(CombinationOptions, ""))

    return SystemFactory(name, f"{first.description}; span: {second.description}", build,
                         (*first.options, *second.options, (CombinationOptions, "")))


def _oracle(name: str, localizer: str) -> SystemFactory:
    component = LOCALIZERS[localizer]

    def build(reader: ConfigReader) -> System:
        return OracleVideoSystem(name, component.build(reader))

    return SystemFactory(name, f"gold video given (localization track); span: {component.description}", build,
                         component.options, tracks=("localization",))


_PASSAGE_OPTIONS = ((LexicalOptions, "bm25"), (WindowOptions, "passage"))


def _passage(reader: ConfigReader) -> System:
    return PassageBM25System("bm25-passage", PassageBM25Retriever(*(reader.options(cls, prefix)
                                                                    for cls, prefix in _PASSAGE_OPTIONS)))


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
        "which is the span", _passage, _PASSAGE_OPTIONS)
    for localizer in LOCALIZERS:
        systems[f"oracle+{localizer}"] = _oracle(f"oracle+{localizer}", localizer)
    return systems


SYSTEMS: dict[str, SystemFactory] = _catalog()
