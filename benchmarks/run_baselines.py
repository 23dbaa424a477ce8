"""Run baseline systems through the harness on one data set: the Measured tables of docs/baselines.md.

    python benchmarks/run_baselines.py --data ../shared/data/tutorialvqa --out results/tutorialvqa.jsonl
    python benchmarks/run_baselines.py --synthetic mini --systems random bm25 bm25+window oracle+window
    python benchmarks/run_baselines.py --synthetic full --systems random bm25 --set bm25.k1=0.9
    python benchmarks/run_baselines.py --table benchmarks/results/baselines_tutorialvqa.jsonl

Each system is one ``benchmark.harness.run_system`` run under --protocol (default medvidcqa-paper, with
--split and --corpus applied): fitted on train, selected on the protocol's selection split, predicting
every question of the split once, the written file validated and scored with 95% bootstrap intervals.
Oracle systems run on the localization track (the gold video given). Each row (metrics, intervals,
config, protocol hash, seconds) is appended to --out as JSON and printed; the run folders go to --runs
(default: a temporary folder removed at the end).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.catalog import SYSTEMS  # noqa: E402
from benchmark.data import load_benchmark  # noqa: E402
from benchmark.data.synthetic import generate  # noqa: E402
from benchmark.errors import ConfigError  # noqa: E402
from benchmark.harness import run_system  # noqa: E402
from benchmark.metrics import HEADLINE_METRICS  # noqa: E402
from benchmark.options import load_yaml  # noqa: E402
from benchmark.protocol import load_protocol  # noqa: E402


def parse_settings(items: list[str]) -> dict[str, dict[str, object]]:
    """``SYSTEM:key=value`` applies to one system, ``key=value`` to every system that has the key; values
    are read as YAML scalars and typed by each system's options."""
    settings: dict[str, dict[str, object]] = {}
    for item in items:
        target, _, assignment = item.rpartition(":") if ":" in item.split("=")[0] else ("*", "", item)
        key, _, value = assignment.partition("=")
        settings.setdefault(target, {})[key] = load_yaml(value) if value.strip() else ""
    return settings


def config_for(name: str, settings: dict[str, dict[str, object]]) -> dict[str, object]:
    config = dict(settings.get(name, {}))
    for key, value in settings.get("*", {}).items():
        try:
            SYSTEMS[name]({key: value})
        except ConfigError:  # not one of this system's options: skip it
            continue
        config.setdefault(key, value)
    return config


def render(rows: list[dict]) -> str:
    lines = ["| system | track | " + " | ".join(HEADLINE_METRICS) + " | seconds | protocol |",
             "|---" * (len(HEADLINE_METRICS) + 4) + "|"]
    for row in rows:
        cells = []
        for key in HEADLINE_METRICS:
            if key in row["metrics"]:
                low, high = row["ci"][key]
                cells.append(f"{row['metrics'][key]:.2f} [{low:.2f}, {high:.2f}]")
            else:
                cells.append("–")
        protocol = f"`{row['protocol_hash'][:12]}`" if "protocol_hash" in row else "–"
        lines.append(f"| {row['system']} | {row['track']} | " + " | ".join(cells)
                     + f" | {row['seconds']:.0f} | {protocol} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="data folder")
    source.add_argument("--synthetic", choices=("tiny", "mini", "full"), help="generate this synthetic size")
    source.add_argument("--table", type=Path, help="only print the table of a results file written by --out")
    parser.add_argument("--systems", nargs="+", default=sorted(SYSTEMS))
    parser.add_argument("--protocol", default=None, help="a shipped protocol or a protocol file (default: the paper's)")
    parser.add_argument("--split", default=None, help="evaluated split (default: the protocol's)")
    parser.add_argument("--corpus", default=None, help="split, full or split+N (default: the protocol's)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        help="option for the systems: key=value (all systems having it) or SYSTEM:key=value")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    parser.add_argument("--out", type=Path, default=None, help="JSON lines file the results are appended to")
    parser.add_argument("--runs", type=Path, default=None, help="keep the run folders here (OUT/<system>/)")
    args = parser.parse_args()
    if args.table:
        rows = [json.loads(line) for line in args.table.read_text(encoding="utf-8").splitlines() if line.strip()]
        print(render(rows))
        return
    torch.set_num_threads(args.threads)
    settings = parse_settings(args.settings)
    protocol = load_protocol(args.protocol)
    if args.corpus is not None:
        protocol = protocol.replace(corpus=args.corpus)
    with tempfile.TemporaryDirectory() as scratch:
        # Always with features: the generator's text depends on whether it also draws features.
        data_dir = args.data or generate(Path(scratch) / args.synthetic, args.synthetic, seed=0, features=True)
        benchmark = load_benchmark(data_dir)
        runs = args.runs or Path(scratch) / "runs"
        rows = []
        for name in args.systems:
            config = config_for(name, settings)
            track = SYSTEMS[name].tracks[0]
            started = time.perf_counter()
            result = run_system(name, benchmark, runs / name, split=args.split, protocol=protocol.replace(task=track),
                                config=config, track=False, echo=False, overwrite=True)
            seconds = time.perf_counter() - started
            bound = result.protocol
            row = {"data": benchmark.name if args.data else f"synthetic-{args.synthetic}",
                   "fingerprint": benchmark.fingerprint, "split": bound.split, "corpus": bound.corpus,
                   "corpus_videos": len(benchmark.corpus(bound.split, bound.corpus_setting)),
                   "questions": result.n_questions, "system": name, "track": track, "config": config,
                   "seed": result.seed, "protocol": bound.name, "protocol_hash": bound.hash,
                   "deviations": result.deviations, "seconds": seconds,
                   "metrics": {k: v for k, v in result.metrics.items() if k in HEADLINE_METRICS},
                   "ci": {k: v for k, v in result.ci.items() if k in HEADLINE_METRICS}}
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
