"""CCGS fusion ablation on synthetic full (issue 12): does the visual channel reach the spans?

    python benchmarks/ccgs_fusion_ablation.py --out /tmp/ccgs-fusion --task localization
    python benchmarks/ccgs_fusion_ablation.py --out /tmp/ccgs-fusion --task corpus --settings no-visual temporal

Variants (one grid per track through `vcval ablate`'s library function, Holm-corrected paired tests
against ``no-visual``):

* ``no-visual``: text only;
* ``authors``: the authors' fusion (the L clip scores added to every boundary marker);
* ``temporal``: the temporal fusion (a span gains its clips' highlight logits), trained by the span loss only;
* ``temporal-highlight``: the same with the highlight loss (weight 1) training the branch directly;
* ``no-fusion-highlight``: the branch trained by the highlight loss but never touching the spans.

``--task localization`` gives the gold video (155 questions x their own video); ``--task corpus`` searches
the 50 test videos (the protocol medvidcqa-paper) in two-stage mode, CCGS scoring BM25's top 10 videos:
still 10 times the inference of the localization track, which is why it may run fewer variants
(``--settings``). ``--resume`` keeps the finished cells, so seeds can
be added later (``--seeds 42 43 --resume`` after ``--seeds 42``).

The data is ``vcval data synth --size full --seed 0`` (its fingerprint is recorded), the encoder a
random-init tiny DeBERTa-v2 (32 position buckets: the disentangled attention is most of a tiny encoder's
time) with a tokenizer trained on the train split's text, every cell the ``tiny`` preset on a seeded subset
of 150 train questions for one epoch: a CPU budget (on the 2-core machine shared with other work, 400
questions took 20 minutes per cell). Writes OUT/data, OUT/encoder, OUT/<task>/grid.yaml and
OUT/<task>/grid/ (ablation.md, ablation.json, ablation.png, one run folder per cell), then copies the table,
the JSON, the plot, the grid and every cell's predictions (gzipped) to benchmarks/results/ccgs_fusion/<task>/
with the commands in ``results.json``.
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
from benchmark.protocol import load_protocol
from benchmark.random_encoder import build_random_encoder

RESULTS = Path(__file__).resolve().parent / "results" / "ccgs_fusion"
DATA_SEED = 0
BASE_CONFIG = {"preset": "tiny", "epochs": 1, "max_train_examples": 150, "max_val_questions": 10,
               "selection_track": "localization"}
# The corpus track in two-stage mode: CCGS scores BM25's top 10 of the 50 test videos (a fifth of the
# inference of the whole split corpus, the same candidate videos for every variant).
TWO_STAGE = {"retriever": "bm25", "top_k_videos": 10}
SETTINGS = {
    "no-visual": {"visual": False},
    "authors": {"fusion": "authors"},
    "temporal": {"fusion": "temporal"},
    "temporal-highlight": {"fusion": "temporal", "highlight_weight": 1.0},
    "no-fusion-highlight": {"fusion": "none", "highlight_weight": 1.0},
}
METRICS = {"localization": ["loc_mIoU", "loc_R1_IoU0.5"], "corpus": ["R1_mIoU", "R1_IoU0.5", "video_R1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    parser.add_argument("--task", choices=("localization", "corpus"), required=True)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
                        help="variants to run (no-visual, the base, is always run)")
    parser.add_argument("--resume", action="store_true", help="keep the finished cells of OUT/<task>/grid")
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
    systems = {"ccgs": {**_systems_config(args.task), "encoder": str(encoder)}}
    settings = {name: SETTINGS[name] for name in SETTINGS if name == "no-visual" or name in args.settings}
    protocol = {**load_protocol("medvidcqa-paper").to_dict(), "task": args.task}
    grid = {"name": f"ccgs-fusion-{args.task}", "protocol": protocol, "seeds": args.seeds, "systems": systems,
            "settings": settings, "base": "no-visual", "metrics": METRICS[args.task]}
    folder = args.out / args.task
    folder.mkdir(parents=True, exist_ok=True)
    grid_path = folder / "grid.yaml"
    grid_path.write_text(yaml.safe_dump(grid, sort_keys=False), encoding="utf-8")
    result = run_grid(load_grid(grid_path), benchmark, folder / "grid", track=False, resume=args.resume,
                      overwrite=not args.resume)
    _publish(args, benchmark, grid, result, time.perf_counter() - started)


def _systems_config(task: str) -> dict:
    return {**BASE_CONFIG, **(TWO_STAGE if task == "corpus" else {})}


def _cells(result) -> list[tuple[str, int, object]]:
    """(setting, seed, run) in the grid's order (variants x seeds, as run_grid runs them)."""
    cells = [(variant.name.split("/", 1)[1], seed) for variant in result.grid.variants for seed in result.grid.seeds]
    return [(setting, seed, run) for (setting, seed), run in zip(cells, result.runs, strict=True)]


def _publish(args, benchmark, grid, result, seconds: float) -> None:
    results = RESULTS / args.task
    if results.exists():
        shutil.rmtree(results)
    results.mkdir(parents=True)
    out = args.out / args.task / "grid"
    for name in ("ablation.md", "ablation.json", "ablation.png"):
        shutil.copy(out / name, results / name)
    published = {**grid, "protocol": "medvidcqa-paper", "protocol_overrides": {"task": args.task}}
    published["systems"] = {"ccgs": {**_systems_config(args.task), "encoder": "OUT/encoder (random-init tiny DeBERTa-v2, "
                                                               "32 position buckets)"}}
    predictions = {}
    for setting, seed, run in _cells(result):
        name = f"{setting}-seed{seed}.jsonl.gz"
        with open(run.predictions_path, "rb") as source, gzip.GzipFile(results / name, "wb", mtime=0) as target:
            shutil.copyfileobj(source, target)
        predictions[name] = {key: run.metrics[key] for key in METRICS[args.task]}
    (results / "grid.yaml").write_text(yaml.safe_dump(published, sort_keys=False), encoding="utf-8")
    record = {
        "command": (f"python benchmarks/ccgs_fusion_ablation.py --out OUT --task {args.task} --settings "
                    f"{' '.join(grid['settings'])} --seeds {' '.join(map(str, args.seeds))}"),
        "data": {"command": f"vcval data synth --size full --seed {DATA_SEED} --out DATA",
                 "fingerprint": benchmark.fingerprint},
        "protocol_hash": result.protocol.hash,
        "code_commit": sorted({_commit(run.out_dir) for run in result.runs}),
        "rescore": (f"vcval score benchmarks/results/ccgs_fusion/{args.task}/<file>.jsonl.gz --data-dir DATA "
                    f"--split test{' --task localization' if args.task == 'localization' else ''}"),
        "predictions": predictions,
        "wall_time_s": round(seconds, 1),
        "python": sys.version.split()[0],
    }
    (results / "results.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"published to {results}")


def _commit(run_dir: Path) -> str:
    environment = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["environment"]
    return environment["git_commit"] + ("+dirty" if environment["git_dirty"] else "")


if __name__ == "__main__":
    main()
