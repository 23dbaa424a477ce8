"""Training: the tiny preset end to end, resume == uninterrupted, the catalog and ``vcval train ccgs``."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
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
from ccgs.training import EpochProgress, Trainer, TrainingState
from tests.ccgs_support import tiny_encoder
from vcval.main import main

SMALL = dict(max_len=128, max_train_examples=16, max_val_questions=4, epochs=2, threads=1)  # bit-equal reruns


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
    # it learned: the loss fell (3.29 -> 2.78 here) and it localizes (loc_mIoU 21.5 here, best-first lists)
    assert history[1].loss < history[0].loss
    assert score(located, test, task="localization", bootstrap=0).metrics["loc_mIoU"] >= 10.0
    assert all([c.score for c in p.candidates] == sorted((c.score for c in p.candidates), reverse=True)
               for p in predictions + located)
    # spans are piece boundaries of their video, and come from every window (the window offset is kept)
    corpus = tiny_benchmark.corpus("test")
    first_window = {v: system.scorer.tokens.windows(corpus[v])[0].num_pieces for v in corpus}
    pieces = []
    for candidate in (c for p in predictions for c in p.candidates):
        starts = [piece.start for piece in corpus[candidate.video_id].pieces]
        assert candidate.start in starts
        pieces.append(starts.index(candidate.start) >= first_window[candidate.video_id])
    assert any(pieces) and not all(pieces)


@contextlib.contextmanager
def counting_batches():
    """The batches trained inside the block (one ``Trainer._loss`` call each)."""
    batches: list[int] = []
    original = Trainer._loss

    def counted(self, *args, **kwargs):
        batches.append(1)
        return original(self, *args, **kwargs)
    Trainer._loss = counted
    try:
        yield batches
    finally:
        Trainer._loss = original


@pytest.mark.slow
def test_resumed_run_ends_like_an_uninterrupted_one(tiny_data_dir, tiny_benchmark, tmp_path, caplog):
    encoder = str(tiny_encoder(tiny_data_dir))
    config = preset("tiny", **SMALL)
    straight = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "straight")
    straight.fit(_data(tiny_benchmark))

    killed = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "resumed", resume=True)  # nothing to resume yet
    calls = []

    def die_in_second_epoch(split):
        calls.append(split.name)
        if len(calls) == 2:  # epoch 2 trained but not yet checkpointed: as if killed there
            raise KeyboardInterrupt
        return CCGSSystem.validation_score(killed, split)

    killed.validation_score = die_in_second_epoch
    with caplog.at_level(logging.INFO, logger="ccgs.training"), pytest.raises(KeyboardInterrupt):
        killed.fit(_data(tiny_benchmark))
    checkpoints = tmp_path / "resumed" / "checkpoints"
    assert f"no checkpoint in {checkpoints}: starting from scratch" in caplog.messages
    assert [p.name for p in checkpoints.iterdir()] == ["epoch-001"]
    assert (checkpoints / "epoch-001" / "model.safetensors").is_file()  # safetensors, never a pickle

    caplog.clear()
    resumed = CCGSSystem(config, encoder=encoder, out_dir=tmp_path / "resumed", resume=True)
    validated = []
    resumed.validation_score = lambda split: validated.append(split.name) or CCGSSystem.validation_score(resumed, split)
    with counting_batches() as batches, caplog.at_level(logging.INFO, logger="ccgs.training"):
        resumed.fit(_data(tiny_benchmark))
    assert f"resumed from {checkpoints / 'epoch-001'} (epoch 1 done, 0 batches of the next)" in caplog.messages
    assert (len(batches), len(validated)) == (16 // 4, 1)  # epoch 2 only: a restart would train and check both
    assert (resumed.training_state.best_epoch, resumed.training_state.best_score) == \
           (straight.training_state.best_epoch, straight.training_state.best_score)
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
    with counting_batches() as batches:
        resumed.fit(_data(tiny_benchmark))
    assert len(batches) == 2 + 4  # the rest of epoch 1 and all of epoch 2: a restart would train 8
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


def _loss_case(budget: int = 40, **settings):
    """A one-example batch through ``Trainer._loss`` with a lookup encoder, and the model to recompute it."""
    from types import MethodType, SimpleNamespace

    from benchmark.records import Annotation, SplitData, SubtitlePiece, Video
    from ccgs.encoding import SubtitleTokens
    from ccgs.model import CCGSModel
    from ccgs.training import Trainer, training_examples
    from tests.ccgs_support import LookupEncoder, WordTokenizer

    pieces = tuple(SubtitlePiece(10.0 * i, 10.0 * i + 8.0, " ".join("w" * (1 + (i * k) % 7) for k in range(3)))
                   for i in range(10))
    video = Video("v", 100.0, pieces)
    other = Video("w", 30.0, tuple(SubtitlePiece(10.0 * i, 10.0 * i + 8.0, "ww w www") for i in range(3)))
    split = SplitData("train", (Annotation("q0", "why is it so", "v", 10.0, 28.0, 100.0),
                                Annotation("q1", "how do you do that", "v", 70.0, 78.0, 100.0)),
                      {"v": video, "w": other})
    tokens = SubtitleTokens(WordTokenizer(), max_len=budget, window_overlap=1, max_question_tokens=6)
    torch.manual_seed(0)
    config = preset("tiny", inner_dim=4, visual=False, negative_sampling="any", **settings)
    model = CCGSModel(LookupEncoder(torch.randn(30, 4, generator=torch.Generator().manual_seed(0))), config)
    trainer = SimpleNamespace(config=config, tokens=tokens, features=None, model=model,
                              accelerator=SimpleNamespace(device="cpu"))
    trainer._other_video_windows = MethodType(Trainer._other_video_windows, trainer)
    example = training_examples(split, tokens)[0]
    loss = Trainer._loss(trainer, model, [example], split, np.array([1, 0]), np.random.default_rng(0)).detach()
    return loss, example, model, tokens, split


def _span_logits(model, tokens, question, window) -> torch.Tensor:
    from ccgs.collate import collate
    from ccgs.model import MASKED

    logits = model(collate([tokens.sequence(question, window)], pad_id=0)).logits[0]
    return logits[logits > MASKED / 2]


@torch.no_grad()
def test_loss_puts_the_negative_question_and_an_answer_free_window_in_the_denominator():
    from ccgs.collate import collate

    loss, example, model, tokens, split = _loss_case(window_negatives=1)
    assert len(example.answer_free) >= 1 and example.target == (1, 2)
    target = model(collate([tokens.sequence(example.question, example.window)], pad_id=0)).logits[0][example.target]
    negative = _span_logits(model, tokens, tokens.question(split.annotations[1].text), example.window)
    k = int(np.random.default_rng(0).permutation(len(example.answer_free))[0])
    free = _span_logits(model, tokens, example.question, example.answer_free[k])
    valid = _span_logits(model, tokens, example.question, example.window)
    expected = torch.logsumexp(torch.cat([valid, negative, free]), 0) - target
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    alone = torch.logsumexp(valid, 0) - target  # what training without its negatives would minimize
    assert float(loss) > float(alone) + 0.1
    no_window, *_ = _loss_case(window_negatives=0)
    assert float(no_window) == pytest.approx(float(torch.logsumexp(torch.cat([valid, negative]), 0) - target),
                                             rel=1e-5)
    plain, *_ = _loss_case(window_negatives=0, contrastive=False)
    assert float(plain) == pytest.approx(float(alone), rel=1e-5)


@torch.no_grad()
def test_loss_without_the_negative_question_still_counts_the_answer_free_window_once():
    from ccgs.collate import collate

    loss, example, model, tokens, split = _loss_case(window_negatives=1, contrastive=False)
    target = model(collate([tokens.sequence(example.question, example.window)], pad_id=0)).logits[0][example.target]
    k = int(np.random.default_rng(0).permutation(len(example.answer_free))[0])
    free = _span_logits(model, tokens, example.question, example.answer_free[k])
    valid = _span_logits(model, tokens, example.question, example.window)
    assert float(loss) == pytest.approx(float(torch.logsumexp(torch.cat([valid, free]), 0) - target), rel=1e-5)


@torch.no_grad()
def test_loss_of_a_video_without_answer_free_windows_ignores_the_missing_negative():
    # window_negatives asks for more windows than the video has: the slot is fully masked, not another row
    missing, example, *_ = _loss_case(400, window_negatives=5)
    assert example.answer_free == ()  # one window holds the whole transcript
    plain, *_ = _loss_case(400, window_negatives=0)
    assert float(missing) == pytest.approx(float(plain), rel=1e-6)


@torch.no_grad()
def test_loss_adds_the_weighted_iou_ranking_term():
    from ccgs.collate import collate
    from ccgs.losses import contrastive_span_loss, iou_ranking_loss

    loss, example, model, tokens, split = _loss_case(window_negatives=0, contrastive=False, iou_rank_weight=0.5)
    positive = model(collate([tokens.sequence(example.question, example.window)], pad_id=0)).logits
    expected = (contrastive_span_loss(positive, torch.tensor([example.target]))
                + 0.5 * iou_ranking_loss(positive, torch.from_numpy(example.ious)[None]))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert float(loss) > float(contrastive_span_loss(positive, torch.tensor([example.target]))) + 1e-3


@torch.no_grad()
def test_loss_counts_windows_of_other_videos_with_video_negatives():
    without, example, model, tokens, split = _loss_case(window_negatives=0)
    with_other, *_ = _loss_case(window_negatives=0, video_negatives=1)
    assert float(with_other) > float(without) + 1e-4  # the other video's spans join the denominator


def test_train_ccgs_help_has_a_flag_for_every_setting(capsys):
    import dataclasses

    with pytest.raises(SystemExit):
        main(["train", "ccgs", "--help"])
    flags = set(re.findall(r"--[\w-]+", capsys.readouterr().out))
    assert {"--rotary", "--no-rotary", "--video-negatives", "--no-visual", "--no-contrastive", "--valid-span-mask",
            "--no-valid-span-mask", "--top-k", "--preset", "--set"} <= flags
    assert {f"--{field.name.replace('_', '-')}" for field in dataclasses.fields(CCGSConfig)} <= flags


def test_train_ccgs_flags_left_out_keep_the_preset():
    from vcval.main import build_parser
    from vcval.train_command import ccgs_config

    args = build_parser().parse_args(["train", "ccgs", "--data-dir", "d", "--encoder", "e", "--out", "o",
                                      "--no-rotary", "--video-negatives", "2", "--fusion", "temporal", "--top-k", "5"])
    config = ccgs_config(args)
    assert {key: config[key] for key in ("rotary", "video_negatives", "fusion", "top_k_videos")} == {
        "rotary": False, "video_negatives": 2, "fusion": "temporal", "top_k_videos": 5}
    assert set(config) == {"rotary", "video_negatives", "fusion", "top_k_videos", "encoder", "out_dir", "resume"}


def test_vcval_run_ccgs_says_where_a_protocol_setting_replaced_the_preset(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    settings = [f"encoder={tiny_encoder(tiny_data_dir)}", "preset=tiny", "epochs=1", "max_train_examples=8",
                "max_val_questions=4", "visual=false"]
    assert main(["run", "ccgs", "--data-dir", str(tiny_data_dir), "--out", str(out), "--no-track",
                 *[part for setting in settings for part in ("--set", setting)]]) == 0
    line = "max_len 1300 from protocol medvidcqa-paper; preset tiny: 256"
    assert f"setting {line}" in capsys.readouterr().err
    assert line in json.loads((out / "manifest.json").read_text())["value_sources"]


def test_a_training_state_without_progress_reads_as_at_an_epoch_boundary():
    """States written before mid-epoch checkpoints have no ``progress``."""
    state = TrainingState(2, 1, 55.0, [], EpochProgress())
    raw = json.loads(state.to_json())
    del raw["progress"]
    assert TrainingState.from_json(json.dumps(raw)) == state
