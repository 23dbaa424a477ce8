"""Where CCGS's localization errors come from on windowed transcripts: is the top-1 span in the window
that holds the answer, and how good would the answer window's best candidate be?

    python benchmarks/ccgs_window_breakdown.py RUN_FOLDER --data ../shared/data/tutorialvqa \
        --encoder ENCODER --max-len 512

Rebuilds each test video's windows exactly as CCGS plans them (``ccgs.encoding.SubtitleTokens``) and reads
the run's predictions file (localization track). Prints and returns: the share of questions whose top-1
lies inside the answer's window; loc_mIoU of the top-1; loc_mIoU when only candidates inside the answer's
window are kept (the "oracle window" bound); the median distance between top-1 and answer centres.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.data import load_benchmark  # noqa: E402
from benchmark.data.ceiling import span_iou_matrix  # noqa: E402, F401  (same IoU as labels)
from benchmark.predictions import read_predictions  # noqa: E402
from ccgs.encoder import load_encoder  # noqa: E402
from ccgs.encoding import SubtitleTokens  # noqa: E402


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


def breakdown(run: Path, data: Path, encoder: str, max_len: int, overlap: int = 4) -> dict:
    split = load_benchmark(data).split("test")
    tokenizer, _ = load_encoder(encoder, ("[Music]",))
    tokens = SubtitleTokens(tokenizer, max_len, overlap, 64)
    predictions = {p.qid: p for p in read_predictions(run / "predictions.jsonl").predictions}
    inside, top1, oracle, distance = [], [], [], []
    for annotation in split.annotations:
        gold = (annotation.start, annotation.end)
        windows = tokens.windows(split.videos[annotation.video_id])
        best = max(windows, key=lambda w: float(span_iou_matrix(w.starts, w.ends, *gold).max()))
        low, high = float(best.starts.min()), float(best.ends.max())
        candidates = [c for c in predictions[annotation.qid].candidates if c.video_id == annotation.video_id]
        first = candidates[0]
        inside.append(low <= first.start and first.end <= high)
        top1.append(iou((first.start, first.end), gold))
        kept = [c for c in candidates if low <= c.start and c.end <= high]
        oracle.append(iou((kept[0].start, kept[0].end), gold) if kept else 0.0)
        distance.append(abs((first.start + first.end) / 2 - (gold[0] + gold[1]) / 2))
    return {"questions": len(inside), "windowed_share": float(np.mean([len(tokens.windows(split.videos[a.video_id])) > 1
                                                                         for a in split.annotations])),
            "top1_in_answer_window": 100 * float(np.mean(inside)), "loc_mIoU": 100 * float(np.mean(top1)),
            "loc_mIoU_answer_window_only": 100 * float(np.mean(oracle)),
            "median_centre_distance_s": float(np.median(distance))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--max-len", type=int, default=512)
    args = parser.parse_args()
    print(json.dumps(breakdown(args.run, args.data, args.encoder, args.max_len), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
