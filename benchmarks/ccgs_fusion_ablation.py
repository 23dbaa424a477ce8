"""CCGS fusion ablation on synthetic full (issue 12): does the visual channel reach the spans?

    python benchmarks/ccgs_fusion_ablation.py --out /tmp/ccgs-fusion [--resume]

Variants (one grid through `vcval ablate`'s library function, 2 run seeds, Holm-corrected paired tests
against ``no-visual``):

* ``no-visual``: text only;
* ``authors``: the authors' fusion (the L clip scores added to every boundary marker);
* ``temporal``: the temporal fusion (a span gains its clips' highlight logits), trained by the span loss only;
* ``temporal-highlight``: the same with the highlight loss (weight 1) training the branch directly;
* ``no-fusion-highlight``: the branch trained by the highlight loss but never touching the spans.

Both tracks come from one run per cell: the corpus is the 50 test videos and ``spans_per_video: 2`` fills the
100 candidates with exactly two spans of every video, so each video's best span is in the list and
``loc_mIoU`` (the first candidate in the gold video) is the localization track's top-1; ``R1_mIoU`` is the
corpus track. ``--check-localization`` confirms it for one cell with a `--task localization` run of its
variant and seed.

The data is ``vcval data synth --size full --seed 0`` (its fingerprint is recorded), the encoder a random-init
tiny DeBERTa-v2 (32 position buckets: the disentangled attention is most of a tiny encoder's time) with a
tokenizer trained on the train split's text, every cell the ``tiny`` preset on a seeded subset of the train
questions for one epoch: a CPU budget (about 5 minutes per cell on one core). Writes OUT/data, OUT/encoder,
OUT/grid.yaml and OUT/grid/ (ablation.md, ablation.json, ablation.png, one run folder per cell), then copies
the table, the JSON, the plot and every cell's predictions (gzipped) to benchmarks/results/ccgs_fusion/ with
the commands in ``results.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from pathlib import Path

import yaml

from benchmark.ablation import load_grid, run_grid
from benchmark.data import load_benchmark
from benchmark.data.synthetic import generate
from benchmark.harness import run_system
from benchmark.protocol import load_protocol
from benchmark.random_encoder import build_random_encoder

RESULTS = Path(__file__).resolve().parent / "results" / "ccgs_fusion"
DATA_SEED = 0
BASE_CONFIG = {"preset": "tiny", "epochs": 1, "max_train_examples": 500, "max_val_questions": 10,
               "selection_track": "localization", "spans_per_video": 2}
SETTINGS = {
    "no-visual": {"visual": False},
    "authors": {"fusion": "authors"},
    "temporal": {"fusion": "temporal"},
    "temporal-highlight": {"fusion": "temporal", "highlight_weight": 1.0},
    "no-fusion-highlight": {"fusion": "none", "highlight_weight": 1.0},
}
METRICS = ["R1_mIoU", "loc_mIoU", "video_R1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    parser.add_argument("--resume", action="store_true", help="keep the finished cells of OUT/grid")
    parser.add_argument("--check-localization", default="temporal",
                        help="variant whose first seed is run again on the localization track ('' to skip)")
    args = parser.parse_args()
    started = time.perf_counter()
    data_dir = args.out / "data"
    if not (data_dir / "text").is_dir():
        generate(data_dir, "full", seed=DATA_SEED)
    benchmark = load_benchmark(data_dir)
    encoder = args.out / "encoder"
    if not (encoder / "config.json").is_file():
        texts = [piece.text for video in benchmark.split("train").videos.values() for piece in video.pieces]
        texts += [annotation.text for annotation in benchmark.split("train").annotations]
        build_random_encoder(encoder, texts, "tiny", vocab_size=2000, position_buckets=32)
    systems = {"ccgs": {**BASE_CONFIG, "encoder": str(encoder)}}
    grid = {"name": "ccgs-fusion", "protocol": "medvidcqa-paper", "seeds": args.seeds, "systems": systems,
            "settings": SETTINGS,
            "base": "no-visual", "metrics": METRICS}
    grid_path = args.out / "grid.yaml"
    grid_path.write_text(yaml.safe_dump(grid, sort_keys=False), encoding="utf-8")
    result = run_grid(load_grid(grid_path), benchmark, args.out / "grid", track=False, resume=args.resume,
                      overwrite=not args.resume)
    check = _check_localization(args, benchmark, result) if args.check_localization else None
    _publish(args, benchmark, grid, result, check, time.perf_counter() - started)


def _check_localization(args, benchmark, result) -> dict:
    """Train the first seed of one variant again on the localization track (gold video given): its top-1 in
    the gold video must be the corpus run's, so loc_mIoU must agree."""
    corpus_run = next(run for setting, seed, run in _cells(result)
                      if setting == args.check_localization and seed == args.seeds[0])
    variant = next(v for v in result.grid.variants if v.name == f"ccgs/{args.check_localization}")
    protocol = load_protocol("medvidcqa-paper").replace(task="localization")
    run = run_system("ccgs", benchmark, args.out / "localization-check", protocol=protocol, config=variant.config,
                     seed=corpus_run.seed, track=False, overwrite=True, echo=False)
    return {"variant": variant.name, "seed": corpus_run.seed, "corpus_run_loc_mIoU": corpus_run.metrics["loc_mIoU"],
            "localization_run_loc_mIoU": run.metrics["loc_mIoU"], "localization_protocol_hash": run.protocol.hash}


def _cells(result) -> list[tuple[str, int, object]]:
    """(setting, seed, run) in the grid's order (variants x seeds, as run_grid runs them)."""
    cells = [(variant.name.split("/", 1)[1], seed) for variant in result.grid.variants for seed in result.grid.seeds]
    return [(setting, seed, run) for (setting, seed), run in zip(cells, result.runs, strict=True)]


def _publish(args, benchmark, grid, result, check, seconds: float) -> None:
    if RESULTS.exists():
        shutil.rmtree(RESULTS)
    RESULTS.mkdir(parents=True)
    out = args.out / "grid"
    for name in ("ablation.md", "ablation.json", "ablation.png"):
        shutil.copy(out / name, RESULTS / name)
    published = dict(grid)
    published["systems"] = {"ccgs": {**BASE_CONFIG, "encoder": "OUT/encoder (random-init tiny DeBERTa-v2, "
                                                               "32 position buckets)"}}
    predictions = {}
    for setting, seed, run in _cells(result):
        name = f"{setting}-seed{seed}.jsonl.gz"
        with open(run.predictions_path, "rb") as source, gzip.open(RESULTS / name, "wb", mtime=0) as target:
            shutil.copyfileobj(source, target)
        predictions[name] = {key: run.metrics[key] for key in METRICS + ["loc_R1_IoU0.5", "R1_IoU0.5"]}
    (RESULTS / "grid.yaml").write_text(yaml.safe_dump(published, sort_keys=False), encoding="utf-8")
    record = {
        "command": f"python benchmarks/ccgs_fusion_ablation.py --out OUT --seeds {' '.join(map(str, args.seeds))}",
        "data": {"command": f"vcval data synth --size full --seed {DATA_SEED} --out DATA",
                 "fingerprint": benchmark.fingerprint},
        "protocol_hash": result.protocol.hash,
        "rescore": "vcval score benchmarks/results/ccgs_fusion/<file>.jsonl.gz --data-dir DATA --split test",
        "predictions": predictions,
        "localization_check": check,
        "wall_time_s": round(seconds, 1),
        "python": sys.version.split()[0],
    }
    (RESULTS / "results.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"published to {RESULTS}")


if __name__ == "__main__":
    main()
