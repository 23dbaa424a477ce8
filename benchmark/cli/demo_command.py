"""``vcval demo``: the suite's main job on an embedded default, with no data and no server."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmark.data import load_benchmark
from benchmark.data.describe import describe, render_description
from benchmark.data.synthetic import generate


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="generate synthetic MedVidCQA and run the benchmark on it",
        description="Generate the synthetic 'mini' set and describe it. Synthetic numbers are not MedVidCQA "
                    "results.")
    demo.add_argument("--out", type=Path, default=Path("vcval-demo"), help="working folder (default: vcval-demo)")
    demo.add_argument("--size", choices=("tiny", "mini"), default="mini")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    data_dir = generate(args.out / "data", args.size, args.seed)
    print(f"[1] generated synthetic '{args.size}' MedVidCQA in {data_dir}")
    benchmark = load_benchmark(data_dir)
    print(render_description(describe(benchmark)))
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s; everything is under {args.out}")
    return 0
