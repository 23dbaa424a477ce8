"""Shared helpers of the CCGS tests: a tiny random-init DeBERTa-v2 encoder with a sentencepiece tokenizer
trained on the synthetic data's own text, built once per test process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from benchmark.data import load_benchmark
from benchmark.random_encoder import build_random_encoder


@lru_cache(maxsize=4)
def tiny_encoder(data_dir: Path) -> Path:
    benchmark = load_benchmark(data_dir)
    texts = [piece.text for video in benchmark.videos.values() for piece in video.pieces]
    texts += [annotation.text for annotation in benchmark.split("train").annotations]
    return build_random_encoder(Path(data_dir).parent / "ccgs-tiny-encoder", texts, "tiny", vocab_size=1000)
