"""CCGS systems by name, for the harness (``vcval run ccgs``): each factory takes a config mapping.

Keys: ``preset`` (paper | improved | tiny, default improved), ``encoder`` (name or local folder, to train)
or ``checkpoint`` (a trained ``OUT/best`` folder, to load), ``out_dir``, ``resume``, ``device``,
``progress``, ``retriever`` (a :class:`benchmark.systems.Retriever` object, or ``"bm25"``) with
``top_k_videos`` for the two-stage mode, and any field of :class:`ccgs.config.CCGSConfig`. Unknown keys
raise :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from benchmark.errors import ConfigError
from benchmark.systems import Retriever, System
from ccgs.config import preset
from ccgs.system import CCGSSystem

SystemFactory = Callable[[Mapping[str, Any]], System]

SYSTEM_KEYS = ("preset", "encoder", "checkpoint", "out_dir", "resume", "device", "progress", "retriever")


def resolve_retriever(value: Any) -> Retriever | None:
    if value is None or isinstance(value, Retriever):
        return value
    if value == "bm25":
        from baselines.bm25 import BM25Retriever

        return BM25Retriever()
    raise ConfigError(f"retriever must be a Retriever object or 'bm25', got {value!r}")


def ccgs_system(config: Mapping[str, Any]) -> CCGSSystem:
    """CCGS, preset improved: encoder over question + subtitle pieces, visual fusion, global-span head"""
    config = dict(config or {})
    system_options = {key: config.pop(key) for key in SYSTEM_KEYS if key in config}
    retriever = resolve_retriever(system_options.pop("retriever", None))
    if retriever is not None and "top_k_videos" not in config:
        config["top_k_videos"] = 10
    settings = preset(system_options.pop("preset", "improved"), **config)
    return CCGSSystem(settings, retriever=retriever, **system_options)


def ccgs_paper_system(config: Mapping[str, Any]) -> CCGSSystem:
    """CCGS as the authors' code runs it (preset paper)"""
    return ccgs_system({"preset": "paper", **dict(config or {})})


SYSTEMS: dict[str, SystemFactory] = {
    "ccgs": ccgs_system,
    "ccgs-paper": ccgs_paper_system,
}
