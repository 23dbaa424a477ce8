"""The prepared GPU job of issue 22 (tools/gpu_tutorialvqa.py, tools/gpu_carry.py): how it plans its epochs
and corpus track from the probe's estimates, the carried model and data surviving the trip, and the sampled
corpus protocol being the shipped one. The job itself is rehearsed end to end on a CPU (docs/ccgs.md, "GPU
job"); it runs on a lent GPU only."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str):
    folder = str(ROOT / "tools")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


job = _tool("gpu_tutorialvqa")
carry = _tool("gpu_carry")


def estimates(epoch_s: float = 40.0, fixed_s: float = 30.0, whole_s: float = 150.0, sample_s: float = 60.0):
    return job.Estimates(epoch_s, fixed_s, {"whole": whole_s, "sample": sample_s})


def test_ten_epochs_when_they_fit_beside_the_cheapest_corpus_option():
    epochs, reason = job.plan_epochs(30 + 60 + 10 * 40, 10, estimates())
    assert epochs == 10 and reason.startswith("10 epochs fit")


def test_fewer_epochs_when_ten_do_not_fit_and_the_reason_says_so():
    epochs, reason = job.plan_epochs(30 + 60 + 7 * 40 + 39, 10, estimates())
    assert epochs == 7
    assert "10 epochs do not fit" in reason and "7 of 40 s" in reason


def test_at_least_one_epoch_and_the_cap_decides_without_a_probe():
    assert job.plan_epochs(10, 10, estimates())[0] == 1
    assert job.plan_epochs(500, 10, None)[0] == 10


def test_corpus_track_prefers_the_whole_split_then_the_sample():
    options = {"whole": 150.0, "sample": 60.0}
    assert job.choose_corpus(150, options) == "whole"
    assert job.choose_corpus(149, options) == "sample"
    assert job.choose_corpus(59, options) is None


def test_sampled_corpus_protocol_has_the_hash_of_the_shipped_400_question_sample(tmp_path):
    from benchmark.protocol import load_protocol

    written = load_protocol(job.sample_protocol(tmp_path, 400))
    shipped = load_protocol(ROOT / "experiments" / "protocols" / "medvidcqa-paper-sample400.yaml")
    assert written.hash == shipped.hash and written.max_questions == 400


def test_carried_model_comes_back_as_float32_of_its_float16_rounding_and_the_data_unchanged(tmp_path):
    from safetensors.numpy import load_file, save_file

    source = tmp_path / "encoder"
    source.mkdir()
    rng = np.random.default_rng(0)
    weights = {"w": rng.normal(size=(4, 3)).astype("float32"), "ids": np.arange(5, dtype="int64")}
    save_file(weights, source / "model.safetensors")
    (source / "config.json").write_text("{}", encoding="utf-8")
    data = tmp_path / "data"
    (data / "text").mkdir(parents=True)
    (data / "text" / "test.json").write_text('[{"question": "q"}]', encoding="utf-8")

    folder = tmp_path / "carry"
    folder.mkdir()
    carry.write_half_precision_model(source, folder / "model")
    carry.write_data_archive(data, folder / "data.tar.xz")
    assert load_file(folder / "model" / "model.safetensors")["w"].dtype == np.float16

    model, unpacked = job.unpack(folder, tmp_path / "work")
    back = load_file(model / "model.safetensors")
    assert back["w"].dtype == np.float32
    np.testing.assert_array_equal(back["w"], weights["w"].astype("float16").astype("float32"))
    assert np.abs(back["w"] - weights["w"]).max() < 1e-3
    np.testing.assert_array_equal(back["ids"], weights["ids"])
    assert (model / "config.json").read_text(encoding="utf-8") == "{}"
    assert (unpacked / "text" / "test.json").read_text(encoding="utf-8") == '[{"question": "q"}]'


def test_a_folder_without_safetensors_weights_is_refused(tmp_path):
    (tmp_path / "encoder").mkdir()
    with pytest.raises(SystemExit, match="no model.safetensors"):
        carry.write_half_precision_model(tmp_path / "encoder", tmp_path / "out")
