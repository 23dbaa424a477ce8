"""CCGS acceptance on synthetic data (CPU): the tiny preset trained on synthetic ``mini`` with and without
the visual channel, against the random localizer (``bm25+random``, ``random``), test metrics with 95%
bootstrap intervals.

    python benchmarks/ccgs_acceptance.py --out /tmp/ccgs-acceptance --epochs 3

Writes OUT/acceptance.json and prints a table. Synthetic numbers are not MedVidCQA results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.run import run_system  # noqa: E402
from benchmark.data import load_benchmark  # noqa: E402
from benchmark.data.synthetic import generate  # noqa: E402
from benchmark.scoring import score  # noqa: E402
from benchmark.systems import TrainingData  # noqa: E402
from ccgs.config import preset  # noqa: E402
from ccgs.encoder import build_random_encoder  # noqa: E402
from ccgs.system import CCGSSystem  # noqa: E402

KEYS = ("video_R1", "R1_IoU0.5", "R1_mIoU", "R5_IoU0.5", "loc_mIoU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="mini", choices=("tiny", "mini"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--variants", default="visual,no-visual")
    parser.add_argument("--encoder-lr", type=float, default=1e-3)
    parser.add_argument("--head-lr", type=float, default=3e-3)
    args = parser.parse_args()
    data_dir = generate(args.out / f"synthetic-{args.size}", args.size, seed=0)
    benchmark = load_benchmark(data_dir)
    texts = [p.text for v in benchmark.videos.values() for p in v.pieces]
    texts += [a.text for a in benchmark.split("train").annotations]
    encoder = build_random_encoder(args.out / "encoder", texts, "tiny", vocab_size=2000)
    test = benchmark.split("test")
    corpus = benchmark.corpus("test")
    results: dict[str, dict] = {}

    def record(name: str, predictions, seconds: float) -> None:
        report = score(predictions, test, bootstrap=1000, seed=0)
        results[name] = {"metrics": {k: round(report.metrics[k], 2) for k in KEYS},
                         "ci": {k: [round(v, 2) for v in report.ci[k]] for k in KEYS}, "seconds": round(seconds, 1)}
        print(name, json.dumps(results[name]), flush=True)

    for name in ("bm25+random", "random"):
        started = time.perf_counter()
        record(name, run_system(name, benchmark, "test", max_candidates=100), time.perf_counter() - started)
    for variant in args.variants.split(","):
        config = preset("tiny", epochs=args.epochs, max_len=args.max_len, max_val_questions=10,
                        encoder_lr=args.encoder_lr, head_lr=args.head_lr, visual=variant != "no-visual")
        started = time.perf_counter()
        system = CCGSSystem(config, encoder=str(encoder), out_dir=args.out / f"ccgs-{variant}")
        system.fit(TrainingData(benchmark.split("train"), benchmark.split("val")))
        predictions = system.predict(test.questions, corpus, 100)
        record(f"ccgs tiny ({variant})", predictions, time.perf_counter() - started)
        results[f"ccgs tiny ({variant})"]["history"] = [vars(r) for r in system.training_state.history]
    (args.out / "acceptance.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\n| system | {' | '.join(KEYS)} |\n|---|{'---|' * len(KEYS)}")
    for name, result in results.items():
        cells = [f"{result['metrics'][k]:.1f} [{result['ci'][k][0]:.1f}, {result['ci'][k][1]:.1f}]" for k in KEYS]
        print(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
