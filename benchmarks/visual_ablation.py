"""What each change of issue 12 does to `oracle+visual`: one harness run per variant (one change undone), each
tested against the full model's predictions (benchmarks/visual_vs_prior.py) with `vcval compare`; plus
the model trained on synthetic `mini` (320 questions) against the prior there. The per-epoch train loss and
validation R1_mIoU lines of each run are kept.

    OMP_NUM_THREADS=1 python benchmarks/visual_ablation.py --work /tmp/vvp   (after visual_vs_prior.py)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name -> settings that undo one change
    "pytorch-embedding-init": ["visual.embedding_std=1.0"],
    "no-highlighting": ["visual.highlight_weight=0"],
    "no-centering": ["visual.center=false"],
}
EPOCH_LINE = re.compile(r"visual epoch (\d+)/\d+: train loss ([\d.]+), R1_mIoU on validation ([\d.]+)")
METRICS = ("loc_mIoU", "R1_IoU0.5")


def vcval(args: list[str], log: list[dict]) -> str:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vcval", *args], check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    log.append({"command": shlex.join(["vcval", *args]), "seconds": round(time.perf_counter() - began, 1)})
    return done.stderr


def run(system: str, data: Path, out: Path, settings: list[str], log: list[dict]) -> dict:
    extra = [part for setting in settings for part in ("--set", setting)]
    stderr = vcval(["run", system, "--data-dir", str(data), "--task", "localization", "--no-track", "--overwrite",
                    *extra, "--out", str(out)], log)
    manifest = json.loads((out / "manifest.json").read_text())
    scores = json.loads((out / "scores.json").read_text())
    curve = [{"epoch": int(e), "train_loss": float(loss), "validation_R1_mIoU": float(v)}
             for e, loss, v in EPOCH_LINE.findall(stderr)]
    return {"system": system, "settings": settings, "protocol_hash": manifest["protocol_hash"],
            "fingerprint": manifest["protocol"]["data_fingerprint"], "git_commit": manifest["environment"]["git_commit"],
            "git_dirty": manifest["environment"]["git_dirty"], "seconds": manifest.get("wall_time_s"),
            "metrics": {m: scores["metrics"][m] for m in METRICS}, "ci": {m: scores["ci"][m] for m in METRICS},
            "curve": curve, "predictions": str(out / "predictions.jsonl")}


def compare(a: str, b: str, data: Path, out: Path, log: list[dict]) -> dict:
    vcval(["compare", a, b, "--data-dir", str(data), "--split", "test", "--task", "localization", "--metrics",
           ",".join(METRICS), "--json", str(out)], log)
    return json.loads(out.read_text())["metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="the --work folder of visual_vs_prior.py")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--mini-epochs", type=int, default=15)
    args = parser.parse_args()
    work = Path(args.work).resolve()
    data = work / "full-seed0"
    full_model = str(ROOT / "benchmarks/results/visual_vs_prior/seed-0/visual.predictions.jsonl.gz")
    log: list[dict] = []
    result: dict = {"command": "python benchmarks/visual_ablation.py " + shlex.join(sys.argv[1:]),
                    "data": str(data), "against": full_model, "variants": {}, "commands": log}
    for name, settings in VARIANTS.items():
        entry = run("oracle+visual", data, work / f"ablation-{name}", [f"visual.epochs={args.epochs}", *settings], log)
        entry["compare_full_model_vs_variant"] = compare(full_model, entry["predictions"], data,
                                                         work / f"ablation-{name}-compare.json", log)
        result["variants"][name] = entry
        print(name, {m: round(v, 2) for m, v in entry["metrics"].items()}, flush=True)
    mini = work / "mini-seed0"
    if not (mini / "text" / "test.json").exists():
        vcval(["data", "synth", "--size", "mini", "--seed", "0", "--out", str(mini)], log)
    visual = run("oracle+visual", mini, work / "mini-visual", [f"visual.epochs={args.mini_epochs}"], log)
    prior = run("oracle+prior", mini, work / "mini-prior", [], log)
    result["mini"] = {"visual": visual, "prior": prior,
                      "compare_visual_vs_prior": compare(visual["predictions"], prior["predictions"], mini,
                                                         work / "mini-compare.json", log)}
    print("mini", visual["metrics"], prior["metrics"], flush=True)
    target = ROOT / "benchmarks" / "results" / "visual_ablation.json"
    target.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
