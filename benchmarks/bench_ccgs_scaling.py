"""How CCGS corpus inference scales, in one run on this machine, every figure a `vcval run` (the harness):

1. one process against two (``torchrun --standalone --nproc_per_node 2``): the predict time of the same
   run, and whether the predictions agree;
2. the cost model ``pairs = questions x videos`` (and encoder inputs ``windows = questions x the corpus's
   windows``): its rate measured on the split corpus, the full corpus's time predicted from it and then
   measured;
3. two-stage mode (``--set retriever=bm25 --set top_k_videos=K``) on the full corpus: time and R1_mIoU for
   each K, and all videos.

    python benchmarks/bench_ccgs_scaling.py --work /tmp/scaling --questions 16 \
        --json benchmarks/results/ccgs_scaling_cpu.json

The data is synthetic ``full`` (``vcval data synth --size full``: 2710/145/155 questions over 800/49/50
videos, 899 in all), the encoder the tests' tiny random-init DeBERTa-v2 (2 layers, hidden 64) with a
tokenizer trained on that data, trained briefly with preset ``tiny`` (text only, ``MODEL_FLAGS``): a model that localizes a little, so
the quality column moves with K. Everything it builds is kept in ``--work`` and reused when rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VCVAL = [sys.executable, "-m", "vcval"]
# Text only, 192-token windows: 8.7 windows of 117 tokens per synthetic video on average (the tiny preset's 128
# would cut each transcript into 36 windows of 57 tokens).
MODEL_FLAGS = ["--no-visual", "--max-len", "192"]
METRICS = ("R1_mIoU", "video_R1", "video_R10", "R10_IoU0.5", "R100_IoU0.5")
REUSE = False
"""``--reuse``: read the run folders a previous invocation wrote instead of running them again."""
TWO_PROCESSES = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def shell(command: list[str]) -> str:
    return " ".join(str(part) for part in command)


def run(command: list[str], log: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with log.open("w") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {shell(command)}; see {log}")


def prepare(work: Path, train_examples: int, epochs: int) -> tuple[Path, Path, list[str]]:
    """The data, the tiny encoder and a briefly trained checkpoint, built once."""
    data, encoder, model = work / "full", work / "encoder", work / "model"
    steps = []
    if not (data / "text").exists():
        command = [*VCVAL, "data", "synth", "--size", "full", "--out", str(data)]
        run(command, work / "synth.log")
    steps.append(shell([*VCVAL, "data", "synth", "--size", "full", "--out", str(data)]))
    if not (encoder / "config.json").exists():
        from benchmark.data import load_benchmark
        from benchmark.random_encoder import build_random_encoder

        benchmark = load_benchmark(data)
        texts = [piece.text for video in benchmark.videos.values() for piece in video.pieces]
        texts += [annotation.text for annotation in benchmark.split("train").annotations]
        build_random_encoder(encoder, texts, "tiny", vocab_size=1000)
    steps.append(f"benchmark.random_encoder.build_random_encoder({encoder}, <train texts>, 'tiny', vocab_size=1000)")
    train = [*VCVAL, "train", "ccgs", "--data-dir", str(data), "--encoder", str(encoder), "--out", str(model),
             "--preset", "tiny", *MODEL_FLAGS, "--epochs", str(epochs), "--max-train-examples", str(train_examples),
             "--max-val-questions", "24", "--max-eval-questions", "24", "--bootstrap", "0", "--no-track", "--quiet"]
    if not (model / "best" / "model.safetensors").exists():
        run(train, work / "train.log")
    steps.append(shell(train))
    return data, model / "best", steps


def protocol_file(work: Path, corpus: str, questions: int) -> Path:
    from benchmark.protocol import load_protocol

    protocol = load_protocol().replace(corpus=corpus, max_questions=questions, bootstrap=0)
    path = work / "protocols" / f"{corpus}-{questions}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(protocol.to_dict(), indent=2) + "\n")
    return path


def corpus_run(work: Path, data: Path, checkpoint: Path, protocol: Path, name: str, processes: int = 1,
               settings: tuple[str, ...] = ()) -> dict:
    out = work / "runs" / name
    launcher = TWO_PROCESSES if processes == 2 else [sys.executable]
    command = [*launcher, "-m", "vcval", "run", "ccgs", "--data-dir", str(data), "--protocol",
               str(protocol), "--out", str(out), "--overwrite", "--no-track", "--quiet",
               "--set", f"checkpoint={checkpoint}", *(part for s in settings for part in ("--set", s))]
    started = time.perf_counter()
    reused = REUSE and (out / "manifest.json").exists()
    if not reused:
        run(command, work / f"{name}.log")
    manifest = json.loads((out / "manifest.json").read_text())
    scores = json.loads((out / "scores.json").read_text())
    return {"command": shell(command), "processes": processes, "reused": reused,
            "wall_s": None if reused else round(time.perf_counter() - started, 1),
            "predict_s": manifest["timings_s"]["predict"], "questions": scores["n_questions"],
            **{key: round(scores["metrics"][key], 2) for key in METRICS},
            "predictions": str(out / "predictions.jsonl")}


def corpus_windows(data: Path, checkpoint: Path, corpus: str) -> dict:
    """Videos and encoder inputs (windows) per question for the test split's corpus setting."""
    from benchmark.data import load_benchmark
    from ccgs.checkpoint import load_trained
    from ccgs.encoding import SubtitleTokens

    tokenizer, model, config = load_trained(checkpoint)
    tokens = SubtitleTokens(tokenizer, config.max_len, config.window_overlap, config.max_question_tokens)
    videos = load_benchmark(data).corpus("test") if corpus == "split" else load_benchmark(data).videos
    return {"videos": len(videos), "windows": sum(len(tokens.windows(video)) for video in videos.values())}


def same_predictions(a: str, b: str) -> dict:
    from benchmark.predictions import read_predictions

    left, right = read_predictions(a).predictions, read_predictions(b).predictions
    top1 = sum((x.candidates[0].video_id, x.candidates[0].start, x.candidates[0].end)
               == (y.candidates[0].video_id, y.candidates[0].start, y.candidates[0].end)
               for x, y in zip(left, right, strict=True))
    lists = sum([(c.video_id, c.start, c.end) for c in x.candidates] == [(c.video_id, c.start, c.end)
                                                                          for c in y.candidates]
                for x, y in zip(left, right, strict=True))
    gap = max(abs(c.score - d.score) for x, y in zip(left, right, strict=True)
              for c, d in zip(x.candidates, y.candidates, strict=True))
    return {"questions": len(left), "same_top1": top1, "same_top100_list": lists, "max_score_gap": gap}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=16, help="seeded test questions per run")
    parser.add_argument("--train-examples", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--top-k", default="5,10,50", help="two-stage K values (all videos is added)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--reuse", action="store_true",
                        help="read the run folders already in --work (their times included) instead of rerunning")
    args = parser.parse_args()
    global REUSE
    REUSE = args.reuse
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data, checkpoint, steps = prepare(args.work, args.train_examples, args.epochs)
    split_protocol = protocol_file(args.work, "split", args.questions)
    full_protocol = protocol_file(args.work, "full", args.questions)
    result: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                "threads_per_process": os.environ.get("OMP_NUM_THREADS", "1"),
                                "load_average_at_start": os.getloadavg()},
                    "setup": steps, "questions": args.questions}

    # 1. one process against two, the split corpus, back to back
    one = corpus_run(args.work, data, checkpoint, split_protocol, "split-1p")
    two = corpus_run(args.work, data, checkpoint, split_protocol, "split-2p", processes=2)
    result["processes"] = {"one": one, "two": two, "speedup": round(one["predict_s"] / two["predict_s"], 2),
                           "agreement": same_predictions(one["predictions"], two["predictions"])}
    print(f"1 process {one['predict_s']} s, 2 processes {two['predict_s']} s: x{result['processes']['speedup']}",
          flush=True)

    # 2. the cost model: rate on the split corpus, the full corpus predicted, then measured
    split_size, full_size = (corpus_windows(data, checkpoint, c) for c in ("split", "full"))
    full = corpus_run(args.work, data, checkpoint, full_protocol, "full-1p")
    windows_split, windows_full = args.questions * split_size["windows"], args.questions * full_size["windows"]
    rate = windows_split / one["predict_s"]
    result["cost_model"] = {
        "split": {**split_size, "pairs": args.questions * split_size["videos"], "encoder_inputs": windows_split,
                  "predict_s": one["predict_s"], "windows_per_s": round(rate, 1)},
        "full": {**full_size, "pairs": args.questions * full_size["videos"], "encoder_inputs": windows_full,
                 "predicted_s": round(windows_full / rate, 1), "predict_s": full["predict_s"],
                 "windows_per_s": round(windows_full / full["predict_s"], 1), "command": full["command"]},
        "full_test_split_all_155_questions": {"pairs": 155 * full_size["videos"],
                                              "encoder_inputs": 155 * full_size["windows"],
                                              "predicted_s_at_full_rate": round(
                                                  155 * full_size["windows"] * full["predict_s"] / windows_full)},
    }
    print(f"full corpus: predicted {windows_full / rate:.0f} s, measured {full['predict_s']} s", flush=True)

    # 3. two-stage: BM25's top K videos, then CCGS on those only
    rows = []
    for k in [int(v) for v in args.top_k.split(",")]:
        row = corpus_run(args.work, data, checkpoint, full_protocol, f"full-bm25-top{k}",
                         settings=("retriever=bm25", f"top_k_videos={k}"))
        rows.append({"K": k, **{key: row[key] for key in ("predict_s", *METRICS, "command")}})
        print(f"K={k}: {row['predict_s']} s, R1_mIoU {row['R1_mIoU']}", flush=True)
    rows.append({"K": f"all ({full_size['videos']})", **{key: full[key] for key in ("predict_s", *METRICS, "command")}})
    result["two_stage"] = rows
    result["load_average_at_end"] = os.getloadavg()
    result["script_s"] = round(time.perf_counter() - started, 1)
    result["command"] = shell([sys.executable, *sys.argv])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
