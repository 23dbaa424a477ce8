"""CCGS systems by name, for the harness (``vcval run ccgs``): each factory takes a config mapping.

Keys: ``preset`` (paper | improved | tiny, default improved), ``encoder`` (name or local folder, to train)
or ``checkpoint`` (a trained ``OUT/best`` folder, to load), ``out_dir``, ``resume``, ``device``,
``progress``, ``retriever`` (a :class:`benchmark.systems.Retriever` object, or ``"bm25"``) with
``top_k_videos`` for the two-stage mode, and any field of :class:`ccgs.config.CCGSConfig`. Unknown keys
raise :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from benchmark.errors import ConfigError
from benchmark.options import protocol_keys_of, read_options
from benchmark.systems import Retriever, System
from ccgs.config import PRESETS, CCGSConfig, preset
from ccgs.system import CCGSSystem

SystemFactory = Callable[[Mapping[str, Any]], System]


@dataclass(frozen=True)
class CCGSRunOptions:
    """How CCGS runs, apart from the model and training settings of :class:`ccgs.config.CCGSConfig`."""

    preset: Literal["paper", "improved", "tiny"] = "improved"
    encoder: str | None = None
    """A Hugging Face name or local folder, to train."""
    checkpoint: Path | None = None
    """A trained ``best`` folder, to load instead of training."""
    out_dir: Path | None = None
    """Checkpoints and the best model (default: a temporary folder removed when the system is closed)."""
    resume: bool = False
    device: str | None = None
    progress: bool | None = None
    """Progress bars: ``None`` follows the run (on when stderr is a terminal and the run is not quiet)."""
    retriever: Literal["bm25"] | None = None
    """Two-stage mode: score only this retriever's ``top_k_videos`` (default 10) per question."""


SYSTEM_KEYS = tuple(field.name for field in dataclasses.fields(CCGSRunOptions))


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
    retriever = system_options.pop("retriever", None)
    if isinstance(retriever, Retriever):  # a Python caller may hand over its own retriever
        options = read_options(CCGSRunOptions, system_options, where="system 'ccgs'")
    else:
        options = read_options(CCGSRunOptions, {**system_options, "retriever": retriever}, where="system 'ccgs'")
        retriever = resolve_retriever(options.retriever)
    if retriever is not None and "top_k_videos" not in config:
        config["top_k_videos"] = 10
    settings = preset(options.preset, **config)
    return CCGSSystem(settings, retriever=retriever, encoder=options.encoder, checkpoint=options.checkpoint,
                      out_dir=options.out_dir, resume=options.resume, device=options.device,
                      progress=options.progress)


def ccgs_paper_system(config: Mapping[str, Any]) -> CCGSSystem:
    """CCGS as the authors' code runs it (preset paper)"""
    return ccgs_system({"preset": "paper", **dict(config or {})})


ccgs_system.protocol_keys = ccgs_paper_system.protocol_keys = protocol_keys_of(CCGSConfig)  # type: ignore[attr-defined]


def _preset_defaults(config: Mapping[str, Any], default: str) -> tuple[str, dict[str, Any]]:
    """The preset a config starts from, for the harness to name the settings a protocol changes in it."""
    name = config.get("preset", default)
    return f"preset {name}", PRESETS[name].to_dict() if name in PRESETS else {}


ccgs_system.config_defaults = lambda config: _preset_defaults(config, "improved")  # type: ignore[attr-defined]
ccgs_paper_system.config_defaults = lambda config: _preset_defaults(config, "paper")  # type: ignore[attr-defined]

SYSTEMS: dict[str, SystemFactory] = {
    "ccgs": ccgs_system,
    "ccgs-paper": ccgs_paper_system,
}
