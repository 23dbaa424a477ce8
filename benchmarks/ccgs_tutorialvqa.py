"""CCGS on real data: TutorialVQA (text only, all-MiniLM-L6-v2), a learning curve against the baselines.

Every number comes from ``vcval run`` (the harness: one protocol, its hash in each run's manifest), run
here as a subprocess; paired tests come from ``vcval compare``. Runs whose folder already holds
``scores.json`` are not run again, so the script resumes where it stopped.

    python benchmarks/ccgs_tutorialvqa.py --data ../shared/data/tutorialvqa --out runs/tvqa \
        --sizes 64,128,256 --results benchmarks/results

Stages, in order (what the targets need first, the rest as CPU time allows): the cheap baselines; CCGS at
the middle size; the same without window negatives; CCGS at the largest size; oracle+textspan with the
same encoder and budget; the largest CCGS on the corpus track in two-stage mode (BM25 top 10, a seeded
sample of --corpus-questions test questions, the same sample for the baselines); the other sizes; the
smallest size without rotary encoding. Localization runs score the whole test split. Writes RESULTS/ccgs_tutorialvqa.json (every
figure with its command), RESULTS/ccgs_tutorialvqa_curve.png, and the gzipped predictions of the compared
runs under RESULTS/ccgs_tutorialvqa/.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from baselines.dense import DEFAULT_MODEL, resolve_model

COMMON_CCGS = {
    "visual": "false", "max_len": 512, "epochs": 2, "encoder_lr": "5.0e-5", "head_lr": "1.0e-3",
    "selection_track": "localization", "max_val_questions": 200,
}
LOC_KEYS = ("loc_mIoU", "loc_R1_IoU0.5", "loc_R1_IoU0.3", "R1_mIoU", "R5_mIoU")
CORPUS_KEYS = ("R1_mIoU", "R1_IoU0.5", "video_R1", "R10_mIoU")


@dataclass
class Run:
    name: str
    system: str
    task: str
    settings: dict[str, object] = field(default_factory=dict)
    train_questions: int | None = None
    protocol: Path | None = None


def command(run: Run, data: Path, out: Path) -> list[str]:
    args = ["vcval", "run", run.system, "--data-dir", str(data), "--task", run.task, "--no-track",
            "--out", str(out / "runs" / run.name)]
    if run.protocol is not None:
        args += ["--protocol", str(run.protocol)]
    for key, value in run.settings.items():
        args += ["--set", f"{key}={value}"]
    return args


def execute(run: Run, data: Path, out: Path) -> dict:
    folder = out / "runs" / run.name
    args = command(run, data, out)
    if not (folder / "scores.json").exists():
        print(f"[{time.strftime('%H:%M:%S')}] {run.name}: {' '.join(args)}", flush=True)
        started = time.perf_counter()
        log = out / "logs" / f"{run.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as stream:
            code = subprocess.call(args, stdout=stream, stderr=subprocess.STDOUT)
        if code:
            raise SystemExit(f"{run.name} failed (exit {code}); see {log}")
        (folder / "wall_seconds.txt").write_text(f"{time.perf_counter() - started:.1f}\n")
    scores = json.loads((folder / "scores.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    record = {"name": run.name, "system": run.system, "task": run.task, "train_questions": run.train_questions,
              "command": " ".join(args), "protocol_hash": manifest["protocol_hash"],
              "wall_seconds": float((folder / "wall_seconds.txt").read_text()) if (folder / "wall_seconds.txt").exists() else None,
              "n_questions": scores["n_questions"], "metrics": scores["metrics"], "ci": scores["ci"]}
    history = training_history(out / "models" / run.name)
    if history:
        record["training"] = history
    return record


def write_corpus_protocol(out: Path, questions: int) -> Path:
    """medvidcqa-paper with a seeded sample of ``questions`` test questions (CPU budget of the corpus track)."""
    from benchmark.protocol import load_protocol

    protocol = load_protocol("medvidcqa-paper").replace(
        name=f"medvidcqa-paper-sample{questions}", max_questions=questions,
        description=f"medvidcqa-paper on a seeded sample of {questions} questions of the evaluated split")
    path = out / "protocols" / f"{protocol.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(protocol.to_dict(), indent=2) + "\n")
    return path


def training_history(model_dir: Path) -> list[dict] | None:
    states = sorted(model_dir.glob("checkpoints/epoch-*/training_state.json"))
    return json.loads(states[-1].read_text())["history"] if states else None


def ccgs_run(name: str, size: int, task: str = "localization", **extra: object) -> Run:
    settings = {"encoder": resolve_model(DEFAULT_MODEL), "max_train_examples": size, **COMMON_CCGS, **extra}
    return Run(name, "ccgs", task, settings, size)


def compare(a: Path, b: Path, data: Path, metrics: str, task: str, scratch: Path, questions: int = 0) -> dict:
    target = scratch / f"compare-{a.name}-{b.name}.json"
    args = ["vcval", "compare", str(a), str(b), "--data-dir", str(data), "--split", "test", "--task", task,
            "--metrics", metrics]
    if questions:
        args += ["--max-questions", str(questions), "--sample-seed", "0"]
    subprocess.run([*args, "--json", str(target)], capture_output=True, text=True, check=True)
    return {"command": " ".join(args), "result": json.loads(target.read_text())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", default="64,128,256")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--stages", default="baselines,curve,variants,largest,textspan,corpus,smaller,rotary")
    parser.add_argument("--corpus-questions", type=int, default=400,
                        help="the corpus track's seeded sample of test questions (0: all)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    stages = set(args.stages.split(","))
    data, out = args.data.resolve(), args.out.resolve()
    records: dict[str, dict] = {}
    corpus_protocol = write_corpus_protocol(out, args.corpus_questions)

    baselines = [Run("oracle+window", "oracle+window", "localization"),
                 Run("oracle+prior", "oracle+prior", "localization"),
                 Run("oracle+random", "oracle+random", "localization"),
                 Run(f"bm25+window-sample{args.corpus_questions}", "bm25+window", "corpus", protocol=corpus_protocol),
                 Run(f"random-sample{args.corpus_questions}", "random", "corpus", protocol=corpus_protocol)]
    largest = max(sizes)
    variant_size = sorted(sizes)[len(sizes) // 2]

    def model(name: str) -> Path:
        return out / "models" / name

    curve = {size: ccgs_run(f"ccgs-{size}", size, out_dir=model(f"ccgs-{size}")) for size in sizes}
    variants = [ccgs_run(f"ccgs-{variant_size}-no-window-negatives", variant_size, window_negatives=0,
                         out_dir=model(f"ccgs-{variant_size}-no-window-negatives")),
                ccgs_run(f"ccgs-{min(sizes)}-no-rotary", min(sizes), rotary="false",
                         out_dir=model(f"ccgs-{min(sizes)}-no-rotary"))]
    textspan = Run(f"oracle+textspan-{largest}", "oracle+textspan", "localization",
                   {"textspan.encoder": resolve_model(DEFAULT_MODEL), "textspan.max_train_questions": largest,
                    "textspan.epochs": COMMON_CCGS["epochs"], "textspan.max_length": 512,
                    "textspan.max_validation_questions": 200}, largest)
    corpus = Run(f"ccgs-{largest}-corpus-bm25top10", "ccgs", "corpus",
                 {"checkpoint": model(f"ccgs-{largest}") / "best", "retriever": "bm25", "top_k_videos": 10},
                 largest, protocol=corpus_protocol)
    # the order of the plan: what the targets need first, the rest as CPU time allows
    plan = {"baselines": baselines, "curve": [curve[variant_size]], "variants": variants[:1],
            "largest": [curve[largest]], "textspan": [textspan], "corpus": [corpus],
            "smaller": [curve[size] for size in sizes if size not in (variant_size, largest)],
            "rotary": variants[1:]}
    for stage, runs in plan.items():
        if stage not in stages:
            continue
        for run in runs:
            if run.name not in records:
                records[run.name] = execute(run, data, out)
    report(records, sizes, data, out, args.results, args.corpus_questions)
    return 0


def report(records: dict[str, dict], sizes: list[int], data: Path, out: Path, results: Path,
           corpus_questions: int) -> None:
    results.mkdir(parents=True, exist_ok=True)
    largest = max(sizes)
    comparisons = {}
    best_loc, best_corpus = out / "runs" / f"ccgs-{largest}", out / "runs" / f"ccgs-{largest}-corpus-bm25top10"
    pairs = [("ccgs vs oracle+window", best_loc, out / "runs" / "oracle+window", "loc_mIoU,loc_R1_IoU0.5", "localization"),
             ("ccgs vs oracle+textspan", best_loc, out / "runs" / f"oracle+textspan-{largest}", "loc_mIoU,loc_R1_IoU0.5",
              "localization"),
             ("window negatives vs none", out / "runs" / f"ccgs-{sorted(sizes)[len(sizes) // 2]}",
              out / "runs" / f"ccgs-{sorted(sizes)[len(sizes) // 2]}-no-window-negatives", "loc_mIoU,loc_R1_IoU0.5",
              "localization"),
             ("rotary vs none", out / "runs" / f"ccgs-{min(sizes)}", out / "runs" / f"ccgs-{min(sizes)}-no-rotary",
              "loc_mIoU,loc_R1_IoU0.5", "localization"),
             ("ccgs corpus vs bm25+window", best_corpus, out / "runs" / f"bm25+window-sample{corpus_questions}",
              "R1_mIoU,R1_IoU0.5", "corpus")]
    stored = results / "ccgs_tutorialvqa"
    stored.mkdir(parents=True, exist_ok=True)
    for label, a, b, metrics, task in pairs:
        if (a / "predictions.jsonl").exists() and (b / "predictions.jsonl").exists():
            gz = []
            for folder in (a, b):
                target = stored / f"{folder.name}.jsonl.gz"
                with (folder / "predictions.jsonl").open("rb") as src, gzip.GzipFile(target, "wb", mtime=0) as dst:
                    shutil.copyfileobj(src, dst)
                gz.append(target)
            comparisons[label] = compare(gz[0], gz[1], data, metrics, task, out,
                                         corpus_questions if task == "corpus" else 0)
    payload = {"data": "TutorialVQA (../shared/data/tutorialvqa), test split", "encoder": "all-MiniLM-L6-v2",
               "script": "python benchmarks/ccgs_tutorialvqa.py --data ../shared/data/tutorialvqa --out OUT "
                         f"--sizes {','.join(map(str, sizes))}",
               "runs": records, "comparisons": comparisons}
    (results / "ccgs_tutorialvqa.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    plot_curve(records, sizes, results / "ccgs_tutorialvqa_curve.png")
    for name, record in records.items():
        keys = LOC_KEYS if record["task"] == "localization" else CORPUS_KEYS
        shown = "  ".join(f"{k} {record['metrics'][k]:.2f}" for k in keys if k in record["metrics"])
        print(f"{name:40s} {shown}")
    for label, comparison in comparisons.items():
        print(label, json.dumps(comparison["result"])[:400])


def plot_curve(records: dict[str, dict], sizes: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    points = [(s, records[f"ccgs-{s}"]) for s in sizes if f"ccgs-{s}" in records]
    if points:
        x = [s for s, _ in points]
        y = [r["metrics"]["loc_mIoU"] for _, r in points]
        low = [r["metrics"]["loc_mIoU"] - r["ci"]["loc_mIoU"][0] for _, r in points]
        high = [r["ci"]["loc_mIoU"][1] - r["metrics"]["loc_mIoU"] for _, r in points]
        ax.errorbar(x, y, yerr=[low, high], marker="o", capsize=3, label="CCGS (improved, MiniLM)")
    for name, style in (("oracle+window", "--"), ("oracle+prior", ":"), ("oracle+random", "-.")):
        if name in records:
            ax.axhline(records[name]["metrics"]["loc_mIoU"], linestyle=style, color="gray", label=name)
    for name, record in records.items():
        if name.startswith("oracle+textspan"):
            ax.errorbar([record["train_questions"]], [record["metrics"]["loc_mIoU"]], marker="s", linestyle="",
                        label=f"{name} (same encoder, budget)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training questions")
    ax.set_ylabel("loc_mIoU (test, 95% CI)")
    ax.set_title("TutorialVQA localization track")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
