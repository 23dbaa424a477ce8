"""Loading the pre-trained encoder and its tokenizer by name or local path (random-init ones for tests are
built by :mod:`benchmark.random_encoder` and load the same way)."""

from __future__ import annotations

from collections.abc import Iterable

from baselines.dense import resolve_model
from benchmark.errors import ConfigError


def load_encoder(name_or_path: str, extra_tokens: Iterable[str] = ()):
    """(tokenizer, encoder) from the Hugging Face hub or a local folder (``all-MiniLM-L6-v2``: the bundled
    offline copy, :func:`baselines.dense.resolve_model`); ``extra_tokens`` are added to the vocabulary (the
    paper adds ``[Music]``) and the embeddings resized when they are new."""
    from transformers import AutoModel, AutoTokenizer

    name_or_path = resolve_model(name_or_path)

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        encoder = AutoModel.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot load the encoder '{name_or_path}' (a Hugging Face name or a local folder "
                          f"with config, weights and tokenizer): {error}") from error
    if tokenizer.add_tokens(list(extra_tokens)):
        encoder.resize_token_embeddings(len(tokenizer))
    return tokenizer, encoder


def max_positions(encoder) -> int | None:
    """The longest input the encoder accepts, or None when it has no absolute position limit."""
    config = encoder.config
    if getattr(config, "position_biased_input", True) is False:  # DeBERTa-v2/v3: relative positions only
        return None
    return getattr(config, "max_position_embeddings", None)
