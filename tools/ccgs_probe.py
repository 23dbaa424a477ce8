"""Where CCGS's training and inference time goes, with the settings of a `vcval run ccgs` command line, in
about a minute on a GPU: the speed probe of the GPU job (tools/gpu_tutorialvqa.py), usable on its own.

    python tools/ccgs_probe.py --data-dir DATA --set encoder=ENC --set visual=false --set max_len=512 \\
        --work /tmp/probe --json probe.json

The system is built as the harness builds it (`--set` parsed as `vcval run` does, the protocol's settings
filled in, `benchmark.registry.create_system`) and trained through its own `fit` on seeded subsets of the
training split, three times:

* a few pairs under torch's `FlopCounterMode`: FLOPs per training pair (forward and backward of every
  sequence, negatives and dense prior included) and per inference window (the validation forwards);
* a few batches under `torch.profiler` (after two warm-up batches): the top operators by device time and by
  CPU time, kernels per batch, and how much of each batch's wall time the device was busy;
* `--timing-pairs` pairs, timed: training pairs/s, the median batch time, the padding share of the batches
  (1 - real tokens / padded tokens), peak GPU memory; then inference on `--inference-questions` questions
  over the whole corpus: windows/s and peak memory.

It also counts the windows each stage of the job will score (corpus and localization tracks of the evaluated
split, the validation subset), with the model's own tokenizer and max_len.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmark.data import load_benchmark  # noqa: E402
from benchmark.harness.isolation import system_inputs  # noqa: E402
from benchmark.harness.runner import system_config  # noqa: E402
from benchmark.harness.settings import resolve_config  # noqa: E402
from benchmark.protocol import load_protocol  # noqa: E402
from benchmark.registry import create_system, protocol_keys, resolve_system  # noqa: E402
from ccgs.model import CCGSModel  # noqa: E402


class ForwardLog:
    """Every CCGSModel forward of the process (a global hook, since the system builds its model inside
    ``fit``): training or not, batch size, real and padded tokens, wall-clock time at the start; and, when
    a FLOP counter is given, the FLOPs counted during each inference forward."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.on_training_forward = None
        self.flop_counter = None
        self._flops_before = 0

    def __enter__(self):
        hooks = torch.nn.modules.module
        self._handles = [hooks.register_module_forward_pre_hook(self._before),
                         hooks.register_module_forward_hook(self._after)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def _before(self, module, args) -> None:
        if not isinstance(module, CCGSModel):
            return
        mask = args[0].attention_mask
        self.records.append({"training": module.training, "rows": int(mask.shape[0]), "padded": int(mask.numel()),
                             "real": int(mask.sum()), "time": time.perf_counter()})
        if self.flop_counter is not None:
            self._flops_before = self.flop_counter.get_total_flops()
        if module.training and self.on_training_forward is not None:
            self.on_training_forward()

    def _after(self, module, args, output) -> None:
        if isinstance(module, CCGSModel) and self.flop_counter is not None:
            self.records[-1]["flops"] = self.flop_counter.get_total_flops() - self._flops_before

    def clear(self) -> None:
        self.records = []


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_memory_gib() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None


def reset_peak_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def padding(records: list[dict]) -> float | None:
    padded = sum(r["padded"] for r in records)
    return round(1 - sum(r["real"] for r in records) / padded, 4) if padded else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--protocol", default=None, help="as `vcval run --protocol` (default medvidcqa-paper)")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                        help="a system option, as `vcval run ccgs --set`")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (the probe's models)")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--flop-pairs", type=int, default=8)
    parser.add_argument("--profile-batches", type=int, default=5)
    parser.add_argument("--timing-pairs", type=int, default=240)
    parser.add_argument("--inference-questions", type=int, default=16)
    parser.add_argument("--probe-val-questions", type=int, default=4,
                        help="validation questions of each probe fit (its speed is measured by inference)")
    args = parser.parse_args()
    started = time.perf_counter()
    report: dict = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                    "torch": torch.__version__}

    benchmark = load_benchmark(args.data_dir)
    protocol = load_protocol(args.protocol).bind(benchmark.name, benchmark.fingerprint)
    inputs = system_inputs(benchmark, protocol)
    report["data_load_seconds"] = round(time.perf_counter() - started, 1)
    entry = resolve_system("ccgs")
    given = resolve_config(None, args.assignments)

    def fit(name: str, pairs: int | None = None, batches: int | None = None):
        """A system trained for one epoch on a seeded subset of ``pairs`` questions (or ``batches`` batches)."""
        config, _ = system_config({**given, "epochs": 1, "progress": False, "out_dir": str(args.work / name),
                                   "max_val_questions": args.probe_val_questions},
                                  protocol_keys(entry), protocol, protocol.seeds[0])
        config["max_train_examples"] = pairs or batches * create_system("ccgs", config).config.pairs_per_batch
        system = create_system("ccgs", config)
        began = time.perf_counter()
        system.fit(inputs.training)
        synchronize()
        return system, time.perf_counter() - began

    with ForwardLog() as log:
        # 1. FLOPs (also the warm-up: CUDA context, kernels, caches), 2. a profile: each may fail on its own
        for name, measure in (("flops", measure_flops), ("profile", measure_profile)):
            try:
                report[name] = measure(log, fit, args)
            except Exception as error:  # a measurement of the probe, not the job's result: report and go on
                report[name] = {"error": f"{type(error).__name__}: {error}"}
            print(json.dumps({name: {k: v for k, v in report[name].items() if k != "top_ops"}}), flush=True)

        # 3. timed training, then inference
        log.clear()
        reset_peak_memory()
        system, fit_seconds = fit("timing", args.timing_pairs)
        epoch = system.training_state.history[0]
        training = [r for r in log.records if r["training"]]
        batch_seconds = [b["time"] - a["time"] for a, b in zip(training[2:], training[3:], strict=False)]
        report["training"] = {
            "pairs": epoch.examples, "pairs_per_batch": system.config.pairs_per_batch, "epoch_seconds": round(epoch.seconds, 2),
            "pairs_per_second": round(epoch.samples_per_second, 2),
            "median_batch_seconds": round(statistics.median(batch_seconds), 4) if batch_seconds else None,
            "padding_fraction": padding(training),
            "sequences_per_batch": round(statistics.mean(r["rows"] for r in training), 2) if training else None,
            "padded_length_mean": round(statistics.mean(r["padded"] / r["rows"] for r in training), 1) if training else None,
            "fit_overhead_seconds": round(fit_seconds - epoch.seconds, 2),
            "peak_memory_gib": peak_memory_gib(),
        }
        print(json.dumps({"training": report["training"]}), flush=True)

        questions = list(inputs.queries) if protocol.task == "corpus" else [a.question for a in benchmark.split(protocol.split).annotations]
        corpus = dict(inputs.corpus)
        system.predict(questions[:1], corpus, protocol.max_candidates)  # warm-up: piece caches, kernels
        log.clear()
        reset_peak_memory()
        system.scorer.stats = type(system.scorer.stats)()
        system.predict(questions[: args.inference_questions], corpus, protocol.max_candidates)
        stats = system.scorer.stats
        report["inference"] = {"questions": min(args.inference_questions, len(questions)), "windows": stats.windows,
                               "seconds": round(stats.seconds, 2),
                               "windows_per_second": round(stats.windows / stats.seconds, 1) if stats.seconds else None,
                               "padding_fraction": padding(log.records), "batch_tokens": system.config.batch_tokens,
                               "peak_memory_gib": peak_memory_gib()}
        print(json.dumps({"inference": report["inference"]}), flush=True)

    report["windows"] = window_counts(system, benchmark, protocol, corpus)
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"windows": report["windows"], "seconds": report["seconds"]}), flush=True)
    return 0


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose hooks fail under ``torch.inference_mode`` (CCGS's
    inference): FLOPs are counted in total only."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def measure_flops(log: ForwardLog, fit, args) -> dict:
    """FLOPs per training pair (forward and backward of every sequence of the loss) and per inference window
    (the validation forwards of the same fit, counted apart by the forward hook)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    log.clear()
    with counter:
        log.flop_counter = counter
        try:
            system, _ = fit("flops", args.flop_pairs)
        finally:
            log.flop_counter = None
        total = counter.get_total_flops()
    inference = [r for r in log.records if not r["training"]]
    inference_flops = sum(r.get("flops", 0) for r in inference)
    inference_windows = sum(r["rows"] for r in inference)
    trained = system.training_state.history[0].examples
    return {"per_training_pair": round((total - inference_flops) / trained),
            "per_inference_window": round(inference_flops / inference_windows) if inference_windows else None,
            "counted_on": f"{trained} training pairs, {inference_windows} inference windows"}


def measure_profile(log: ForwardLog, fit, args) -> dict:
    """torch.profiler over ``--profile-batches`` training batches, after one batch of warm-up."""
    from torch.profiler import ProfilerActivity, profile, schedule

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    active = args.profile_batches
    log.clear()
    with profile(activities=activities, schedule=schedule(wait=1, warmup=1, active=active, repeat=1)) as prof:
        log.on_training_forward = prof.step
        try:
            fit("profile", batches=active + 3)
        finally:
            log.on_training_forward = None
    starts = [r["time"] for r in log.records if r["training"]]
    wall = starts[1 + active] - starts[1] if len(starts) > 1 + active else None
    return profile_summary(prof, active, wall)


def profile_summary(prof, batches: int, wall: float | None) -> dict:
    """The top operators by device time and by CPU time over the profiled batches, per batch."""
    from torch.autograd import DeviceType

    averages = prof.key_averages()
    device_total = sum(e.self_device_time_total for e in averages) / 1e6
    kernels = sum(1 for e in prof.events() if e.device_type == DeviceType.CUDA)

    def top(key: str, count: int = 12) -> list[dict]:
        rows = sorted(averages, key=lambda e: -getattr(e, key))[:count]
        return [{"op": e.key[:80], "calls_per_batch": round(e.count / batches, 1),
                 "self_device_ms_per_batch": round(e.self_device_time_total / 1e3 / batches, 3),
                 "self_cpu_ms_per_batch": round(e.self_cpu_time_total / 1e3 / batches, 3)} for e in rows]

    summary = {"batches": batches, "wall_seconds_per_batch": round(wall / batches, 4) if wall else None,
               "device_seconds_per_batch": round(device_total / batches, 4),
               "device_busy_fraction": round(device_total / wall, 3) if wall and device_total else None,
               "kernels_per_batch": round(kernels / batches, 1),
               "top_ops": {"by_device_time": top("self_device_time_total") if device_total else [],
                           "by_cpu_time": top("self_cpu_time_total")}}
    return summary


def window_counts(system, benchmark, protocol, corpus) -> dict:
    """(question, window) inputs of each stage: corpus track per question, localization track in all, and per
    validation question (the mean over the validation split)."""
    tokens = system.scorer.tokens
    per_video = {video_id: len(tokens.windows(video)) for video_id, video in corpus.items()}
    evaluated = benchmark.split(protocol.split)
    validation = benchmark.split("val")
    val_windows = [len(tokens.windows(validation.videos[a.video_id])) for a in validation.annotations]
    return {"max_len": tokens.max_len, "corpus_videos": len(per_video),
            "corpus_per_question": sum(per_video.values()),
            "evaluated_questions": len(evaluated.annotations),
            "localization": sum(len(tokens.windows(evaluated.videos[a.video_id])) for a in evaluated.annotations),
            "validation_per_question": round(statistics.mean(val_windows), 3) if val_windows else 0}


if __name__ == "__main__":
    sys.exit(main())
