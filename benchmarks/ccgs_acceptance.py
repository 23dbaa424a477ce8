"""CCGS acceptance on synthetic data (CPU): the tiny preset trained on synthetic ``mini`` with and without
the visual channel, against the random localizer (``random`` and ``bm25+random`` on the corpus track,
``oracle+random`` on the localization track) and the train-prior span (``oracle+prior``); test metrics with
95% bootstrap intervals. The epoch is selected on validation R1_mIoU of the localization track.

    python benchmarks/ccgs_acceptance.py --out /tmp/ccgs-acceptance --epochs 12

Writes OUT/acceptance.json and prints a table. Synthetic numbers are not MedVidCQA results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.comparison import compare  # noqa: E402
from benchmark.data import load_benchmark  # noqa: E402
from benchmark.data.synthetic import generate  # noqa: E402
from benchmark.harness import run_system  # noqa: E402
from benchmark.predictions import read_predictions  # noqa: E402
from benchmark.protocol import load_protocol  # noqa: E402
from benchmark.random_encoder import build_random_encoder  # noqa: E402
from benchmark.scoring import score  # noqa: E402
from benchmark.systems import TrainingData  # noqa: E402
from ccgs.config import preset  # noqa: E402
from ccgs.system import CCGSSystem  # noqa: E402

CORPUS_KEYS = ("video_R1", "R1_IoU0.5", "R1_mIoU", "R5_IoU0.5")
LOCALIZATION_KEYS = ("R1_IoU0.5", "R1_mIoU", "R5_IoU0.5")
"""Localization quality is read on the localization track (gold video given): the corpus track's
``loc_mIoU`` counts 0 when none of the 100 candidates lies in the gold video, which happens to a system
that ranks many spans per video (CCGS) but never to one span per video (the baselines)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="mini", choices=("tiny", "mini"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--variants", default="visual,no-visual",
                        help="comma-separated: visual, no-visual")
    parser.add_argument("--encoder-lr", type=float, default=1e-3)
    parser.add_argument("--head-lr", type=float, default=3e-3)
    parser.add_argument("--max-val-questions", type=int, default=40)
    parser.add_argument("--selection-track", default="localization", choices=("corpus", "localization"))
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--encoder", default=None,
                        help="a pre-trained encoder (name or folder) instead of the random-init tiny DeBERTa")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    unknown = set(args.variants.split(",")) - {"visual", "no-visual"}
    if unknown:
        parser.error(f"unknown variant(s) {sorted(unknown)}: use visual, no-visual")
    data_dir = generate(args.out / f"synthetic-{args.size}", args.size, seed=0)
    benchmark = load_benchmark(data_dir)
    encoder = args.encoder
    label = "ccgs tiny" if encoder is None else "ccgs pretrained"
    if encoder is None:
        texts = [p.text for v in benchmark.videos.values() for p in v.pieces]
        texts += [a.text for a in benchmark.split("train").annotations]
        encoder = build_random_encoder(args.out / "encoder", texts, "tiny", vocab_size=2000)
    test = benchmark.split("test")
    corpus = benchmark.corpus("test")
    results: dict[str, dict] = {}
    reports: dict[str, object] = {}

    def record(name: str, track: str, predictions, seconds: float, history=None) -> None:
        keys = CORPUS_KEYS if track == "corpus" else LOCALIZATION_KEYS
        report = reports[f"{name} [{track}]"] = score(predictions, test, task=track, bootstrap=1000, seed=0)
        results[f"{name} [{track}]"] = {
            "track": track, "metrics": {k: round(report.metrics[k], 2) for k in keys},
            "ci": {k: [round(v, 2) for v in report.ci[k]] for k in keys}, "seconds": round(seconds, 1),
            **({"history": history} if history else {})}
        print(name, track, json.dumps(results[f"{name} [{track}]"]["metrics"]), flush=True)

    for name, track in (("random", "corpus"), ("bm25+random", "corpus"), ("oracle+random", "localization"),
                        ("oracle+prior", "localization")):
        started = time.perf_counter()
        run = run_system(name, benchmark, args.out / "baselines" / name, protocol=load_protocol().replace(task=track),
                         track=False, echo=False, overwrite=True)
        record(name, track, read_predictions(run.predictions_path).predictions, time.perf_counter() - started)
    for variant in args.variants.split(","):
        config = preset("tiny", epochs=args.epochs, max_len=args.max_len, max_val_questions=args.max_val_questions,
                        selection_track=args.selection_track, selection_metric="R1_mIoU",
                        encoder_lr=args.encoder_lr, head_lr=args.head_lr, visual=variant != "no-visual")
        started = time.perf_counter()
        system = CCGSSystem(config, encoder=str(encoder), out_dir=args.out / f"ccgs-{variant}")
        system.fit(TrainingData(benchmark.split("train"), benchmark.split("val")))
        history = [vars(r) for r in system.training_state.history]
        trained = time.perf_counter()
        record(f"{label} ({variant})", "corpus", system.predict(test.questions, corpus, 100),
               time.perf_counter() - started, history)
        record(f"{label} ({variant})", "localization",
               system.predict_localization([a.localization_query for a in test.annotations], test.videos, 100),
               time.perf_counter() - trained)
    comparisons = []
    for variant in args.variants.split(","):
        for track, reference in (("corpus", "random"), ("localization", "oracle+random"),
                                 ("localization", "oracle+prior")):
            comparison = compare(reports[f"{label} ({variant}) [{track}]"], reports[f"{reference} [{track}]"],
                                 keys=["R1_mIoU"], name_a=f"{label} ({variant})", name_b=reference)
            comparisons.append({"track": track, **comparison.to_dict()})
    results["paired_tests"] = comparisons
    (args.out / "acceptance.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    keys = dict.fromkeys(CORPUS_KEYS + LOCALIZATION_KEYS)
    print(f"\n| system | track | {' | '.join(keys)} |\n|---|---|{'---|' * len(keys)}")
    for name, result in results.items():
        if name == "paired_tests":
            continue
        cells = [f"{result['metrics'][k]:.1f} [{result['ci'][k][0]:.1f}, {result['ci'][k][1]:.1f}]"
                 if k in result["metrics"] else "–" for k in keys]
        print(f"| {name.rsplit(' [', 1)[0]} | {result['track']} | {' | '.join(cells)} |")
    print("\nPaired randomization tests of R1_mIoU on the same test questions (A - B, 95% interval, p):")
    for row in comparisons:
        metric = row["metrics"]["R1_mIoU"]
        print(f"- {row['a']} vs {row['b']} ({row['track']}): {metric['difference']:+.1f} "
              f"[{metric['ci'][0]:+.1f}, {metric['ci'][1]:+.1f}], p = {metric['p_value']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
