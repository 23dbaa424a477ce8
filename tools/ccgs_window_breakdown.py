"""Where CCGS's localization errors come from on windowed transcripts: is the top-1 span in the window
that holds the answer, and how good would the answer window's best candidate be?

    python tools/ccgs_window_breakdown.py RUN_FOLDER --data ../shared/data/tutorialvqa \
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
from benchmark.data.ceiling import span_iou_matrix  # noqa: E402
from benchmark.metrics import temporal_iou  # noqa: E402
from benchmark.predictions import read_predictions  # noqa: E402
from ccgs.encoder import load_encoder  # noqa: E402
from ccgs.encoding import SubtitleTokens  # noqa: E402


def breakdown(run: Path, data: Path, encoder: str, max_len: int, overlap: int = 4) -> dict:
    split = load_benchmark(data).split("test")
    tokenizer, _ = load_encoder(encoder, ("[Music]",))
    tokens = SubtitleTokens(tokenizer, max_len, overlap, 64)
    predictions = {p.qid: p for p in read_predictions(run / "predictions.jsonl").predictions}
    gold, top1, oracle, inside, windowed = [], [], [], [], []
    for annotation in split.annotations:
        windows = tokens.windows(split.videos[annotation.video_id])
        windowed.append(len(windows) > 1)
        best = max(windows, key=lambda w: float(span_iou_matrix(w.starts, w.ends, annotation.start,
                                                                annotation.end).max()))
        low, high = float(best.starts.min()), float(best.ends.max())
        candidates = [c for c in predictions[annotation.qid].candidates if c.video_id == annotation.video_id]
        kept = [c for c in candidates if low <= c.start and c.end <= high]
        gold.append((annotation.start, annotation.end))
        top1.append((candidates[0].start, candidates[0].end))
        oracle.append((kept[0].start, kept[0].end) if kept else (np.nan, np.nan))  # no candidate: IoU 0
        inside.append(bool(kept) and kept[0] is candidates[0])
    gold_spans, top1_spans, oracle_spans = (np.array(spans, dtype=np.float64) for spans in (gold, top1, oracle))
    top1_iou = temporal_iou(top1_spans[:, 0], top1_spans[:, 1], gold_spans[:, 0], gold_spans[:, 1])
    oracle_iou = temporal_iou(oracle_spans[:, 0], oracle_spans[:, 1], gold_spans[:, 0], gold_spans[:, 1])
    distance = np.abs(top1_spans.mean(axis=1) - gold_spans.mean(axis=1))
    return {"questions": len(gold), "windowed_share": float(np.mean(windowed)),
            "top1_in_answer_window": 100 * float(np.mean(inside)), "loc_mIoU": 100 * float(top1_iou.mean()),
            "loc_mIoU_answer_window_only": 100 * float(oracle_iou.mean()),
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
