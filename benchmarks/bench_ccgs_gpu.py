"""GPU check of CCGS (one short run on one GPU): train a few hundred steps of the base-size configuration
(random-init DeBERTa-v3-base shape, visual branch with L = 768) on synthetic ``full`` data, then corpus
inference on the test split, printing training samples/s and (question, video) pairs/s batched vs. the
authors' one-pair-at-a-time scheme.

    PYTHONUNBUFFERED=1 python benchmarks/bench_ccgs_gpu.py --out /tmp/gpu_check      # on the GPU machine
    python benchmarks/bench_ccgs_gpu.py --dry --out /tmp/gpu_dry                       # CPU rehearsal, ~1 min

Everything is generated locally (data, tokenizer, random weights); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmark.data import load_benchmark  # noqa: E402
from benchmark.data.synthetic import generate  # noqa: E402
from benchmark.random_encoder import build_random_encoder  # noqa: E402
from benchmark.systems import TrainingData  # noqa: E402
from ccgs.config import preset  # noqa: E402
from ccgs.encoder import load_encoder  # noqa: E402
from ccgs.encoding import SubtitleTokens  # noqa: E402
from ccgs.features import ClipFeatures  # noqa: E402
from ccgs.inference import InferenceStats, SpanScorer  # noqa: E402
from ccgs.model import CCGSModel  # noqa: E402
from ccgs.training import Trainer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dry", action="store_true", help="CPU rehearsal: tiny data, tiny encoder, few steps")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps of training (one epoch)")
    parser.add_argument("--pairs-per-batch", type=int, default=4)
    parser.add_argument("--max-len", type=int, default=1300)
    parser.add_argument("--single-questions", type=int, default=3,
                        help="questions scored one pair at a time (over the whole test corpus)")
    args = parser.parse_args()
    size, shape = ("tiny", "tiny") if args.dry else ("full", "base")
    steps = min(args.steps, 6) if args.dry else args.steps
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    report: dict = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
                    "torch": torch.__version__, "size": size, "shape": shape}
    print(json.dumps(report), flush=True)

    started = time.perf_counter()
    data_dir = generate(args.out / f"synthetic-{size}", size, seed=0)
    benchmark = load_benchmark(data_dir, cache_dir=args.out / "hf-cache")
    report["data_seconds"] = round(time.perf_counter() - started, 1)
    print(f"data: {report['data_seconds']} s", flush=True)

    texts = [piece.text for video in benchmark.videos.values() for piece in video.pieces]
    texts += [a.text for a in benchmark.split("train").annotations]
    encoder_dir = build_random_encoder(args.out / "encoder", texts, shape, vocab_size=8000)
    config = preset("paper", max_len=args.max_len, epochs=1, pairs_per_batch=args.pairs_per_batch,
                    max_train_examples=steps * args.pairs_per_batch, keep_checkpoints=1)
    if args.dry:
        config = config.replace(max_len=256, inner_dim=64)
    torch.manual_seed(0)
    tokenizer, encoder = load_encoder(str(encoder_dir), config.extra_tokens)
    model = CCGSModel(encoder, config)
    report["parameters_million"] = round(sum(p.numel() for p in model.parameters()) / 1e6, 1)
    tokens = SubtitleTokens(tokenizer, config.max_len, config.window_overlap, config.max_question_tokens)
    features = ClipFeatures(model.clips)

    def save_encoder_files(folder: Path) -> None:
        tokenizer.save_pretrained(folder)
        encoder.config.save_pretrained(folder)

    trainer = Trainer(model, tokens, features, config, args.out / "run", save_encoder_files)
    if device.type == "cuda":
        torch.cuda.synchronize()
    state = trainer.fit(TrainingData(benchmark.split("train"), benchmark.split("val")), evaluate=None)
    epoch = state.history[0]
    report["train"] = {"pairs": epoch.examples, "steps": -(-epoch.examples // config.pairs_per_batch),
                       "seconds": round(epoch.seconds, 1), "pairs_per_second": round(epoch.samples_per_second, 2),
                       "sequences_per_second": round(2 * epoch.samples_per_second, 2), "loss": round(epoch.loss, 4),
                       "mixed_precision": trainer.accelerator.mixed_precision}
    print(json.dumps({"train": report["train"]}), flush=True)

    test = benchmark.split("test")
    corpus = list(benchmark.corpus("test").values())
    autocast = torch.bfloat16 if device.type == "cuda" else None
    scorer = SpanScorer(model.to(device), tokens, features, device, batch_tokens=65536 if device.type == "cuda"
                        else 8192, autocast_dtype=autocast)
    questions = [a.text for a in test.annotations]
    few = questions[: args.single_questions]
    scorer.rank(few, [corpus] * len(few), top_n=100)  # warm-up: kernels, caches of tokens and features
    scorer.stats = InferenceStats()
    batched = scorer.rank(questions, [corpus] * len(questions), top_n=100)
    batched_stats = scorer.stats
    scorer.stats = InferenceStats()
    single = scorer.rank(few, [corpus] * len(few), top_n=100, max_batch_size=1, bucketing=False)
    single_stats = scorer.stats
    same_top = sum(a[0].video_id == b[0].video_id and a[0].start == b[0].start and a[0].end == b[0].end
                   for a, b in zip(batched, single, strict=False))
    report["inference"] = {
        "corpus_videos": len(corpus), "windowed_videos": tokens.windowed_videos,
        "batched": {"questions": len(questions), "pairs": batched_stats.pairs, "windows": batched_stats.windows,
                    "seconds": round(batched_stats.seconds, 2),
                    "pairs_per_second": round(batched_stats.pairs_per_second, 1)},
        "one_pair_at_a_time": {"questions": len(few), "pairs": single_stats.pairs,
                               "seconds": round(single_stats.seconds, 2),
                               "pairs_per_second": round(single_stats.pairs_per_second, 1)},
        "speedup": round(batched_stats.pairs_per_second / single_stats.pairs_per_second, 1),
        "same_top1_batched_vs_single": f"{same_top}/{len(few)}",
    }
    if device.type == "cuda":
        report["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2), flush=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
