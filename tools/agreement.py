"""Agreement of ``vcval score`` with the field's own evaluators on identical inputs.

Runs the original evaluators, unmodified, from local copies of their repositories (never committed):
TVR's ``standalone_eval/eval.py`` (jayleicn/TVRetrieval) and the CCGS authors' CMIVQA evaluator
(``task23/eval.py`` of WENGSYX/CMIVQA_Baseline). The same ranked candidates are written in each
evaluator's format, scored by it, and compared metric by metric with vcval's numbers.

    git clone https://github.com/jayleicn/TVRetrieval /tmp/TVRetrieval
    git clone https://github.com/WENGSYX/CMIVQA_Baseline /tmp/CMIVQA_Baseline
    python tools/agreement.py --tvr /tmp/TVRetrieval --cmivqa /tmp/CMIVQA_Baseline    # a seeded random case
    python tools/agreement.py --tvr ... --cmivqa ... --data-dir ../shared/data/tutorialvqa --split test
    python tools/agreement.py --tvr ... --cmivqa ... --write-golden tests/golden    # refresh the goldens

``--tvr`` and ``--cmivqa`` take a clone of each repository (a work tree, or a bare git folder, whose HEAD
is used).

Candidates never repeat a video (where the evaluators' row counting and vcval's distinct-video ranking
coincide) and times are random reals (no IoU exactly on a threshold, where TVR's float32 arithmetic
and vcval's float64 with tolerance may round differently). Exit status 1 when any compared metric differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmark.data import load_benchmark
from benchmark.records import Annotation, Candidate, Prediction, SplitData, Video
from benchmark.scoring import score

TVR = {"repo": "jayleicn/TVRetrieval", "path": "standalone_eval/eval.py", "option": "--tvr"}
CMIVQA = {"repo": "WENGSYX/CMIVQA_Baseline", "path": "task23/eval.py", "option": "--cmivqa"}
# TVR reports percentages rounded to two decimals and computes in float32. Its value is compared with our
# unrounded one and agrees within 0.01 (one unit of its last decimal), which covers two effects that are not
# disagreements: a tie such as 7.955 reported as 7.95 where we round to 7.96, and, on large files with
# two-decimal times, a span whose IoU is exactly on a threshold that float32 puts just below it (vcval counts
# it, with its 1e-9 tolerance; each such question is 100/N percent: 0.005 with 20,000 questions).
TVR_TOLERANCE = 0.01 + 1e-9

# (vcval key, evaluator key) pairs the issue asks to agree.
TVR_PAIRS = [(f"video_R{k}", f"VR/r{k}") for k in (1, 5, 10, 100)] + [
    (f"R{k}_IoU{m}", f"VCMR/{m}-r{k}") for m in (0.5, 0.7) for k in (1, 5, 10, 100)]
CMIVQA_PAIRS = [("video_R1", "task2/R1"), ("video_R10", "task2/R10"), ("video_R50", "task2/R50"),
                ("R1_mIoU", "task3/R1"), ("R10_mIoU", "task3/R10"), ("R50_mIoU", "task3/R50"),
                ("loc_R1_IoU0.3", "task1/R1_IoU0.3"), ("loc_R1_IoU0.5", "task1/R1_IoU0.5"),
                ("loc_R1_IoU0.7", "task1/R1_IoU0.7"), ("loc_mIoU", "task1/mIoU")]
# Reported for information: the CMIVQA scorer's MRR looks at the first 50 rows only (vcval: all 100).
INFORMATIVE_PAIRS = [("video_MRR", "task2/MRR")]


# ------------------------------------------------------------------------------------------ cases


def random_case(n_questions: int, n_videos: int, n_candidates: int, seed: int,
                decimals: int | None = None) -> tuple[SplitData, list[Prediction]]:
    """A self-contained split (random videos and gold spans) and random ranked predictions for it."""
    rng = np.random.default_rng(seed)
    videos = {}
    for index in range(n_videos):
        video_id = f"vid{index:04d}"
        videos[video_id] = Video(video_id, float(np.round(rng.uniform(60, 900), 2)))
    video_ids = list(videos)
    annotations = []
    for index in range(n_questions):
        video = videos[video_ids[rng.integers(n_videos)]]
        length = rng.uniform(5, min(120, video.duration / 2))
        start = rng.uniform(0, video.duration - length)
        annotations.append(Annotation(f"q{index:04d}", f"question {index}", video.video_id,
                                      _round(start, decimals), _round(start + length, decimals), video.duration))
    split = SplitData("test", tuple(annotations), videos)
    return split, random_predictions(split, videos, n_candidates, rng, decimals)


def _round(value: float, decimals: int | None) -> float:
    return float(value) if decimals is None else float(round(value, decimals))


def random_predictions(split: SplitData, corpus: dict[str, Video], n_candidates: int,
                       rng: np.random.Generator, decimals: int | None = None) -> list[Prediction]:
    """Distinct videos per question; the gold video at a random rank (or absent); its spans jittered
    around the gold span so that IoUs spread over every threshold."""
    video_ids = list(corpus)
    predictions = []
    for annotation in split.annotations:
        others = [v for v in video_ids if v != annotation.video_id]
        count = min(n_candidates, len(others))
        chosen = list(rng.choice(others, size=count, replace=False))
        draw = rng.random()
        if draw < 0.7:  # near the top
            chosen[int(min(rng.geometric(0.15) - 1, count - 1))] = annotation.video_id
        elif draw < 0.9:  # anywhere in the list
            chosen[int(rng.integers(count))] = annotation.video_id
        candidates = []
        for rank, video_id in enumerate(chosen):
            duration = corpus[video_id].duration
            if video_id == annotation.video_id:
                length = annotation.end - annotation.start
                start = max(0.0, annotation.start + rng.normal(0, length * 0.4))
                end = min(duration, max(start, annotation.end + rng.normal(0, length * 0.4)))
            else:
                start = rng.uniform(0, duration * 0.8)
                end = rng.uniform(start, duration)
            start, end = _round(start, decimals), _round(end, decimals)
            candidates.append(Candidate(str(video_id), start, max(start, end), _round(1.0 - rank / count, 4)))
        predictions.append(Prediction(annotation.qid, tuple(candidates)))
    return predictions


def data_case(data_dir: Path, split_name: str, n_candidates: int, seed: int) -> tuple[SplitData, list[Prediction]]:
    """Real gold answers and corpus from a data folder, random predictions."""
    benchmark = load_benchmark(data_dir)
    split = benchmark.split(split_name)
    corpus = benchmark.corpus(split_name, "full")
    return split, random_predictions(split, corpus, n_candidates, np.random.default_rng(seed))


# -------------------------------------------------------------------------------- evaluator formats


def write_tvr(split: SplitData, predictions: list[Prediction], folder: Path) -> tuple[Path, Path]:
    """TVR's submission (VCMR and VR) and ground-truth JSONL."""
    video_ids = sorted({c.video_id for p in predictions for c in p.candidates} | {a.video_id for a in split.annotations})
    video2idx = {video_id: index for index, video_id in enumerate(video_ids)}
    desc_id = {a.qid: index for index, a in enumerate(split.annotations)}
    vcmr, vr = [], []
    for prediction in predictions:
        rows = [[video2idx[c.video_id], c.start, c.end, c.score if c.score is not None else 0.0]
                for c in prediction.candidates]
        vcmr.append({"desc_id": desc_id[prediction.qid], "desc": prediction.qid, "predictions": rows})
        seen: list[int] = []
        for row in rows:
            if row[0] not in seen:
                seen.append(row[0])
        vr.append({"desc_id": desc_id[prediction.qid], "desc": prediction.qid,
                   "predictions": [[index, 0, 0, 0.0] for index in seen]})
    submission = folder / "tvr_submission.json"
    submission.write_text(json.dumps({"video2idx": video2idx, "VCMR": vcmr, "VR": vr}))
    ground_truth = folder / "tvr_gt.jsonl"
    ground_truth.write_text("".join(
        json.dumps({"desc_id": desc_id[a.qid], "desc": a.text, "vid_name": a.video_id, "ts": [a.start, a.end],
                    "duration": a.video_duration, "type": "v"}) + "\n" for a in split.annotations))
    return submission, ground_truth


def write_cmivqa(split: SplitData, predictions: list[Prediction], folder: Path) -> tuple[Path, Path, Path]:
    """CMIVQA target, track 2/3 output (rows [video_id, start, end]) and track 1 output (the first
    candidate in the gold video; questions with none are left out, which that scorer counts as 0)."""
    target = folder / "cmivqa_target.json"
    target.write_text(json.dumps([{"id": a.qid, "video_id": a.video_id, "start_second": a.start,
                                   "end_second": a.end} for a in split.annotations]))
    corpus_output = folder / "cmivqa_pred_task23.json"
    corpus_output.write_text(json.dumps([{"id": p.qid, "output": [[c.video_id, c.start, c.end] for c in p.candidates]}
                                         for p in predictions]))
    single = []
    for prediction in predictions:
        gold = split.by_qid[prediction.qid].video_id
        first = next((c for c in prediction.candidates if c.video_id == gold), None)
        if first is not None:
            single.append({"id": prediction.qid, "start_second": first.start, "end_second": first.end})
    single_output = folder / "cmivqa_pred_task1.json"
    single_output.write_text(json.dumps(single))
    return target, corpus_output, single_output


# ------------------------------------------------------------------------------------- evaluators


def export_evaluator(source: dict, clone: Path | None, folder: Path) -> tuple[Path, str]:
    """Copy an evaluator file out of ``clone`` (a clone of its repository: a work tree, or a bare git
    folder whose HEAD is read); returns its path and the commit."""
    how = (f"give {source['option']} DIR, a clone of https://github.com/{source['repo']} "
           f"(git clone https://github.com/{source['repo']} DIR)")
    if clone is None:
        raise SystemExit(f"the {source['repo']} evaluator is needed: {how}")
    if not clone.is_dir():
        raise SystemExit(f"{source['option']} {clone}: no such folder; {how}")
    git = ["git", "-C", str(clone)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    commit = head.stdout.strip() if head.returncode == 0 else "unknown (not a git clone)"
    if (clone / source["path"]).is_file():
        text = (clone / source["path"]).read_text()
    else:
        shown = subprocess.run([*git, "show", f"HEAD:{source['path']}"], capture_output=True, text=True)
        if shown.returncode != 0:
            raise SystemExit(f"{source['option']} {clone}: holds no {source['path']}; {how}")
        text = shown.stdout
    path = folder / source["repo"].replace("/", "+") / source["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path, commit


def tvr_agrees(ours: float, theirs: float) -> bool:
    """Whether TVR's two-decimal value is a rounding of our unrounded one (see :data:`TVR_TOLERANCE`)."""
    return abs(ours - theirs) <= TVR_TOLERANCE


def run_tvr(eval_py: Path, submission: Path, ground_truth: Path) -> dict[str, float]:
    """TVR's own command line; its results file, flattened to ``TASK/key``."""
    save = submission.with_name("tvr_metrics.json")
    subprocess.run([sys.executable, str(eval_py), "--submission_path", str(submission), "--gt_path",
                    str(ground_truth), "--save_path", str(save), "--not_verbose"], check=True, capture_output=True)
    results = json.loads(save.read_text())
    return {f"{task}/{key}": value for task in ("VCMR", "VR") for key, value in results[task].items()}


_CMIVQA_RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import eval as cmivqa
target = json.load(open(sys.argv[2]))
corpus_output = json.load(open(sys.argv[3]))
single_output = json.load(open(sys.argv[4]))
i3, i5, i7, miou = cmivqa.get_task1_score(target, single_output)
r1, r10, r50, mrr = cmivqa.get_task2_score(target, corpus_output)
m1, m10, m50 = cmivqa.get_task3_score(target, corpus_output)
print(json.dumps({"task1/R1_IoU0.3": i3, "task1/R1_IoU0.5": i5, "task1/R1_IoU0.7": i7, "task1/mIoU": miou,
                  "task2/R1": r1, "task2/R10": r10, "task2/R50": r50, "task2/MRR": mrr,
                  "task3/R1": m1, "task3/R10": m10, "task3/R50": m50}))
"""


def run_cmivqa(eval_py: Path, target: Path, corpus_output: Path, single_output: Path) -> dict[str, float]:
    """The CMIVQA scorer's functions (its command line compares the string --task to ints, so only
    track 1 is reachable from it). Tracks 2 and 3 return fractions: scaled to percent here."""
    completed = subprocess.run([sys.executable, "-c", _CMIVQA_RUNNER, str(eval_py.parent), str(target),
                                str(corpus_output), str(single_output)], capture_output=True, text=True, check=True)
    raw = json.loads(completed.stdout.strip().splitlines()[-1])
    return {key: value if key.startswith("task1/") else value * 100.0 for key, value in raw.items()}


# --------------------------------------------------------------------------------------- compare


def ours(split: SplitData, predictions: list[Prediction]) -> dict[str, float]:
    return score(predictions, split, bootstrap=0).metrics


def compare_rows(our_metrics: dict, theirs: dict, pairs, tvr_rounding: bool) -> list[dict]:
    rows = []
    for our_key, their_key in pairs:
        mine = our_metrics[our_key]
        # TVR rounds to 2 decimals (our unrounded value is compared); CMIVQA reports full floats (its sums may
        # differ in the last ulp).
        agree = tvr_agrees(mine, theirs[their_key]) if tvr_rounding else \
            abs(mine - theirs[their_key]) <= 1e-9 * max(1.0, abs(mine))
        rows.append({"vcval": our_key, "evaluator": their_key, "ours": mine, "theirs": theirs[their_key],
                     "agree": bool(agree)})
    return rows


def add_evaluator_arguments(parser: argparse.ArgumentParser, cmivqa: bool = True) -> None:
    parser.add_argument("--tvr", type=Path, default=None, metavar="DIR",
                        help="a clone of https://github.com/jayleicn/TVRetrieval (its standalone_eval/eval.py is run)")
    if cmivqa:
        parser.add_argument("--cmivqa", type=Path, default=None, metavar="DIR",
                            help="a clone of https://github.com/WENGSYX/CMIVQA_Baseline (its task23/eval.py is run)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="use this data folder's gold (default: random)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--questions", type=int, default=200, help="random case: questions")
    parser.add_argument("--videos", type=int, default=150, help="random case: videos")
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decimals", type=int, default=None, help="round every time to this many decimals")
    parser.add_argument("--workdir", type=Path, default=None, help="where evaluator copies and inputs go (default: a temp dir)")
    parser.add_argument("--write-golden", type=Path, default=None,
                        help="write the inputs and the evaluators' outputs here as golden files for the unit tests")
    parser.add_argument("--json", type=Path, default=None, help="write the comparison here")
    add_evaluator_arguments(parser)
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vcval-agreement-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.data_dir:
        split, predictions = data_case(args.data_dir, args.split, args.candidates, args.seed)
        case = f"gold of {args.data_dir} ({split.name}), random predictions seed {args.seed}"
    else:
        split, predictions = random_case(args.questions, args.videos, args.candidates, args.seed, args.decimals)
        case = (f"random case: {args.questions} questions, {args.videos} videos, {args.candidates} candidates, "
                f"seed {args.seed}, decimals {args.decimals}")

    tvr_py, tvr_commit = export_evaluator(TVR, args.tvr, workdir / "evaluators")
    cmivqa_py, cmivqa_commit = export_evaluator(CMIVQA, args.cmivqa, workdir / "evaluators")
    tvr_results = run_tvr(tvr_py, *write_tvr(split, predictions, workdir))
    cmivqa_results = run_cmivqa(cmivqa_py, *write_cmivqa(split, predictions, workdir))
    metrics = ours(split, predictions)

    rows = (compare_rows(metrics, tvr_results, TVR_PAIRS, tvr_rounding=True)
            + compare_rows(metrics, cmivqa_results, CMIVQA_PAIRS, tvr_rounding=False))
    informative = compare_rows(metrics, cmivqa_results, INFORMATIVE_PAIRS, tvr_rounding=False)
    print(case)
    print(f"TVR standalone_eval @ {tvr_commit[:12]}, CMIVQA task23/eval.py @ {cmivqa_commit[:12]}")
    print(f"{'vcval':<15} {'evaluator':<20} {'vcval value':>12} {'evaluator value':>16}  agree")
    for row in rows:
        print(f"{row['vcval']:<15} {row['evaluator']:<20} {row['ours']:12.4f} {row['theirs']:16.4f}  "
              f"{'yes' if row['agree'] else 'NO'}")
    for row in informative:
        print(f"{row['vcval']:<15} {row['evaluator']:<20} {row['ours']:12.4f} {row['theirs']:16.4f}  "
              f"{'same' if row['agree'] else 'differs'} (informative: that scorer truncates MRR at 50 rows)")
    disagreements = [row for row in rows if not row["agree"]]
    print(f"\n{len(rows) - len(disagreements)}/{len(rows)} metrics agree")

    provenance = {"tvr": {**TVR, "commit": tvr_commit}, "cmivqa": {**CMIVQA, "commit": cmivqa_commit}}
    if args.json:
        args.json.write_text(json.dumps({"case": case, "evaluators": provenance, "rows": rows,
                                         "informative": informative}, indent=2) + "\n")
    if args.write_golden:
        write_golden(args.write_golden, split, workdir, provenance, tvr_results, cmivqa_results, case)
    return 1 if disagreements else 0


def write_golden(folder: Path, split: SplitData, workdir: Path, provenance: dict, tvr_results: dict,
                 cmivqa_results: dict, case: str) -> None:
    """The inputs in each evaluator's format and what the evaluators printed for them."""
    folder.mkdir(parents=True, exist_ok=True)
    golden = {
        "produced_by": "python tools/agreement.py " + " ".join(sys.argv[1:]) + " (the original evaluators, unmodified)",
        "case": case,
        "evaluators": provenance,
        "gold": [{"qid": a.qid, "video_id": a.video_id, "start": a.start, "end": a.end,
                  "video_duration": a.video_duration} for a in split.annotations],
        "videos": {video_id: video.duration for video_id, video in split.videos.items()},
        "tvr_submission": json.loads((workdir / "tvr_submission.json").read_text()),
        "cmivqa_output": json.loads((workdir / "cmivqa_pred_task23.json").read_text()),
        "cmivqa_single_output": json.loads((workdir / "cmivqa_pred_task1.json").read_text()),
        "tvr_results": tvr_results,
        "cmivqa_results": cmivqa_results,
        "tvr_pairs": TVR_PAIRS,
        "cmivqa_pairs": CMIVQA_PAIRS,
    }
    path = folder / "agreement.json"
    path.write_text(json.dumps(golden) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
