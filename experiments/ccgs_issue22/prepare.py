"""Data and encoder of the issue-22 CCGS ablations (run from the repository root):

    python experiments/ccgs_issue22/prepare.py        # writes runs/issue22/mini and runs/issue22/tiny-encoder

Synthetic ``mini`` (seed 0, with features) and a random-init tiny DeBERTa-v2 whose sentencepiece tokenizer is
trained on the train split's text (the tests' and the demo's fallback encoder, ``tests/ccgs_support.py``).
Both are deterministic, so the grids' cells can be re-run anywhere.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.data import load_benchmark
from benchmark.data.synthetic import generate
from benchmark.random_encoder import build_random_encoder

ROOT = Path("runs/issue22")


def main() -> None:
    data = ROOT / "mini"
    if not (data / "text").is_dir():
        generate(data, "mini", seed=0)
    encoder = ROOT / "tiny-encoder"
    if not (encoder / "config.json").is_file():
        benchmark = load_benchmark(data)
        texts = [piece.text for video in benchmark.videos.values() for piece in video.pieces]
        texts += [annotation.text for annotation in benchmark.split("train").annotations]
        build_random_encoder(encoder, texts, "tiny", vocab_size=1000)
    print(f"data {data}, encoder {encoder}")


if __name__ == "__main__":
    main()
