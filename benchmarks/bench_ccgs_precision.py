"""fp32 against bf16 autocast for CCGS on this CPU, in one run: training steps/s and inference windows/s
of all-MiniLM-L6-v2 at 512 tokens, and the metric change of one trained checkpoint on the TutorialVQA
localization track (a seeded question sample, through the harness).

    python benchmarks/bench_ccgs_precision.py --data ../shared/data/tutorialvqa --checkpoint MODEL/best \
        --out runs/precision --questions 200 --json benchmarks/results/ccgs_precision_cpu.json

``mixed_precision: auto`` picks bf16 on CPUs with native bf16 (AVX512-BF16 / AMX); this script is the
evidence for that default.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.dense import DEFAULT_MODEL, resolve_model  # noqa: E402
from ccgs.precision import cpu_has_native_bf16  # noqa: E402


def encoder_speed(dtype: torch.dtype | None, train: bool, batch: int = 8, length: int = 512, steps: int = 3) -> float:
    """Sequences per second through MiniLM (forward, plus backward when ``train``)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(resolve_model(DEFAULT_MODEL)).train(train)
    ids = torch.randint(1000, 20000, (batch, length), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)

    def step() -> None:
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            states = model(input_ids=ids, attention_mask=mask).last_hidden_state
        if train:
            states.float().pow(2).mean().backward()

    with torch.set_grad_enabled(train):
        step()  # warm-up
        started = time.perf_counter()
        for _ in range(steps):
            step()
    return batch * steps / (time.perf_counter() - started)


def localization_run(data: Path, checkpoint: Path, out: Path, precision: str, protocol: Path) -> dict:
    folder = out / f"localization-{precision}"
    args = ["vcval", "run", "ccgs", "--data-dir", str(data), "--task", "localization", "--no-track", "--overwrite",
            "--protocol", str(protocol), "--out", str(folder), "--set", f"checkpoint={checkpoint}",
            "--set", f"mixed_precision={precision}"]
    subprocess.run(args, check=True, capture_output=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    scores = json.loads((folder / "scores.json").read_text())
    return {"command": " ".join(args), "predict_seconds": manifest["timings_s"]["predict"],
            "metrics": {k: scores["metrics"][k] for k in ("loc_mIoU", "loc_R1_IoU0.5", "loc_R1_IoU0.7")},
            "predictions": str(folder / "predictions.jsonl")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    from benchmark.protocol import load_protocol

    protocol = load_protocol("medvidcqa-paper").replace(
        name=f"medvidcqa-paper-localization-sample{args.questions}", task="localization",
        max_questions=args.questions)
    args.out.mkdir(parents=True, exist_ok=True)
    protocol_path = args.out / "protocol.json"
    protocol_path.write_text(json.dumps(protocol.to_dict(), indent=2) + "\n")
    result = {"cpu_native_bf16": cpu_has_native_bf16(), "threads": torch.get_num_threads(),
              "encoder_seq_per_s": {}, "localization": {}}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        result["encoder_seq_per_s"][name] = {"inference": encoder_speed(dtype, train=False),
                                             "training": encoder_speed(dtype, train=True)}
    for precision in ("no", "bf16"):
        result["localization"][precision] = localization_run(args.data.resolve(), args.checkpoint.resolve(),
                                                             args.out.resolve(), precision, protocol_path)
    fp32, bf16 = (result["localization"][p] for p in ("no", "bf16"))
    compare = ["vcval", "compare", fp32["predictions"], bf16["predictions"], "--data-dir", str(args.data),
               "--split", "test", "--task", "localization", "--max-questions", str(args.questions),
               "--metrics", "loc_mIoU,loc_R1_IoU0.5", "--json", str(args.out / "compare.json")]
    subprocess.run(compare, check=True, capture_output=True)
    result["paired_test"] = {"command": " ".join(compare), "result": json.loads((args.out / "compare.json").read_text())}
    result["speedup"] = {"inference": result["encoder_seq_per_s"]["bf16"]["inference"]
                         / result["encoder_seq_per_s"]["fp32"]["inference"],
                         "training": result["encoder_seq_per_s"]["bf16"]["training"]
                         / result["encoder_seq_per_s"]["fp32"]["training"],
                         "localization_predict": fp32["predict_seconds"] / bf16["predict_seconds"]}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
