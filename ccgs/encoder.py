"""Loading the pre-trained encoder and its tokenizer by name or local path, and building random-init ones.

``build_random_encoder`` trains a sentencepiece tokenizer on local text and saves a random-init DeBERTa-v2
encoder of the tiny or the base (DeBERTa-v3-base) shape to a folder; everything else loads that folder
with the same ``from_pretrained`` code as a real checkpoint. No network is needed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from benchmark.errors import ConfigError

SHAPES = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                 max_position_embeddings=512),
    # microsoft/deberta-v3-base: 12 layers, hidden 768, 12 heads, relative positions (position buckets 256).
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 max_position_embeddings=512),
}


def load_encoder(name_or_path: str, extra_tokens: Iterable[str] = ()):
    """(tokenizer, encoder) from the Hugging Face hub or a local folder; ``extra_tokens`` are added to the
    vocabulary (the paper adds ``[Music]``) and the embeddings resized when they are new."""
    from transformers import AutoModel, AutoTokenizer

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


def build_random_encoder(out_dir: str | Path, texts: Iterable[str], shape: str = "tiny", vocab_size: int = 2000,
                         seed: int = 0) -> Path:
    """Write a random-init DeBERTa-v2 encoder and a locally trained sentencepiece tokenizer to ``out_dir``."""
    import sentencepiece as spm
    import torch
    from transformers import DebertaV2Config, DebertaV2Model, DebertaV2Tokenizer

    if shape not in SHAPES:
        raise ConfigError(f"unknown encoder shape '{shape}', expected one of {sorted(SHAPES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(texts)), model_prefix=str(Path(scratch) / "spm"), vocab_size=vocab_size,
            model_type="unigram", hard_vocab_limit=False, minloglevel=2,
            pad_id=0, bos_id=1, eos_id=2, unk_id=3,
            pad_piece="[PAD]", bos_piece="[CLS]", eos_piece="[SEP]", unk_piece="[UNK]",
            user_defined_symbols=["[MASK]"],
        )
        # transformers 5: from a folder holding spm.model (passing vocab_file= yields a 7-token vocabulary)
        tokenizer = DebertaV2Tokenizer.from_pretrained(scratch)
    tokenizer.save_pretrained(out)
    config = DebertaV2Config(
        vocab_size=len(tokenizer), relative_attention=True, position_buckets=256, max_relative_positions=-1,
        position_biased_input=False, pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm",
        share_att_key=True, hidden_act="gelu", pad_token_id=0, **SHAPES[shape],
    )
    torch.manual_seed(seed)
    DebertaV2Model(config).save_pretrained(out)
    return out
