"""Copy a finished grid's table, JSON and plot, and every cell's predictions (gzipped), to
benchmarks/results/ccgs_issue22/NAME/ (run from the repository root):

    python experiments/ccgs_issue22/publish.py runs/issue22/dense-prior dense_prior

Each predictions file is named ``<setting>-seed<S>.jsonl.gz``; ``vcval score`` reads it as it is.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

RESULTS = Path("benchmarks/results/ccgs_issue22")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid_out", type=Path, help="the --out folder of `vcval ablate`")
    parser.add_argument("name", help="the folder under benchmarks/results/ccgs_issue22/")
    args = parser.parse_args()
    target = RESULTS / args.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("ablation.md", "ablation.json", "ablation.png"):
        shutil.copy(args.grid_out / name, target / name)
    for predictions in sorted(args.grid_out.glob("*/seed-*/predictions.jsonl")):
        setting = predictions.parent.parent.name.split("_", 1)[1]
        seed = predictions.parent.name.removeprefix("seed-")
        with predictions.open("rb") as source, gzip.open(target / f"{setting}-seed{seed}.jsonl.gz", "wb") as sink:
            shutil.copyfileobj(source, sink)
    print(f"published {args.grid_out} to {target}")


if __name__ == "__main__":
    main()
