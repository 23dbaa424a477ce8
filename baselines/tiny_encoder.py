"""A tiny random-init BERT encoder with a WordPiece tokenizer trained on the given texts: what the tests and
the fast catalog configs use where no pretrained encoder can be downloaded. Saved folders load back with
``from_pretrained(path)`` like any Hugging Face model."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> PreTrainedTokenizerFast:
    """A lower-casing BERT-style WordPiece tokenizer trained on ``texts``."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def tiny_encoder(texts: Iterable[str], hidden_size: int = 64, layers: int = 2, heads: int = 2,
                 vocab_size: int = 2000, max_positions: int = 512, seed: int = 0
                 ) -> tuple[BertModel, PreTrainedTokenizerFast]:
    """A randomly initialised BERT of the given size and a tokenizer trained on ``texts``."""
    import torch

    tokenizer = train_wordpiece_tokenizer(texts, vocab_size)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=hidden_size * 4,
                        max_position_embeddings=max_positions, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    return BertModel(config), tokenizer


def save_tiny_encoder(texts: Iterable[str], out_dir: str | Path, **sizes) -> Path:
    """Write a tiny encoder and its tokenizer to ``out_dir`` (loadable with ``AutoModel.from_pretrained``)."""
    model, tokenizer = tiny_encoder(texts, **sizes)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
