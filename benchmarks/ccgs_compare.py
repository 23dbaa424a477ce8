"""Score a ``vcval train ccgs`` run beside baselines on exactly the questions it predicted (a bounded CPU
run may predict a seeded subset of the test split), with 95% bootstrap intervals. The baselines run
through the harness (``benchmark.harness.run_system``) into RUN/baselines/.

    python benchmarks/ccgs_compare.py --data-dir ../shared/data/tutorialvqa --run /tmp/ccgs-tvqa \
        --baselines random,bm25+random,bm25,bm25+window
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.data import load_benchmark  # noqa: E402
from benchmark.harness import run_system  # noqa: E402
from benchmark.predictions import read_predictions  # noqa: E402
from benchmark.protocol import load_protocol  # noqa: E402
from benchmark.records import SplitData  # noqa: E402
from benchmark.scoring import score  # noqa: E402

KEYS = ("video_R1", "video_MRR", "R1_IoU0.5", "R1_mIoU", "R5_IoU0.5", "loc_mIoU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True, help="OUT folder of vcval train ccgs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--baselines", default="random,bm25+random,bm25")
    args = parser.parse_args()
    benchmark = load_benchmark(args.data_dir)
    full = benchmark.split(args.split)
    run_folder = args.run / args.split  # vcval train ccgs: OUT/<split>/predictions.jsonl
    old_layout = args.run / f"{args.split}_predictions.jsonl"  # written before the harness ran it
    ccgs = read_predictions(old_layout if old_layout.exists() else run_folder / "predictions.jsonl").predictions
    wanted = {p.qid for p in ccgs}
    annotations = tuple(a for a in full.annotations if a.qid in wanted)
    split = SplitData(full.name, annotations, full.videos)
    order = {a.qid: i for i, a in enumerate(annotations)}
    systems = {"ccgs": sorted(ccgs, key=lambda p: order[p.qid])}
    for name in filter(None, args.baselines.split(",")):
        protocol = load_protocol().replace(split=args.split)
        result = run_system(name, benchmark, args.run / "baselines" / name, protocol=protocol, track=False, echo=False,
                            overwrite=True)
        systems[name] = [p for p in read_predictions(result.predictions_path).predictions if p.qid in wanted]
    rows = {}
    for name, predictions in systems.items():
        report = score(predictions, split, bootstrap=1000, seed=0)
        rows[name] = {k: [round(report.metrics[k], 2), [round(v, 2) for v in report.ci[k]]] for k in KEYS}
    print(f"{len(annotations)} questions of {args.split}, corpus: the split's {len(benchmark.corpus(args.split))} videos")
    print(f"| system | {' | '.join(KEYS)} |\n|---|{'---|' * len(KEYS)}")
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:.1f} [{lo:.1f}, {hi:.1f}]" for v, (lo, hi) in row.values()) + " |")
    (args.run / f"{args.split}_comparison.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
