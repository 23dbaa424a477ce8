"""Random-init encoders for offline tests, demos and GPU checks.

``build_random_encoder`` trains a sentencepiece tokenizer on local text and saves it with a random-init
DeBERTa-v2 encoder (the tiny shape, or the shape of microsoft/deberta-v3-base) to a folder; every model of
the project then loads that folder with the same ``from_pretrained`` code as a real checkpoint. No network
is needed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from benchmark.errors import ConfigError

SHAPES = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                 max_position_embeddings=512, position_buckets=256),
    # microsoft/deberta-v3-base: 12 layers, hidden 768, 12 heads, relative positions (position buckets 256).
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 max_position_embeddings=512, position_buckets=256),
}


def build_random_encoder(out_dir: str | Path, texts: Iterable[str], shape: str = "tiny", vocab_size: int = 2000,
                         seed: int = 0, **sizes: int) -> Path:
    """Write a random-init DeBERTa-v2 encoder and a sentencepiece tokenizer trained on ``texts`` to
    ``out_dir`` and return it. ``sizes`` overrides fields of the shape (``hidden_size``,
    ``num_hidden_layers``, ``num_attention_heads``, ``intermediate_size``, ``max_position_embeddings``,
    ``position_buckets``: relative distances are bucketed into 2 x this many; fewer buckets make the
    disentangled attention, most of a tiny encoder's time, cheaper)."""
    import sentencepiece as spm
    import torch
    from transformers import DebertaV2Config, DebertaV2Model, DebertaV2Tokenizer

    if shape not in SHAPES:
        raise ConfigError(f"unknown encoder shape '{shape}', expected one of {sorted(SHAPES)}")
    unknown = sorted(set(sizes) - set(SHAPES[shape]))
    if unknown:
        raise ConfigError(f"unknown encoder size field(s) {unknown}; known: {sorted(SHAPES[shape])}")
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
        vocab_size=len(tokenizer), relative_attention=True, max_relative_positions=-1,
        position_biased_input=False, pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm",
        share_att_key=True, hidden_act="gelu", pad_token_id=0, **{**SHAPES[shape], **sizes},
    )
    torch.manual_seed(seed)
    DebertaV2Model(config).save_pretrained(out)
    return out
