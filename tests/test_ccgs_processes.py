"""CCGS launched as two CPU processes (torchrun, gloo), as the README says: each process trains half the
steps, the weights and predictions are those of one process with twice the accumulation, exactly one
process writes and prints, and a crash in one process ends the run instead of hanging it."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from benchmark.harness import run_system
from benchmark.predictions import read_predictions
from ccgs.distributed import shard_by_tokens
from tests.ccgs_support import tiny_encoder
from vcval.main import main

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["--preset", "tiny", "--epochs", "1", "--max-len", "128", "--max-train-examples", "32",
         "--max-val-questions", "4", "--bootstrap", "0", "--no-track"]


def _torchrun(arguments: list[str], tmp_path: Path, timeout: float) -> subprocess.CompletedProcess:
    """Two CPU processes of ``python -m vcval ARGUMENTS``, each one's output in its own file."""
    scratch = tmp_path / "tmp"  # torchrun's own temporary files stay out of the suite's temporary folder
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TMPDIR": str(scratch)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "--redirects", "3", "--log-dir", str(tmp_path / "logs"), *arguments]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=timeout)


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_output(tmp_path: Path, rank: int, stream: str) -> str:
    (path,) = (tmp_path / "logs").glob(f"*/attempt_0/{rank}/{stream}.log")
    return path.read_text()


def test_shards_have_near_equal_token_counts_and_cover_every_item_once():
    lengths = [int(n) for n in np.random.default_rng(0).integers(20, 600, size=1000)]
    for parts in (2, 3, 8):
        shards = shard_by_tokens(lengths, parts)
        assert sorted(i for shard in shards for i in shard) == list(range(len(lengths)))
        loads = [sum(lengths[i] for i in shard) for shard in shards]
        assert max(loads) - min(loads) <= 20  # longest first, each to the lightest: within the shortest item
        assert all(shard == sorted(shard) for shard in shards)
    assert shard_by_tokens([7], 2) == [[0], []]


def test_a_process_other_than_the_main_one_writes_and_prints_nothing(tiny_benchmark, tmp_path, monkeypatch, capsys):
    main_run = run_system("bm25", tiny_benchmark, tmp_path / "main", track=False)
    capsys.readouterr()
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    other = run_system("bm25", tiny_benchmark, tmp_path / "other", track=False)
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "other").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["main"]
    assert other.metrics == main_run.metrics and other.n_questions == main_run.n_questions


@pytest.mark.slow
def test_two_cpu_processes_train_half_the_steps_each_and_end_as_one_process(tiny_data_dir, tmp_path):
    encoder = str(tiny_encoder(tiny_data_dir))
    data = ["--data-dir", str(tiny_data_dir), "--encoder", encoder]
    torch.set_num_threads(1)
    assert main(["train", "ccgs", *data, "--out", str(tmp_path / "one"), "--grad-accum", "2", "--quiet", "--threads", "1",
                 *TRAIN]) == 0

    started, cpu_started = time.perf_counter(), _children_cpu_seconds()
    done = _torchrun(["-m", "vcval", "train", "ccgs", *data, "--out", str(tmp_path / "two"), *TRAIN],
                     tmp_path, timeout=180)
    elapsed, cpu = time.perf_counter() - started, _children_cpu_seconds() - cpu_started
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"two processes: {elapsed:.1f} s wall, {cpu:.1f} CPU s")
    assert cpu < 60  # CPU seconds of both processes: a machine busy with other work does not fail it

    one, two = (json.loads((tmp_path / name / "training_summary.json").read_text()) for name in ("one", "two"))
    assert [r["examples"] for r in one["history"]] == [32]
    assert [r["examples"] for r in two["history"]] == [16]  # 4 batches of 4 on each process instead of 8
    assert two["inference"]["processes"] == 2 and two["inference"]["windows"] == one["inference"]["windows"]

    weights_one = load_file(tmp_path / "one" / "last" / "model.safetensors")
    weights_two = load_file(tmp_path / "two" / "last" / "model.safetensors")
    assert weights_one.keys() == weights_two.keys()
    assert all(torch.allclose(weights_one[k], weights_two[k], atol=1e-5) for k in weights_one)

    predicted_one = read_predictions(tmp_path / "one" / "test" / "predictions.jsonl").predictions
    predicted_two = read_predictions(tmp_path / "two" / "test" / "predictions.jsonl").predictions
    assert [p.qid for p in predicted_one] == [p.qid for p in predicted_two]
    for a, b in zip(predicted_one, predicted_two, strict=True):
        scores_a = np.array([c.score for c in a.candidates])
        scores_b = np.array([c.score for c in b.candidates])
        assert np.allclose(scores_a, scores_b, atol=1e-4)
        tied = np.isclose(scores_a[:, None], scores_a[None, :], atol=1e-4).sum(axis=1) > 1
        spans_a = [(c.video_id, c.start, c.end) for c in a.candidates]
        spans_b = [(c.video_id, c.start, c.end) for c in b.candidates]
        assert all(x == y for x, y, t in zip(spans_a, spans_b, tied, strict=True) if not t)  # equal up to ties

    main_out, other_out = (_process_output(tmp_path, rank, "stdout") for rank in (0, 1))
    assert main_out.count("ccgs on tiny test:") == 1 and main_out.count("trained 1 epochs") == 1
    assert other_out == ""
    assert "error" not in _process_output(tmp_path, 1, "stderr").lower()
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == \
        ["best", "checkpoints", "last", "test", "train_settings.json", "training_summary.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_crash_in_one_process_ends_the_run_with_its_message(tiny_data_dir, tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(
        "import sys\n"
        "from ccgs import training\n"
        "from vcval.main import main\n"
        "from benchmark.errors import ConfigError\n"
        "def crash(*args, **kwargs):\n"
        "    if training.process_state().process_index == 1:\n"
        "        raise ConfigError('process 2 cannot go on')\n"
        "    return original(*args, **kwargs)\n"
        "original = training.Trainer._loss\n"
        "training.Trainer._loss = crash\n"
        "sys.exit(main(sys.argv[1:]))\n")
    # A hang (process 1 waiting for process 2's gradients) fails through the timeout, not a clock assertion.
    done = _torchrun([str(script), "train", "ccgs", "--data-dir", str(tiny_data_dir), "--encoder",
                      str(tiny_encoder(tiny_data_dir)), "--out", str(tmp_path / "run"), *TRAIN], tmp_path, timeout=300)
    assert done.returncode != 0
    assert "vcval train: error (process 2 of 2): process 2 cannot go on" in _process_output(tmp_path, 1, "stderr")
    assert not (tmp_path / "run" / "test").exists()
