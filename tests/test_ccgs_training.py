"""Training: the tiny preset end to end, resume == uninterrupted, the catalog and ``vcval train ccgs``."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from benchmark.errors import ConfigError
from benchmark.predictions import read_predictions
from benchmark.scoring import score
from benchmark.systems import System, TrainingData
from ccgs.catalog import SYSTEMS
from ccgs.config import CCGSConfig, preset
from ccgs.system import CCGSSystem
from ccgs.training import Trainer
from tests.ccgs_support import tiny_encoder
from vcval.main import main

SMALL = dict(max_len=128, max_train_examples=16, max_val_questions=4, epochs=2)


def _data(benchmark) -> TrainingData:
    return TrainingData(benchmark.split("train"), benchmark.split("val"))


@pytest.mark.slow
def test_tiny_preset_trains_on_tiny_data_and_predicts(tiny_data_dir, tiny_benchmark, tmp_path):
    system = CCGSSystem(preset("tiny", max_len=128, epochs=2, max_val_questions=6),
                        encoder=str(tiny_encoder(tiny_data_dir)),
                        out_dir=tmp_path)
    assert isinstance(system, System)
    started = time.process_time()  # CPU seconds of this process: a busy shared machine does not fail it
    system.fit(_data(tiny_benchmark))
    assert time.process_time() - started < 120  # two epochs over all 48 questions, validation included
    history = system.training_state.history
    assert [r.epoch for r in history] == [1, 2] and all(math.isfinite(r.loss) for r in history)
    assert all(r.examples == 48 and r.validation is not None for r in history)
    assert (tmp_path / "best" / "model.safetensors").exists()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["epoch-001", "epoch-002"]
    test = tiny_benchmark.split("test")
    predictions = system.predict(test.questions, tiny_benchmark.corpus("test"), 50)
    assert [p.qid for p in predictions] == [a.qid for a in test.annotations]
    assert all(len(p.candidates) == 50 for p in predictions)
    report = score(predictions, test, bootstrap=0)
    assert 0.0 <= report.metrics["R1_mIoU"] <= 100.0
    located = system.predict_localization([a.localization_query for a in test.annotations],
                                          tiny_benchmark.corpus("test"), 5)
    assert all({c.video_id for c in p.candidates} == {a.video_id} for p, a in zip(located, test.annotations,
                                                                                    strict=True))


@pytest.mark.slow
def test_resumed_run_ends_like_an_uninterrupted_one(tiny_data_dir, tiny_benchmark, tmp_path):
    encoder = str(tiny_encoder(tiny_data_dir))
    config = preset("tiny", **SMALL)
    straight = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "straight")
    straight.fit(_data(tiny_benchmark))

    killed = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "resumed")
    calls = []

    def die_in_second_epoch(split):
        calls.append(split.name)
        if len(calls) == 2:  # epoch 2 trained but not yet checkpointed: as if killed there
            raise KeyboardInterrupt
        return CCGSSystem.validation_score(killed, split)

    killed.validation_score = die_in_second_epoch
    with pytest.raises(KeyboardInterrupt):
        killed.fit(_data(tiny_benchmark))
    assert [p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()] == ["epoch-001"]

    resumed = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "resumed", resume=True)
    resumed.fit(_data(tiny_benchmark))
    assert [vars(r)["loss"] for r in resumed.training_state.history] == \
           [vars(r)["loss"] for r in straight.training_state.history]
    assert [r.validation for r in resumed.training_state.history] == \
           [r.validation for r in straight.training_state.history]
    weights_a = load_file(tmp_path / "straight" / "last" / "model.safetensors")
    weights_b = load_file(tmp_path / "resumed" / "last" / "model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    # identical weights, hence identical predictions and metrics on any split


@pytest.mark.slow
def test_run_resumed_inside_an_epoch_ends_like_an_uninterrupted_one(tiny_data_dir, tiny_benchmark, tmp_path,
                                                                   monkeypatch):
    """A mid-epoch checkpoint (``checkpoint_every_batches``) lets an epoch longer than a working session go on:
    16 questions, 4 per batch, a checkpoint after batch 2; killed in batch 3 of the first epoch."""
    encoder = str(tiny_encoder(tiny_data_dir))
    config = preset("tiny", **SMALL, checkpoint_every_batches=2)
    straight = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "straight")
    straight.fit(_data(tiny_benchmark))
    assert sorted(p.name for p in (tmp_path / "straight" / "checkpoints").iterdir()) == \
        ["epoch-001-batch-000002", "epoch-002"]  # keep_checkpoints: the newest two

    killed = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "resumed")
    trained = []

    original = Trainer._loss

    def die_in_third_batch(self, *args, **kwargs):
        trained.append(1)
        if len(trained) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "_loss", die_in_third_batch)
        with pytest.raises(KeyboardInterrupt):
            killed.fit(_data(tiny_benchmark))
    assert [p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()] == ["epoch-000-batch-000002"]

    resumed = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "resumed", resume=True)
    resumed.fit(_data(tiny_benchmark))
    assert [r.loss for r in resumed.training_state.history] == [r.loss for r in straight.training_state.history]
    assert [r.examples for r in resumed.training_state.history] == [16, 16]
    weights_a = load_file(tmp_path / "straight" / "last" / "model.safetensors")
    weights_b = load_file(tmp_path / "resumed" / "last" / "model.safetensors")
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_catalog_builds_systems_and_rejects_unknown_keys(tmp_path):
    system = SYSTEMS["ccgs"]({"encoder": "x", "epochs": 3, "out_dir": tmp_path})
    assert system.config.epochs == 3 and system.config.valid_span_mask  # improved by default
    assert SYSTEMS["ccgs-paper"]({"encoder": "x"}).config == CCGSConfig()
    with pytest.raises(ConfigError, match="epochz"):
        SYSTEMS["ccgs"]({"encoder": "x", "epochz": 3})
    with pytest.raises(ConfigError, match="encoder"):
        SYSTEMS["ccgs"]({})
    with pytest.raises(ConfigError, match="retriever"):
        SYSTEMS["ccgs"]({"encoder": "x", "top_k_videos": 5})
    with pytest.raises(ConfigError, match="preset"):
        SYSTEMS["ccgs"]({"encoder": "x", "preset": "huge"})


def _train(data_dir, out, *extra):
    return main(["train", "ccgs", "--data-dir", str(data_dir), "--encoder", str(tiny_encoder(data_dir)),
                 "--out", str(out), "--preset", "tiny", "--epochs", "1", "--max-len", "128", "--no-track",
                 "--max-train-examples", "8", "--max-val-questions", "4", "--bootstrap", "20", "--no-visual", *extra])


def test_vcval_train_ccgs_runs_through_the_harness_and_keeps_the_model_in_out(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_data_dir, out) == 0
    printed = capsys.readouterr().out
    assert "best epoch 1" in printed and "R1_mIoU" in printed
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["config"]["visual"] is False and summary["best_epoch"] == 1
    assert summary["config"]["seed"] == 42  # the protocol's seed, as `vcval run ccgs`
    assert summary["inference"]["pairs"] > 0
    assert (out / "best" / "model.safetensors").exists() and (out / "checkpoints" / "epoch-001").is_dir()
    manifest = json.loads((out / "test" / "manifest.json").read_text())
    assert manifest["system"] == "ccgs" and manifest["seed"] == 42 and len(manifest["protocol_hash"]) == 64
    assert manifest["config"]["preset"] == "tiny" and manifest["selection"] == "validation"
    assert set(json.loads((out / "test" / "scores.json").read_text())["metrics"]) >= {"video_R1", "R1_mIoU"}
    assert len(read_predictions(out / "test" / "predictions.jsonl").predictions) == 12


def test_temporal_fusion_trains_and_predicts_through_vcval_train(tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    arguments = ["train", "ccgs", "--data-dir", str(tiny_data_dir), "--encoder", str(tiny_encoder(tiny_data_dir)),
                 "--out", str(out), "--preset", "tiny", "--epochs", "1", "--max-len", "128", "--no-track",
                 "--max-train-examples", "8", "--max-val-questions", "4", "--bootstrap", "20",
                 "--fusion", "temporal", "--highlight-weight", "1", "--set", "max_clips=16"]
    assert main(arguments) == 0
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["config"]["fusion"] == "temporal" and summary["config"]["visual"] is True
    assert summary["history"][0]["loss"] < 100  # a finite loss: no masked target, no masked span summed in
    weights = load_file(out / "best" / "model.safetensors")
    assert "visual_weight" in weights and weights["visual_weight"].item() != 1.0  # the span loss trained it
    assert len(read_predictions(out / "test" / "predictions.jsonl").predictions) == 12


def test_vcval_train_ccgs_on_validation_selects_on_held_out_train_videos_as_vcval_run(tiny_data_dir, tiny_benchmark,
                                                                                      tmp_path):
    from benchmark.harness.isolation import system_inputs
    from benchmark.protocol import load_protocol

    out = tmp_path / "run"
    assert _train(tiny_data_dir, out, "--evaluate", "val", "--max-eval-questions", "6") == 0
    manifest = json.loads((out / "validation" / "manifest.json").read_text())
    protocol = load_protocol().replace(split="validation", max_questions=6, bootstrap=20)
    expected = system_inputs(tiny_benchmark, protocol)
    assert manifest["selection"] == expected.selection and "held-out train videos" in manifest["selection"]
    assert manifest["protocol"]["max_questions"] == 6
    predicted = {p.qid for p in read_predictions(out / "validation" / "predictions.jsonl").predictions}
    assert predicted == {q.qid for q in expected.queries} and len(predicted) == 6
    assert not predicted & {a.qid for a in expected.training.validation.annotations}


def test_vcval_train_ccgs_reports_a_bad_encoder_without_traceback(tiny_data_dir, tmp_path, capsys):
    code = main(["train", "ccgs", "--data-dir", str(tiny_data_dir), "--encoder", str(tmp_path / "missing"),
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "cannot load the encoder" in capsys.readouterr().err


def test_without_out_dir_checkpoints_go_to_a_temporary_folder_removed_after_training_or_failure(
        tiny_data_dir, tiny_benchmark, monkeypatch):
    import tempfile
    from pathlib import Path

    scratch = Path(tempfile.gettempdir())
    before = set(scratch.iterdir())
    config = preset("tiny", **{**SMALL, "epochs": 1})
    system = CCGSSystem(config, encoder=str(tiny_encoder(tiny_data_dir)))
    system.fit(_data(tiny_benchmark))
    assert system.training_state.best_epoch == 1 and set(scratch.iterdir()) == before

    def fail(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("ccgs.system.Trainer.fit", fail)
    with pytest.raises(RuntimeError, match="out of memory"):
        CCGSSystem(config, encoder=str(tiny_encoder(tiny_data_dir))).fit(_data(tiny_benchmark))
    assert set(scratch.iterdir()) == before


def test_harness_runs_show_one_line_per_epoch_on_stderr_unless_quiet(tiny_data_dir, tmp_path, capsys):
    assert _train(tiny_data_dir, tmp_path / "loud") == 0
    loud = capsys.readouterr().err
    assert "ccgs epoch 1 of this run (1 in all): R1_mIoU on validation" in loud
    assert "ccgs inference" not in loud  # no bars: stderr is not a terminal here
    assert _train(tiny_data_dir, tmp_path / "quiet", "--quiet") == 0
    assert "ccgs epoch" not in capsys.readouterr().err


def test_video_negatives_pair_each_question_with_windows_of_other_videos(tiny_data_dir, tiny_benchmark):
    from types import SimpleNamespace

    from ccgs.encoder import load_encoder
    from ccgs.encoding import SubtitleTokens
    from ccgs.training import Trainer, training_examples

    tokenizer, _ = load_encoder(str(tiny_encoder(tiny_data_dir)), ["[Music]"])
    tokens = SubtitleTokens(tokenizer, 96, 2, 16)
    split = tiny_benchmark.split("train")
    batch = training_examples(split, tokens)[:6]
    items: list = [(e.question, e.window) for e in batch]
    trainer = SimpleNamespace(config=preset("tiny", video_negatives=2), tokens=tokens)
    slots = Trainer._other_video_windows(trainer, batch, split, items, np.random.default_rng(0))
    assert len(slots) == 2 and all(len(slot) == len(batch) for slot in slots)
    for slot in slots:
        for example, index in zip(batch, slot, strict=True):
            question, window = items[index]
            assert question == example.question and window.video_id != example.window.video_id
    assert len(items) == len(batch) * 3
    with pytest.raises(ConfigError, match="video_negatives"):
        preset("tiny", video_negatives=-1)
