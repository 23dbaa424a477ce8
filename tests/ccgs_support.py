"""Shared helpers of the CCGS tests: a tiny random-init DeBERTa-v2 encoder with a sentencepiece tokenizer
trained on the synthetic data's own text, built once per test process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from benchmark.data import load_benchmark
from benchmark.random_encoder import build_random_encoder


@lru_cache(maxsize=4)
def tiny_encoder(data_dir: Path) -> Path:
    benchmark = load_benchmark(data_dir)
    texts = [piece.text for video in benchmark.videos.values() for piece in video.pieces]
    texts += [annotation.text for annotation in benchmark.split("train").annotations]
    return build_random_encoder(Path(data_dir).parent / "ccgs-tiny-encoder", texts, "tiny", vocab_size=1000)


class LookupEncoder(nn.Module):
    """Token id -> a fixed vector: a transparent stand-in for a transformer."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.config = type("Config", (), {"hidden_size": table.shape[1]})()
        self.table = nn.Embedding.from_pretrained(table)

    def forward(self, input_ids, attention_mask):
        return type("Output", (), {"last_hidden_state": self.table(input_ids)})()


class WordTokenizer:
    """Each word is one token (id = its length + 10), [CLS] 1, [SEP] 2, padding 0: hand-computable inputs."""

    cls_token_id, sep_token_id, pad_token_id = 1, 2, 0

    def __call__(self, text, add_special_tokens=False):
        if isinstance(text, list):
            return {"input_ids": [[len(w) + 10 for w in t.split()] for t in text]}
        return {"input_ids": [len(w) + 10 for w in text.split()]}
