"""CPU threads of `vcval train ccgs` on a quiet machine and beside a busy process, in one run.

For each condition (quiet; beside one busy process this script starts, a Python loop killed after the
run) and each thread setting (``OMP_NUM_THREADS=1``, ``OMP_NUM_THREADS=2``, and neither: the automatic
choice of ``ccgs.threads``), one `vcval train ccgs` on synthetic tiny (preset tiny, 2 epochs, text only,
the tests' tiny random-init encoder). Reported: training examples per second of each epoch (from
``training_summary.json``; validation and inference excluded) and the threads each epoch used.

    OMP_NUM_THREADS= python benchmarks/bench_threads.py --work /tmp/threads \
        --json benchmarks/results/bench_threads.json

"Quiet" means no process started by this script; whatever else runs on the machine is recorded with the
results (the load average and the other processes' CPU use measured before each run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ccgs.threads import cpu_sample, others_busy, usable_cores  # noqa: E402

SETTINGS = {"1 thread": "1", "2 threads": "2", "automatic": None}
BUSY = [sys.executable, "-c", "import time\nend = time.time() + 900\nwhile time.time() < end: pass"]


def prepare(work: Path) -> tuple[Path, Path]:
    data = work / "tiny"
    if not (data / "text").exists():
        subprocess.run([sys.executable, "-m", "vcval", "data", "synth", "--out", str(data),
                        "--size", "tiny", "--seed", "0"], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    from tests.ccgs_support import tiny_encoder

    return data, tiny_encoder(data)


def measure_others(seconds: float = 2.0) -> float | None:
    cores = usable_cores()
    before = cpu_sample(cores)
    time.sleep(seconds)
    return others_busy(before, cpu_sample(cores))


def train(data: Path, encoder: Path, out: Path, omp: str | None, epochs: int) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT)
    if omp is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = omp
    command = [sys.executable, "-m", "vcval", "train", "ccgs", "--data-dir", str(data), "--encoder",
               str(encoder), "--out", str(out), "--overwrite", "--preset", "tiny", "--epochs", str(epochs),
               "--max-len", "128", "--no-visual", "--no-track", "--bootstrap", "20", "--max-val-questions", "4",
               "--quiet"]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    history = json.loads((out / "training_summary.json").read_text())["history"]
    return {"examples_per_second": [round(r["samples_per_second"], 2) for r in history],
            "threads": [r.get("threads") for r in history], "wall_seconds": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--note", default="", help="what else ran on the machine (recorded with the results)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    data, encoder = prepare(args.work)
    runs = []
    for condition in ("quiet", "busy"):
        busy = subprocess.Popen(BUSY) if condition == "busy" else None
        try:
            for name, omp in SETTINGS.items():
                if busy is not None:
                    time.sleep(1.0)
                load, others = os.getloadavg(), measure_others()
                result = train(data, encoder, args.work / "run", omp, args.epochs)
                runs.append({"condition": condition, "setting": name, "OMP_NUM_THREADS": omp,
                             "load_average_1min": round(load[0], 2),
                             "other_processes_busy_cores": None if others is None else round(others, 2), **result})
                print(json.dumps(runs[-1]), flush=True)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    result = {"command": "python benchmarks/bench_threads.py --work WORK", "cores": usable_cores(),
              "cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
              "epochs": args.epochs, "note": args.note, "runs": runs}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
