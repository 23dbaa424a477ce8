"""CCGS corpus inference speed on CPU: (question, video) pairs/s of batched inference (length bucketing,
token-budget batches, padding masks) vs. the authors' one-pair-at-a-time scheme, same model, same run.

    python benchmarks/bench_ccgs_inference.py                  # tiny random-init encoder, synthetic mini
    python benchmarks/bench_ccgs_inference.py --questions 20 --single-questions 4

Both schemes must find the same spans with the same scores (checked: relative 1e-4); the ratio is the headline number.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmark.data import load_benchmark  # noqa: E402
from benchmark.data.synthetic import generate  # noqa: E402
from benchmark.random_encoder import build_random_encoder  # noqa: E402
from ccgs.config import preset  # noqa: E402
from ccgs.encoder import load_encoder  # noqa: E402
from ccgs.encoding import SubtitleTokens  # noqa: E402
from ccgs.features import ClipFeatures  # noqa: E402
from ccgs.inference import InferenceStats, SpanScorer  # noqa: E402
from ccgs.model import CCGSModel  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="mini", choices=("tiny", "mini"))
    parser.add_argument("--questions", type=int, default=20, help="test questions scored batched")
    parser.add_argument("--single-questions", type=int, default=4, help="of those, scored one pair at a time")
    parser.add_argument("--max-len", type=int, default=512)
    parser.add_argument("--batch-tokens", type=int, default=16384)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = generate(Path(scratch) / args.size, args.size, seed=0)
        benchmark = load_benchmark(data_dir, cache_dir=Path(scratch) / "hf-cache")
        texts = [p.text for v in benchmark.videos.values() for p in v.pieces]
        encoder_dir = build_random_encoder(Path(scratch) / "encoder", texts, "tiny", vocab_size=2000)
        config = preset("tiny", max_len=args.max_len)
        torch.manual_seed(0)
        tokenizer, encoder = load_encoder(str(encoder_dir), config.extra_tokens)
        model = CCGSModel(encoder, config).eval()
        tokens = SubtitleTokens(tokenizer, config.max_len, config.window_overlap, config.max_question_tokens)
        scorer = SpanScorer(model, tokens, ClipFeatures(model.clips), "cpu", args.batch_tokens)
        corpus = list(benchmark.corpus("test").values())
        questions = [a.text for a in benchmark.split("test").annotations[: args.questions]]
        few = questions[: args.single_questions]
        scorer.rank(few[:1], [corpus], top_n=100)  # warm-up: token and feature caches, allocator
        scorer.stats = InferenceStats()
        batched = scorer.rank(questions, [corpus] * len(questions), top_n=100)
        batched_stats, scorer.stats = scorer.stats, InferenceStats()
        single = scorer.rank(few, [corpus] * len(few), top_n=100, max_batch_size=1, bucketing=False)
        single_stats = scorer.stats
    worst = 0.0
    for a, b in zip(batched, single, strict=False):  # same spans with the same scores (order may swap on ties)
        scores_a = {(c.video_id, c.start, c.end): c.score for c in a}
        scores_b = {(c.video_id, c.start, c.end): c.score for c in b}
        shared = scores_a.keys() & scores_b.keys()
        worst = max([worst] + [abs(scores_a[k] - scores_b[k]) / max(1.0, abs(scores_b[k])) for k in shared])
        if len(shared) < 0.95 * len(scores_b) or worst > 1e-4:
            print(f"batched and one-pair-at-a-time rankings differ: {len(shared)}/{len(scores_b)} shared spans, "
                  f"largest relative score difference {worst:.2e}", file=sys.stderr)
            return 1
    result = {
        "threads": torch.get_num_threads(), "size": args.size, "corpus_videos": len(corpus),
        "batched": {"pairs": batched_stats.pairs, "windows": batched_stats.windows, "batches": batched_stats.batches,
                    "seconds": round(batched_stats.seconds, 2), "pairs_per_second": round(batched_stats.pairs_per_second, 1)},
        "one_pair_at_a_time": {"pairs": single_stats.pairs, "windows": single_stats.windows,
                               "seconds": round(single_stats.seconds, 2),
                               "pairs_per_second": round(single_stats.pairs_per_second, 1)},
        "speedup": round(batched_stats.pairs_per_second / single_stats.pairs_per_second, 1),
        "largest_relative_score_difference": worst,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
