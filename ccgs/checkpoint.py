"""A trained CCGS model on disk: ``model.safetensors`` (every weight, the encoder's included),
``ccgs_config.json`` and ``encoder/`` (the encoder's config and tokenizer, no weights)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from benchmark.errors import ConfigError
from ccgs.config import CCGSConfig
from ccgs.model import CCGSModel

CONFIG_FILE = "ccgs_config.json"
WEIGHTS_FILE = "model.safetensors"
SAVED_BEFORE_SETTINGS = {"optimizer": "torch", "schedule_length": "trained_questions", "clip_resampling": "every_clip",
                         "span_head_precision": "fp32"}
"""What a model saved before these settings existed was trained with (their defaults are now the authors')."""


def save_trained(folder: Path, model: CCGSModel, config: CCGSConfig,
                 save_encoder_files: Callable[[Path], None]) -> None:
    from safetensors.torch import save_model

    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, str(folder / WEIGHTS_FILE))
    (folder / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    save_encoder_files(folder / "encoder")


def load_trained(folder: str | Path, device: str = "cpu"):
    """(tokenizer, model, config) of a folder written by :func:`save_trained` (``OUT/best`` of a run)."""
    from safetensors.torch import load_model
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = Path(folder)
    if not (folder / CONFIG_FILE).exists() or not (folder / WEIGHTS_FILE).exists():
        raise ConfigError(f"{folder} is not a trained CCGS model (expected {CONFIG_FILE} and {WEIGHTS_FILE}; "
                          "pass the 'best' folder of a training run)")
    saved = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    config = CCGSConfig.from_dict({**SAVED_BEFORE_SETTINGS, **saved}, where=str(folder / CONFIG_FILE))
    tokenizer = AutoTokenizer.from_pretrained(folder / "encoder")
    encoder = AutoModel.from_config(AutoConfig.from_pretrained(folder / "encoder"))
    model = CCGSModel(encoder, config)
    load_model(model, str(folder / WEIGHTS_FILE), device=device)
    return tokenizer, model.to(device), config
