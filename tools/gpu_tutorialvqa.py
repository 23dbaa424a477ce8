"""The prepared GPU job of issue 22, item 6: CCGS on all 3,718 TutorialVQA training questions, then both
tracks over the whole test split, inside one call of the device tool (about 9 minutes of wall time).
Started by ``tools/gpu_tutorialvqa.sh CARRY OUT`` (which installs the carried wheels first); the exact call
is in docs/status.md. Every stage is a product command:

1. unpack ``CARRY`` (``tools/gpu_carry.py build``): the encoder widened back to float32, the data;
2. ``tools/ccgs_probe.py``: training pairs/s, inference windows/s, FLOPs, a profile (about a minute);
3. ``vcval run ccgs --task localization`` with the CPU run's settings (benchmarks/results/ccgs-3718-epoch1)
   and as many epochs, up to ``--max-epochs``, as the probe's speeds say fit the budget beside the rest;
   selection on the validation split only; if it overruns its cap, the best model so far is evaluated;
4. ``vcval run ccgs --task corpus --set checkpoint=...``: no retriever, every test video for each question
   (the whole split when the remaining time allows it by the probe's speed, else the seeded 400-question
   sample of ``experiments/protocols/medvidcqa-paper-sample400.yaml``);
5. ``vcval score`` of each gzipped predictions file (the figure it reproduces);
6. into ``OUT``: ``localization.jsonl.gz``, ``corpus.jsonl.gz``, ``throughput.json`` (stages, the plan and
   its reasons, pairs/s, windows/s, FLOPs against the bf16 peak, memory, profile, scores) and
   ``runs.tar.gz`` (manifests, scores, training summary, probe, re-scores); ``log.txt`` comes from the shell.

``throughput.json`` is rewritten after every stage, so an interrupted job still returns what it measured.
The CPU rehearsal runs the same script on a carry of synthetic data and a random-init encoder
(docs/ccgs.md, "GPU job").
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PEAK_BF16_FLOPS = 790e12
"""Dense bf16 matrix products on this workplace's H100 and H200 (device/KINDS.md: 769 to 798 TFLOP/s)."""

CPU_RUN_SETTINGS = {"visual": "false", "max_len": "512", "encoder_lr": "5.0e-5", "head_lr": "1.0e-3",
                    "selection_track": "localization"}
"""The 3,718-question CPU run's settings (benchmarks/results/ccgs-3718-epoch1/README.md), preset improved.
Its code predates the dense prior: ``--dense-prior`` turns it on (``improved`` as it is now)."""

MARGIN = 1.15
"""Estimates from the probe are multiplied by this before planning."""
SCORE_SECONDS = 10.0
"""Scoring a run's predictions with 1,000 bootstrap resamples (1,239 questions: a few seconds)."""
RESERVE_SECONDS = 45.0
"""Kept back at the end: re-scoring both files and writing OUT."""


@dataclass(frozen=True)
class Estimates:
    epoch_s: float
    """One epoch: training, validation, checkpoints."""
    run_fixed_s: float
    """The training run apart from its epochs: start-up, test predictions, scoring."""
    corpus_s: dict[str, float]
    """Seconds of each corpus-track option, in order of preference (``whole`` split, ``sample``)."""


def plan_epochs(available_s: float, max_epochs: int, estimates: Estimates | None) -> tuple[int, str]:
    """The most epochs, at least 1 and at most ``max_epochs``, that leave room for the rest of the training
    run and the cheapest corpus option; and why."""
    if estimates is None:
        return max_epochs, "no probe figures: the training stage's time cap decides"
    cheapest = min(estimates.corpus_s.values(), default=0.0)
    room = available_s - estimates.run_fixed_s - cheapest
    fits = int(room // estimates.epoch_s) if room > 0 else 0
    epochs = max(1, min(max_epochs, fits))
    if fits >= max_epochs:
        return epochs, f"{max_epochs} epochs fit ({fits} would)"
    return epochs, (f"{max_epochs} epochs do not fit: {epochs} of {estimates.epoch_s:.0f} s each leave room for the "
                    f"rest of the run ({estimates.run_fixed_s:.0f} s) and the corpus track ({cheapest:.0f} s) in "
                    f"{available_s:.0f} s")


def choose_corpus(available_s: float, corpus_s: dict[str, float]) -> str | None:
    """The first corpus-track option whose estimate fits in ``available_s``, or None."""
    return next((name for name, seconds in corpus_s.items() if seconds <= available_s), None)


# -- running stages ---------------------------------------------------------------------------------------------
class Job:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = args.started or time.time()
        self.work: Path = args.work
        self.out: Path = args.out
        self.report: dict = {"budget_seconds": args.budget_s, "stages": {}, "deviations": []}
        self.child: subprocess.Popen | None = None
        for number in (signal.SIGTERM, signal.SIGINT):  # stopped from outside: stop the running stage too
            signal.signal(number, self._stopped)

    def _stopped(self, number, frame) -> None:
        if self.child is not None:
            stop(self.child)
        sys.exit(128 + number)

    def elapsed(self) -> float:
        return time.time() - self.started

    def remaining(self) -> float:
        return self.args.budget_s - self.elapsed()

    def stage(self, name: str, command: list[str], cap_s: float) -> bool:
        """Run ``command`` (its output goes to the log), killed after ``cap_s`` seconds; record it."""
        cap_s = max(1.0, cap_s)
        print(f"\n== {name} (cap {cap_s:.0f} s, {self.elapsed():.0f} s into the job): {' '.join(command)}", flush=True)
        began = time.time()
        with GpuMemory() as memory:
            process = subprocess.Popen(command, cwd=ROOT, process_group=0)  # its own group, to stop it whole
            self.child = process
            try:
                code = process.wait(timeout=cap_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                stop(process)
                code, timed_out = process.returncode, True
            finally:
                self.child = None
        self.report["stages"][name] = {"seconds": round(time.time() - began, 1), "cap_seconds": round(cap_s),
                                       "exit_code": code, "timed_out": timed_out,
                                       "gpu_memory_used_peak_mib": memory.peak_mib}
        self.save()
        return code == 0 and not timed_out

    def save(self) -> None:
        self.report["wall_seconds"] = round(self.elapsed(), 1)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "throughput.json").write_text(json.dumps(self.report, indent=2) + "\n", encoding="utf-8")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the stage's process group, SIGKILL 15 s later."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class GpuMemory:
    """The peak of ``nvidia-smi``'s memory.used while the block runs (None without nvidia-smi): what the
    process held on the device, its allocator's cache and CUDA context included."""

    def __enter__(self):
        self.peak_mib = None
        self._process = None
        if shutil.which("nvidia-smi"):
            self._process = subprocess.Popen(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits",
                                              "-lms", "500"], stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._process is None:
            return
        self._process.terminate()
        output, _ = self._process.communicate()
        values = [int(line) for line in output.split() if line.strip().isdigit()]
        self.peak_mib = max(values) if values else None


# -- the job --------------------------------------------------------------------------------------------------
def unpack(carry: Path, work: Path) -> tuple[Path, Path]:
    """The carried encoder with float32 weights, and the data folder, under ``work``."""
    from safetensors.numpy import load_file, save_file

    model, data = work / "model", work / "data"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(carry / "model", model)
    tensors = load_file(model / "model.safetensors")
    save_file({k: (v.astype("float32") if v.dtype.name == "float16" else v) for k, v in tensors.items()},
              model / "model.safetensors", metadata={"format": "pt"})
    with tarfile.open(carry / "data.tar.xz") as tar:
        tar.extractall(data, filter="data")
    return model, data


def sample_protocol(work: Path, questions: int) -> Path:
    """``medvidcqa-paper`` on its seeded sample of ``questions`` test questions (as
    experiments/protocols/medvidcqa-paper-sample400.yaml for 400: the same hash)."""
    import yaml

    from benchmark.protocol import load_protocol

    protocol = load_protocol("medvidcqa-paper").replace(
        name=f"medvidcqa-paper-sample{questions}", max_questions=questions,
        description=f"medvidcqa-paper on a seeded sample of {questions} questions of the evaluated split")
    path = work / f"medvidcqa-paper-sample{questions}.yaml"
    fields = {k: v for k, v in protocol.to_dict().items() if v is not None}
    path.write_text(yaml.safe_dump(fields, sort_keys=False), encoding="utf-8")
    return path


def settings(args: argparse.Namespace) -> dict[str, str]:
    values = dict(CPU_RUN_SETTINGS, dense_prior=str(args.dense_prior).lower(),
                  max_val_questions=str(args.val_questions), pairs_per_batch=str(args.pairs_per_batch))
    if args.train_questions is not None:
        values["max_train_examples"] = str(args.train_questions)
    return values


def inference_settings(args: argparse.Namespace) -> dict[str, str]:
    return {"visual": "false", "max_len": "512", "batch_tokens": str(args.batch_tokens)}


def set_flags(values: dict[str, str]) -> list[str]:
    return [part for key, value in values.items() for part in ("--set", f"{key}={value}")]


def estimates_from(probe: dict, args: argparse.Namespace, val_questions: int, startup_s: float) -> Estimates:
    training, inference, windows = probe["training"], probe["inference"], probe["windows"]
    rate = inference["windows_per_second"]
    train_pairs = args.train_questions or probe["train_questions"]
    epoch = (train_pairs / training["pairs_per_second"] + val_questions * windows["validation_per_question"] / rate
             + training["fit_overhead_seconds"])
    questions = windows["evaluated_questions"]
    if args.eval_questions is not None:  # the rehearsal's sample: its share of the localization windows
        questions = min(args.eval_questions, questions)
    run_fixed = startup_s + windows["localization"] * questions / windows["evaluated_questions"] / rate + SCORE_SECONDS
    options = {"whole": questions}
    if args.corpus_sample < questions:
        options["sample"] = args.corpus_sample
    corpus = {name: MARGIN * (startup_s + count * windows["corpus_per_question"] / rate + SCORE_SECONDS)
              for name, count in options.items()}
    return Estimates(MARGIN * epoch, MARGIN * run_fixed, corpus)


def run_job(args: argparse.Namespace) -> int:
    job = Job(args)
    python = sys.executable
    began = time.time()
    model, data = unpack(args.carry, job.work)
    job.report["stages"]["unpack"] = {"seconds": round(time.time() - began, 1)}
    protocol_args: list[str] = []
    score_args: list[str] = []
    corpus_score_args: list[str] = []
    if args.eval_questions is not None:  # the rehearsal's bounded evaluation
        protocol_args = ["--protocol", str(sample_protocol(job.work, args.eval_questions))]
        score_args = ["--max-questions", str(args.eval_questions)]
        job.report["deviations"].append(f"both tracks on a seeded sample of {args.eval_questions} test questions")

    # start-up cost of a product command: imports, then (measured by the probe) the data
    job.stage("imports", [python, "-c", "import torch, transformers, accelerate, datasets, pydantic, vcval.main, "
                          "ccgs.catalog, baselines.catalog, benchmark.predictions, benchmark; print('imports from', "
                          "benchmark.__file__, '| torch', torch.__version__, '| transformers', transformers.__version__,"
                          " '| cuda', torch.cuda.is_available())"], 120)
    import_s = job.report["stages"]["imports"]["seconds"]

    run_settings = settings(args)
    probe_json = job.work / "probe.json"
    probe_command = [python, "tools/ccgs_probe.py", "--data-dir", str(data), "--work", str(job.work / "probe"),
                     "--json", str(probe_json), "--timing-pairs", str(args.probe_timing_pairs),
                     "--flop-pairs", str(args.probe_flop_pairs), "--profile-batches", str(args.probe_profile_batches),
                     "--inference-questions", str(args.probe_inference_questions), *protocol_args,
                     *set_flags({**run_settings, "encoder": str(model), "batch_tokens": str(args.batch_tokens)})]
    probe = None
    if job.stage("probe", probe_command, min(args.probe_cap_s, job.remaining() - RESERVE_SECONDS)):
        probe = json.loads(probe_json.read_text(encoding="utf-8"))
        probe["train_questions"] = split_size(data, "train")
        job.report["probe"] = probe
    estimates = None
    if probe is not None:
        startup = import_s + probe["data_load_seconds"]
        estimates = estimates_from(probe, args, min(args.val_questions, split_size(data, "val")), startup)
    available = job.remaining() - RESERVE_SECONDS
    epochs, reason = plan_epochs(available, args.max_epochs, estimates)
    job.report["plan"] = {"epochs": epochs, "max_epochs": args.max_epochs, "reason": reason,
                          "available_seconds": round(available),
                          "estimates": None if estimates is None else {
                              "epoch_seconds": round(estimates.epoch_s, 1),
                              "training_run_fixed_seconds": round(estimates.run_fixed_s, 1),
                              "corpus_seconds": {k: round(v, 1) for k, v in estimates.corpus_s.items()}}}
    if epochs < args.max_epochs:
        job.report["deviations"].append(f"{epochs} epochs instead of {args.max_epochs}: {reason}")
    print(f"\nplan: {epochs} epochs ({reason})", flush=True)
    job.save()

    # training and the localization track
    models = job.work / "models"
    runs = job.work / "runs"
    cheapest = min(estimates.corpus_s.values(), default=0.0) if estimates else 60.0
    train_command = [python, "-m", "vcval", "run", "ccgs", "--data-dir", str(data), "--task", "localization",
                     "--no-track", "--out", str(runs / "localization"), *protocol_args,
                     *set_flags({**run_settings, "encoder": str(model), "epochs": str(epochs), "out_dir": str(models),
                                 "batch_tokens": str(args.batch_tokens)})]
    localization = runs / "localization"
    left = job.remaining() - RESERVE_SECONDS
    if estimates is not None:  # the plan with 30% to spare, or all but the cheapest corpus option if more
        cap = min(left, max(1.3 * (estimates.run_fixed_s + epochs * estimates.epoch_s), left - cheapest))
    else:  # room for evaluating the best model and for the corpus track
        cap = left - 2 * cheapest
    if not job.stage("train+localization", train_command, cap):
        if not (models / "best" / "model.safetensors").exists():
            job.report["deviations"].append("training stopped before any epoch ended: nothing to evaluate")
            job.save()
            return collect(job, data, None, None, score_args)
        job.report["deviations"].append("the training run did not finish within its cap: the localization track "
                                        "comes from the best model saved so far")
        localization = runs / "localization-from-best"
        job.stage("localization-from-best", [python, "-m", "vcval", "run", "ccgs", "--data-dir", str(data), "--task",
                                             "localization", "--no-track", "--out", str(localization), *protocol_args,
                                             *set_flags({**inference_settings(args),
                                                         "checkpoint": str(models / "best")})],
                  job.remaining() - RESERVE_SECONDS - min(cheapest, (job.remaining() - RESERVE_SECONDS) / 2))
    job.report["training"] = training_record(models)
    job.save()

    # the corpus track, no retriever: every test video for each question
    corpus = None
    available = job.remaining() - RESERVE_SECONDS
    if estimates is not None:
        option = choose_corpus(available, estimates.corpus_s)
    else:  # no probe figures: the sample (the whole split when it is no larger), under the time left
        evaluated = min(split_size(data, "test"), args.eval_questions or split_size(data, "test"))
        option = "whole" if evaluated <= args.corpus_sample else "sample"
    if option is None:
        job.report["deviations"].append(f"no corpus track: {available:.0f} s left")
    else:
        corpus_args = protocol_args
        if option == "sample":
            corpus_args = ["--protocol", str(sample_protocol(job.work, args.corpus_sample))]
            corpus_score_args = ["--max-questions", str(args.corpus_sample)]
            why = (f"the whole split did not fit in the {available:.0f} s left" if estimates is not None
                   else "no probe figures to say whether the whole split fits")
            job.report["deviations"].append(f"corpus track on the seeded {args.corpus_sample}-question sample: {why}")
        else:
            corpus_score_args = score_args
        corpus = runs / "corpus"
        job.report["corpus_option"] = option
        ok = job.stage("corpus", [python, "-m", "vcval", "run", "ccgs", "--data-dir", str(data), "--task", "corpus",
                                  "--no-track", "--out", str(corpus), *corpus_args,
                                  *set_flags({**inference_settings(args), "checkpoint": str(models / "best")})],
                       available)
        corpus = corpus if ok else None
    return collect(job, data, localization, corpus, score_args, corpus_score_args)


def collect(job: Job, data: Path, localization: Path | None, corpus: Path | None, score_args: list[str],
            corpus_score_args: list[str] = ()) -> int:
    """Predictions gzipped into OUT and re-scored from there; the small files into runs.tar.gz; the
    throughput figures."""
    python = sys.executable
    bundle = job.work / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    results = {}
    for track, folder, extra in (("localization", localization, score_args),
                                 ("corpus", corpus, corpus_score_args)):
        if folder is None or not (folder / "predictions.jsonl").exists():
            continue
        target = job.out / f"{track}.jsonl.gz"
        with open(folder / "predictions.jsonl", "rb") as source, gzip.open(target, "wb", compresslevel=9) as sink:
            shutil.copyfileobj(source, sink)
        for name in ("manifest.json", "scores.json", "slices.json", "summary.txt"):
            if (folder / name).exists():
                (bundle / track).mkdir(exist_ok=True)
                shutil.copy2(folder / name, bundle / track / name)
        rescore = bundle / track / "rescore.json"
        job.stage(f"score-{track}", [python, "-m", "vcval", "score", str(target), "--data-dir", str(data), "--split",
                                     "test", "--task", track, "--json", str(rescore), *extra],
                  max(30.0, job.remaining()))
        results[track] = run_figures(folder, rescore, target)
    job.report["results"] = results
    job.report["throughput"] = throughput(job.report, results)
    for name in ("training_summary.json",):
        if (job.work / "models" / name).exists():
            shutil.copy2(job.work / "models" / name, bundle / name)
    if (job.work / "probe.json").exists():
        shutil.copy2(job.work / "probe.json", bundle / "probe.json")
    with tarfile.open(job.out / "runs.tar.gz", "w:gz") as tar:
        tar.add(bundle, arcname="runs")
    job.save()
    print_summary(job.report)
    return 0 if results.get("localization") else 1


def run_figures(folder: Path, rescore: Path, predictions: Path) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    scores = json.loads((folder / "scores.json").read_text(encoding="utf-8"))
    figures = {"predictions": predictions.name, "bytes": predictions.stat().st_size,
               "questions": scores.get("n_questions"), "metrics": scores["metrics"],
               "protocol": manifest["protocol"]["name"], "protocol_hash": manifest["protocol_hash"][:12]
               if "protocol_hash" in manifest else None, "timings_s": manifest.get("timings_s")}
    if rescore.exists():
        again = json.loads(rescore.read_text(encoding="utf-8"))["metrics"]
        figures["rescore_equal"] = all(abs(again[k] - v) < 1e-9 for k, v in scores["metrics"].items() if k in again)
    return figures


def training_record(models: Path) -> dict | None:
    """The training summary, or, when the run was stopped, the newest checkpoint's state."""
    summary = models / "training_summary.json"
    if summary.exists():
        raw = json.loads(summary.read_text(encoding="utf-8"))
    else:
        states = sorted(models.glob("checkpoints/epoch-*/training_state.json"))
        if not states:
            return None
        raw = json.loads(states[-1].read_text(encoding="utf-8"))
    history = raw.get("history", [])
    pairs = sum(r["examples"] for r in history)
    seconds = sum(r["seconds"] for r in history)
    return {"epochs": len(history), "best_epoch": raw.get("best_epoch"),
            "best_validation": raw.get("best_validation", raw.get("best_score")),
            "validation_by_epoch": [r.get("validation") for r in history],
            "loss_by_epoch": [round(r["loss"], 4) for r in history],
            "pairs_per_epoch": history[0]["examples"] if history else None,
            "pairs_per_second": round(pairs / seconds, 2) if seconds else None,
            "train_seconds": raw.get("train_seconds")}


def throughput(report: dict, results: dict) -> dict:
    """Training pairs/s and inference windows/s of the real runs, their FLOP rates (the probe's FLOPs per
    pair and per window) against the bf16 peak, and memory."""
    probe = report.get("probe") or {}
    flops = probe.get("flops", {})
    windows = probe.get("windows", {})
    training = report.get("training") or {}
    figures: dict = {"peak_bf16_tflops": PEAK_BF16_FLOPS / 1e12}
    if training.get("pairs_per_second"):
        figures["training_pairs_per_second"] = training["pairs_per_second"]
        if flops.get("per_training_pair"):
            rate = flops["per_training_pair"] * training["pairs_per_second"]
            figures["training_tflops"] = round(rate / 1e12, 2)
            figures["training_fraction_of_peak"] = round(rate / PEAK_BF16_FLOPS, 4)
    for track in ("localization", "corpus"):
        run = results.get(track)
        if not run or not windows:
            continue
        count = (windows["localization"] if track == "localization"
                 else run["questions"] * windows["corpus_per_question"])
        seconds = (run.get("timings_s") or {}).get("predict")
        if seconds:
            rate = count / seconds
            entry = {"windows": count, "predict_seconds": seconds, "windows_per_second": round(rate, 1)}
            if flops.get("per_inference_window"):
                entry["tflops"] = round(flops["per_inference_window"] * rate / 1e12, 2)
                entry["fraction_of_peak"] = round(flops["per_inference_window"] * rate / PEAK_BF16_FLOPS, 4)
            figures[f"inference_{track}"] = entry
    figures["gpu_memory_used_peak_mib"] = {name: stage.get("gpu_memory_used_peak_mib")
                                           for name, stage in report["stages"].items()
                                           if stage.get("gpu_memory_used_peak_mib") is not None}
    figures["probe_peak_allocated_gib"] = {"training": probe.get("training", {}).get("peak_memory_gib"),
                                           "inference": probe.get("inference", {}).get("peak_memory_gib")}
    return figures


def print_summary(report: dict) -> None:
    print("\n== summary", flush=True)
    for name, stage in report["stages"].items():
        flag = " TIMED OUT" if stage.get("timed_out") else ("" if stage.get("exit_code", 0) == 0 else " FAILED")
        print(f"  {name:<24} {stage['seconds']:>7.1f} s{flag}")
    plan = report.get("plan", {})
    print(f"  plan: {plan.get('epochs')} epochs ({plan.get('reason')})")
    for track, run in report.get("results", {}).items():
        metrics = run["metrics"]
        key = "loc_mIoU" if track == "localization" else "R1_mIoU"
        print(f"  {track}: {run['questions']} questions, {key} {metrics.get(key):.2f}, "
              f"rescore equal: {run.get('rescore_equal')}")
    print("  throughput: " + json.dumps({k: v for k, v in report.get("throughput", {}).items()
                                         if k != "gpu_memory_used_peak_mib"}))
    for deviation in report["deviations"]:
        print(f"  deviation: {deviation}")
    print(f"  wall {report['wall_seconds']} s of {report['budget_seconds']} s")


def split_size(data: Path, split: str) -> int:
    """Questions of a split of a CCGS-layout data folder."""
    return len(json.loads((data / "text" / f"{split}.json").read_text(encoding="utf-8")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carry", type=Path, required=True, help="the folder written by tools/gpu_carry.py build")
    parser.add_argument("--out", type=Path, required=True, help="where the files that come back go ($OUT)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu-tutorialvqa"), help="scratch folder (replaced)")
    parser.add_argument("--started", type=float, default=None, help="when the job began (seconds since the epoch)")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall-time budget of the whole job")
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--train-questions", type=int, default=None, help="a seeded subset (default: all)")
    parser.add_argument("--val-questions", type=int, default=200, help="validation questions of the selection")
    parser.add_argument("--eval-questions", type=int, default=None,
                        help="both tracks on a seeded sample of this many test questions (the rehearsal)")
    parser.add_argument("--corpus-sample", type=int, default=400,
                        help="questions of the corpus track when the whole split does not fit")
    parser.add_argument("--dense-prior", action="store_true", help="train with the dense span prior (improved now)")
    parser.add_argument("--pairs-per-batch", type=int, default=4, help="as the CPU run (improved's)")
    parser.add_argument("--batch-tokens", type=int, default=65536, help="token budget of an inference batch")
    parser.add_argument("--probe-cap-s", type=float, default=150.0)
    parser.add_argument("--probe-timing-pairs", type=int, default=240)
    parser.add_argument("--probe-flop-pairs", type=int, default=8)
    parser.add_argument("--probe-profile-batches", type=int, default=5)
    parser.add_argument("--probe-inference-questions", type=int, default=16)
    return run_job(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
