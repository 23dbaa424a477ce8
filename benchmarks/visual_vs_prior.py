"""`oracle+visual` against `oracle+prior` on synthetic `full`, localization track, for generator seeds 0 and 1
(issue 12, part 1).

For each generator seed: generate the data (`vcval data synth --size full --seed S`), run the no-training
probe (benchmarks/visual_probe.py), run both systems through the harness (`vcval run`, protocol
`medvidcqa-paper`, task localization, 155 test questions), test the difference with a paired test
(`vcval compare`, approximate randomization, Holm across the tested metrics), copy both predictions files
gzipped to RESULTS/visual_vs_prior/seed-S/, re-score the gzipped copies with `vcval score` and check that
they give the recorded metrics. Everything, with the commands, goes to RESULTS/visual_vs_prior.json.

    OMP_NUM_THREADS=1 python benchmarks/visual_vs_prior.py --work /tmp/vvp [--seeds 0 1] [--epochs 4]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))
from visual_probe import run_probe  # noqa: E402

METRICS = ("loc_mIoU", "R1_IoU0.5", "R1_IoU0.7", "R10_IoU0.5")
TESTED = "loc_mIoU,R1_IoU0.5"


def vcval(*args: str, log: list[dict]) -> float:
    command = ["vcval", *args]
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vcval", *args], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = round(time.perf_counter() - began, 1)
    log.append({"command": shlex.join(command), "seconds": seconds})
    return seconds


def shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (as committed), else absolute."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def gzip_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as raw, gzip.GzipFile(target, "wb", mtime=0) as packed:
        shutil.copyfileobj(raw, packed)


def one_seed(seed: int, work: Path, results: Path, epochs: int) -> dict:
    log: list[dict] = []
    data = work / f"full-seed{seed}"
    if not (data / "text" / "test.json").exists():
        vcval("data", "synth", "--size", "full", "--seed", str(seed), "--out", str(data), log=log)
    probe = run_probe(str(data))
    probe["command"] = f"python benchmarks/visual_probe.py --data {data}"
    systems = {"prior": ("oracle+prior", []), "visual": ("oracle+visual", ["--set", f"visual.epochs={epochs}"])}
    runs = {}
    for name, (system, extra) in systems.items():
        out = work / f"seed{seed}-{name}"
        vcval("run", system, "--data-dir", str(data), "--task", "localization", "--no-track", "--quiet",
              "--overwrite", *extra, "--out", str(out), log=log)
        manifest = json.loads((out / "manifest.json").read_text())
        scores = json.loads((out / "scores.json").read_text())
        packed = results / "visual_vs_prior" / f"seed-{seed}" / f"{name}.predictions.jsonl.gz"
        gzip_copy(out / "predictions.jsonl", packed)
        rescored = work / f"seed{seed}-{name}-rescored.json"
        vcval("score", shown(packed), "--data-dir", str(data), "--split", "test", "--task",
              "localization", "--json", str(rescored), log=log)
        again = json.loads(rescored.read_text())
        matches = all(math.isclose(again["metrics"][m], scores["metrics"][m], abs_tol=1e-9) for m in METRICS)
        if not matches:
            raise SystemExit(f"re-scoring {packed} does not give the recorded metrics")
        runs[name] = {"system": system, "run_dir": str(out), "predictions": shown(packed),
                      "protocol_hash": manifest.get("protocol_hash"),
                      "fingerprint": manifest.get("protocol", {}).get("data_fingerprint"),
                      "config": manifest.get("config"), "seconds": manifest.get("wall_time_s"),
                      "metrics": {m: scores["metrics"][m] for m in METRICS},
                      "ci": {m: scores["ci"][m] for m in METRICS}, "rescored_equal": matches}
    comparison = work / f"seed{seed}-compare.json"
    vcval("compare", runs["visual"]["predictions"], runs["prior"]["predictions"], "--data-dir", str(data),
          "--split", "test", "--task", "localization", "--metrics", TESTED, "--json", str(comparison), log=log)
    return {"generator_seed": seed, "fingerprint": probe["fingerprint"], "probe": probe, "runs": runs,
            "compare": json.loads(comparison.read_text()), "commands": log}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="folder for the data sets and run folders")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=4, help="visual.epochs")
    args = parser.parse_args()
    work, results = Path(args.work).resolve(), Path(args.results).resolve()
    out = {"command": "python benchmarks/visual_vs_prior.py " + shlex.join(sys.argv[1:]),
           "seeds": [one_seed(seed, work, results, args.epochs) for seed in args.seeds]}
    target = results / "visual_vs_prior.json"
    target.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    for entry in out["seeds"]:
        runs = entry["runs"]
        print(f"generator seed {entry['generator_seed']}: probe {entry['probe']['results']['probe']['loc_mIoU']:.2f}, "
              f"visual {runs['visual']['metrics']['loc_mIoU']:.2f}, prior {runs['prior']['metrics']['loc_mIoU']:.2f}")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
