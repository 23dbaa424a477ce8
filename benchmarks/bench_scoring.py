"""Speed of the scorer, as ratios against references measured in the same run.

1. Metric kernels on 100,000 questions x 100 candidates already in memory, against a straightforward
   per-question Python loop computing the same 30 metrics (target: < 2 s and >= 10x faster).
2. The whole ``vcval score`` command on such a file (parsing, validation, bootstrap included), against
   TVR's ``standalone_eval/eval.py`` on the same candidates in its own format (target: < 60 s and faster).
3. 1,000 bootstrap resamples of every metric over 155 questions (target: < 2 s).

    python benchmarks/bench_scoring.py --tvr DIR                      # everything, full size
    python benchmarks/bench_scoring.py --tvr DIR --questions 20000    # smaller, quicker
    python benchmarks/bench_scoring.py --skip-command        # only 1 and 3

TVR's evaluator is copied from a clone of jayleicn/TVRetrieval given as ``--tvr DIR`` (never committed):
``git clone https://github.com/jayleicn/TVRetrieval DIR``. Its numbers are rounded to two decimals and computed
in float32, so "same numbers" allows a 0.01 difference from vcval's unrounded ones (``agreement.tvr_agrees``):
with 20,000 questions an exact tie occurs (vcval 7.955 -> 7.96, TVR 7.95 for video R@1), and a few spans
with an IoU exactly on 0.5 or 0.7 fall just below it in float32 (2 and 1 questions: 0.01 and 0.005).

    python benchmarks/bench_scoring.py --tvr DIR                 # everything, full size
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark.metrics import metric_keys, per_question_metrics
from benchmark.stats import bootstrap_ci

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # the agreement check lives in tools/
from agreement import TVR, add_evaluator_arguments, export_evaluator, tvr_agrees  # noqa: E402


def naive_scores(lists, gold) -> dict[str, list[float]]:
    """The straightforward reference: one Python loop per question over its candidate list."""
    values: dict[str, list[float]] = {key: [] for key in metric_keys("corpus")}
    for candidates, (gold_video, gold_start, gold_end) in zip(lists, gold, strict=True):
        ranking: list[int] = []
        rank = 0
        ious = []
        for video_id, start, end in candidates:
            if video_id not in ranking:
                ranking.append(video_id)
            if video_id == gold_video and not rank:
                rank = len(ranking)
            if video_id != gold_video:
                ious.append(0.0)
            elif start == end == gold_start == gold_end:
                ious.append(1.0)
            else:
                inter = min(end, gold_end) - max(start, gold_start)
                ious.append(inter / (max(end, gold_end) - min(start, gold_start)) if inter > 0 else 0.0)
        for k in (1, 5, 10, 50, 100):
            values[f"video_R{k}"].append(100.0 * (0 < rank <= k))
        values["video_MRR"].append(100.0 / rank if rank else 0.0)
        for k in (1, 5, 10, 50, 100):
            best = max(ious[:k], default=0.0)
            for m in (0.3, 0.5, 0.7):
                values[f"R{k}_IoU{m}"].append(100.0 * (best >= m - 1e-9))
            values[f"R{k}_mIoU"].append(100.0 * best)
        first = next((i for i, (v, _, _) in enumerate(candidates) if v == gold_video), None)
        located = ious[first] if first is not None else 0.0
        for m in (0.3, 0.5, 0.7):
            values[f"loc_R1_IoU{m}"].append(100.0 * (located >= m - 1e-9))
        values["loc_mIoU"].append(100.0 * located)
    return values


def random_run(n_questions: int, n_candidates: int, n_videos: int, seed: int):
    """Distinct videos per question (so TVR's row ranking equals ours), gold video near the top
    most of the time, spans around the gold span when in the gold video."""
    rng = np.random.default_rng(seed)
    durations = np.round(rng.uniform(60, 900, n_videos), 2)
    gold_videos = rng.integers(0, n_videos, n_questions)
    lengths = rng.uniform(5, 60, n_questions)
    gold_starts = np.round(rng.uniform(0, 1, n_questions) * (durations[gold_videos] - lengths), 2)
    gold_ends = np.round(gold_starts + lengths, 2)
    codes = np.argsort(rng.random((n_questions, n_videos)), axis=1)[:, :n_candidates].astype(np.int32)
    present = rng.random(n_questions) < 0.8
    positions = np.minimum(rng.geometric(0.1, n_questions) - 1, n_candidates - 1)
    rows = np.nonzero(present)[0]
    clash = codes[rows] == gold_videos[rows, None]  # the gold video elsewhere in the row: swap it out
    codes[rows] = np.where(clash, codes[rows, positions[rows]][:, None], codes[rows])
    codes[rows, positions[rows]] = gold_videos[rows]
    starts = np.round(rng.uniform(0, 0.8, codes.shape) * durations[codes], 2)
    ends = np.round(np.minimum(starts + rng.uniform(1, 90, codes.shape), durations[codes]), 2)
    in_gold = codes == gold_videos[:, None]
    jitter = rng.normal(0, 8, codes.shape)
    starts = np.where(in_gold, np.round(np.clip(gold_starts[:, None] + jitter, 0, gold_ends[:, None]), 2), starts)
    ends = np.where(in_gold, np.round(np.clip(gold_ends[:, None] - jitter, starts, durations[codes]), 2), ends)
    return durations, gold_videos, gold_starts, gold_ends, codes, starts, ends


def bench_kernels(run, repeats: int) -> dict:
    _, gold_videos, gold_starts, gold_ends, codes, starts, ends = run
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        values, _ = per_question_metrics(codes, starts, ends, gold_videos, gold_starts, gold_ends)
        timings.append(time.perf_counter() - started)
    lists = [list(zip(c.tolist(), s.tolist(), e.tolist(), strict=True)) for c, s, e in zip(codes, starts, ends, strict=True)]
    gold = list(zip(gold_videos.tolist(), gold_starts.tolist(), gold_ends.tolist(), strict=True))
    started = time.perf_counter()
    reference = naive_scores(lists, gold)
    loop_s = time.perf_counter() - started
    agree = all(np.allclose(values[key], reference[key]) for key in reference)
    return {"kernel_s": min(timings), "loop_s": loop_s, "speedup": loop_s / min(timings), "same_values": agree}


def write_inputs(run, folder: Path) -> dict[str, Path]:
    """A CCGS data folder whose test split has the run's questions, a vcval predictions file, and the
    same candidates as a TVR submission (VCMR and VR) with its ground truth."""
    durations, gold_videos, gold_starts, gold_ends, codes, starts, ends = run
    names = [f"v{index:05d}" for index in range(len(durations))]
    (folder / "data" / "text").mkdir(parents=True, exist_ok=True)

    def record(index, video, start, end, split):
        return {"sample_id": f"{split}{index}", "question": f"question {index}", "video_id": names[video],
                "video_length": float(durations[video]), "answer_start_second": float(start),
                "answer_end_second": float(end),
                "video_sub_title": [{"text": "words", "start": 0.0, "duration": 1.0}]}

    test = [record(i, v, s, e, "t") for i, (v, s, e) in enumerate(zip(gold_videos, gold_starts, gold_ends, strict=True))]
    (folder / "data" / "text" / "test.json").write_text(json.dumps(test))
    for split in ("train", "val"):
        (folder / "data" / "text" / f"{split}.json").write_text(json.dumps([record(0, 0, 0.0, 1.0, split)]))
    corpus = [{"video_id": name, "video_length": float(d), "video_sub_title": [{"text": "words", "start": 0.0, "duration": 1.0}]}
              for name, d in zip(names, durations, strict=True)]
    (folder / "data" / "corpus.json").write_text(json.dumps(corpus))

    predictions = folder / "predictions.jsonl"
    with open(predictions, "w") as handle:
        handle.write(json.dumps({"format": "vcval-predictions", "version": 1, "task": "corpus"}) + "\n")
        for index in range(len(codes)):
            handle.write(json.dumps({"qid": f"t{index}", "candidates": [
                {"video_id": names[c], "start": s, "end": e}
                for c, s, e in zip(codes[index].tolist(), starts[index].tolist(), ends[index].tolist(), strict=True)]}) + "\n")

    submission = folder / "tvr_submission.json"
    vcmr = [{"desc_id": index, "desc": "", "predictions": [[c, s, e, 0.0] for c, s, e in zip(
        codes[index].tolist(), starts[index].tolist(), ends[index].tolist(), strict=True)]} for index in range(len(codes))]
    vr = [{"desc_id": index, "desc": "", "predictions": [[c, 0, 0, 0.0] for c in codes[index].tolist()]}
          for index in range(len(codes))]
    submission.write_text(json.dumps({"video2idx": {name: i for i, name in enumerate(names)}, "VCMR": vcmr, "VR": vr}))
    del vcmr, vr
    ground_truth = folder / "tvr_gt.jsonl"
    with open(ground_truth, "w") as handle:
        for index, (v, s, e) in enumerate(zip(gold_videos.tolist(), gold_starts.tolist(), gold_ends.tolist(), strict=True)):
            handle.write(json.dumps({"desc_id": index, "desc": "", "vid_name": names[v], "ts": [s, e], "type": "v"}) + "\n")
    return {"data": folder / "data", "predictions": predictions, "submission": submission, "ground_truth": ground_truth}


def timed(command: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of a command: CPU time is what a busy machine does
    not inflate."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_command(run, folder: Path, reuse: bool, tvr: Path | None) -> dict:
    names = {"data": folder / "data", "predictions": folder / "predictions.jsonl",
             "submission": folder / "tvr_submission.json", "ground_truth": folder / "tvr_gt.jsonl"}
    eval_py, commit = export_evaluator(TVR, tvr, folder / "evaluators")  # first: refuses before any work
    paths = names if reuse and all(p.exists() for p in names.values()) else write_inputs(run, folder)
    vcval = [sys.executable, "-m", "vcval"]
    data = ["--data-dir", str(paths["data"]), "--split", "test"]
    # The first load builds the data folder's Hugging Face cache (once per data folder): timed apart.
    cache_s, cache_cpu = timed(vcval + ["data", "describe", "--data-dir", str(paths["data"])])
    score_s, score_cpu = timed(vcval + ["score", str(paths["predictions"]), *data, "--bootstrap", "1000",
                                "--json", str(folder / "score.json")])
    tvr_s, tvr_cpu = timed([sys.executable, str(eval_py), "--submission_path", str(paths["submission"]), "--gt_path",
                      str(paths["ground_truth"]), "--save_path", str(folder / "tvr_metrics.json"), "--not_verbose"])
    ours = json.loads((folder / "score.json").read_text())["metrics"]
    theirs = json.loads((folder / "tvr_metrics.json").read_text())
    agree = all(tvr_agrees(ours[f"video_R{k}"], theirs["VR"][f"r{k}"]) for k in (1, 5, 10, 100)) and all(
        tvr_agrees(ours[f"R{k}_IoU{m}"], theirs["VCMR"][f"{m}-r{k}"]) for m in (0.5, 0.7) for k in (1, 5, 10, 100))
    return {"cache_build_s": cache_s, "cache_build_cpu_s": cache_cpu, "vcval_score_s": score_s,
            "vcval_score_cpu_s": score_cpu, "tvr_eval_s": tvr_s, "tvr_eval_cpu_s": tvr_cpu,
            "tvr_over_vcval": tvr_s / score_s, "tvr_over_vcval_cpu": tvr_cpu / score_cpu,
            "tvr_commit": commit, "same_numbers_as_tvr": agree,
            "predictions_mb": paths["predictions"].stat().st_size / 1e6,
            "tvr_submission_mb": paths["submission"].stat().st_size / 1e6}


def bench_bootstrap(repeats: int) -> dict:
    values = np.random.default_rng(0).uniform(0, 100, (155, len(metric_keys("corpus"))))
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        bootstrap_ci(values, 1000, seed=0)
        timings.append(time.perf_counter() - started)
    return {"bootstrap_1000x155_s": min(timings), "metrics": values.shape[1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="kernel and bootstrap timings: best of this many")
    parser.add_argument("--skip-command", action="store_true", help="skip the vcval score vs TVR comparison")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse-inputs", action="store_true",
                        help="reuse the data folder and files already in --workdir (written by a run with the same "
                             "--questions/--candidates/--videos/--seed) instead of writing them again")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    add_evaluator_arguments(parser, cmivqa=False)
    args = parser.parse_args(argv)
    if not args.skip_command and args.tvr is None:  # before minutes of work, not after
        parser.error("give --tvr DIR, a clone of https://github.com/jayleicn/TVRetrieval "
                     "(git clone https://github.com/jayleicn/TVRetrieval DIR), or --skip-command")

    run = random_run(args.questions, args.candidates, args.videos, args.seed)
    results = {"questions": args.questions, "candidates": args.candidates}
    results["kernels"] = bench_kernels(run, args.repeats)
    k = results["kernels"]
    print(f"[1] metrics, {args.questions} x {args.candidates} in memory: {k['kernel_s']:.2f} s vectorised, "
          f"{k['loop_s']:.2f} s per-question loop -> {k['speedup']:.1f}x (same values: {k['same_values']})")
    if not args.skip_command:
        folder = args.workdir or Path(tempfile.mkdtemp(prefix="vcval-bench-"))
        folder.mkdir(parents=True, exist_ok=True)
        results["command"] = bench_command(run, folder, args.reuse_inputs, args.tvr)
        c = results["command"]
        print(f"[2] vcval score (file {c['predictions_mb']:.0f} MB, bootstrap 1000): {c['vcval_score_s']:.1f} s wall, "
              f"{c['vcval_score_cpu_s']:.1f} s CPU; TVR standalone_eval (file {c['tvr_submission_mb']:.0f} MB): "
              f"{c['tvr_eval_s']:.1f} s wall, {c['tvr_eval_cpu_s']:.1f} s CPU -> TVR/vcval {c['tvr_over_vcval']:.2f}x wall, "
              f"{c['tvr_over_vcval_cpu']:.2f}x CPU (same numbers, within TVR's last decimal: "
              f"{c['same_numbers_as_tvr']}); "
              f"one-off data cache build {c['cache_build_s']:.1f} s")
    results["bootstrap"] = bench_bootstrap(max(args.repeats, 5))
    print(f"[3] 1000 bootstrap resamples x 155 questions x {results['bootstrap']['metrics']} metrics: "
          f"{results['bootstrap']['bootstrap_1000x155_s'] * 1000:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
