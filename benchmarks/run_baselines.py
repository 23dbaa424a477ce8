"""Run baseline systems on one data set and score them with 95% bootstrap intervals: the acceptance figures
of the baselines (docs/baselines.md).

    python benchmarks/run_baselines.py --data ../shared/data/tutorialvqa --out results/tutorialvqa.json
    python benchmarks/run_baselines.py --synthetic mini --systems random bm25 bm25+window oracle+window
    python benchmarks/run_baselines.py --synthetic full --systems random bm25 --set bm25.k1=0.9
    python benchmarks/run_baselines.py --table benchmarks/results/baselines_tutorialvqa.jsonl

Each system is fitted on train (selected on validation) and predicts every question of --split; corpus
systems search ``benchmark.corpus(split, --corpus)``, oracle systems get the gold video (localization track).
Results (metrics, intervals, config, seconds) are appended to --out as JSON and printed as a table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from baselines.catalog import SYSTEMS
from baselines.run import run_system
from benchmark.data import load_benchmark
from benchmark.data.synthetic import generate
from benchmark.scoring import score

HEADLINE = ("video_R1", "video_R10", "video_MRR", "R1_IoU0.5", "R10_IoU0.5", "R1_mIoU", "loc_mIoU")


def parse_settings(items: list[str]) -> dict[str, dict[str, str]]:
    """``SYSTEM:key=value`` applies to one system, ``key=value`` to every system that has the key."""
    settings: dict[str, dict[str, str]] = {}
    for item in items:
        target, _, assignment = item.rpartition(":") if ":" in item.split("=")[0] else ("*", "", item)
        key, _, value = assignment.partition("=")
        settings.setdefault(target, {})[key] = value
    return settings


def config_for(name: str, settings: dict[str, dict[str, str]]) -> dict[str, str]:
    config = dict(settings.get(name, {}))
    for key, value in settings.get("*", {}).items():
        try:
            SYSTEMS[name]({key: value})
        except Exception:  # noqa: BLE001 - the key is not one of this system's options: skip it
            continue
        config.setdefault(key, value)
    return config


def render(rows: list[dict]) -> str:
    lines = ["| system | track | " + " | ".join(HEADLINE) + " | seconds |",
             "|---" * (len(HEADLINE) + 3) + "|"]
    for row in rows:
        cells = []
        for key in HEADLINE:
            if key in row["metrics"]:
                low, high = row["ci"][key]
                cells.append(f"{row['metrics'][key]:.2f} [{low:.2f}, {high:.2f}]")
            else:
                cells.append("–")
        lines.append(f"| {row['system']} | {row['track']} | " + " | ".join(cells) + f" | {row['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="data folder")
    source.add_argument("--synthetic", choices=("tiny", "mini", "full"), help="generate this synthetic size")
    source.add_argument("--table", type=Path, help="only print the table of a results file written by --out")
    parser.add_argument("--systems", nargs="+", default=sorted(SYSTEMS))
    parser.add_argument("--split", default="test")
    parser.add_argument("--corpus", default="split", help="split, full or split+N")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        help="option for the systems: key=value (all systems having it) or SYSTEM:key=value")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--max-candidates", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file the results are appended to")
    args = parser.parse_args()
    if args.table:
        rows = [json.loads(line) for line in args.table.read_text(encoding="utf-8").splitlines() if line.strip()]
        print(render(rows))
        return
    torch.set_num_threads(args.threads)
    settings = parse_settings(args.settings)
    with tempfile.TemporaryDirectory() as scratch:
        # Always with features: the generator's text depends on whether it also draws features.
        data_dir = args.data or generate(Path(scratch) / args.synthetic, args.synthetic, seed=0, features=True)
        benchmark = load_benchmark(data_dir)
        split = benchmark.split(args.split)
        rows = []
        for name in args.systems:
            config = config_for(name, settings)
            track = SYSTEMS[name].tracks[0]
            started = time.perf_counter()
            predictions = run_system(name, benchmark, args.split, config, corpus=args.corpus, track=track,
                                     max_candidates=args.max_candidates)
            seconds = time.perf_counter() - started
            report = score(predictions, split, task=track, bootstrap=args.bootstrap, seed=0)
            row = {"data": benchmark.name if args.data else f"synthetic-{args.synthetic}",
                   "fingerprint": benchmark.fingerprint, "split": args.split, "corpus": args.corpus,
                   "corpus_videos": len(benchmark.corpus(args.split, args.corpus)), "questions": len(predictions),
                   "system": name, "track": track, "config": config, "seconds": seconds,
                   "metrics": {k: v for k, v in report.metrics.items() if k in HEADLINE},
                   "ci": {k: v for k, v in report.ci.items() if k in HEADLINE}}
            rows.append(row)
            print(render([row]).splitlines()[-1], flush=True)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with args.out.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
    print()
    print(render(rows))


if __name__ == "__main__":
    main()
