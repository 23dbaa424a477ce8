"""Which precision each CCGS path runs in (ccgs/precision.py): the dispatch table, and the bf16 autocast
paths of training and inference exercised on this CPU (fp16 autocast exists on GPUs only)."""

from __future__ import annotations

import math

import pytest
import torch

from ccgs.config import PRESETS, preset
from ccgs.precision import autocast_dtype, resolve_precision


@pytest.mark.parametrize(("setting", "device", "native_bf16", "expected"), [
    ("no", "cpu", True, "no"), ("no", "cuda", True, "no"),
    ("bf16", "cpu", False, "bf16"), ("bf16", "cuda", True, "bf16"),
    ("fp16", "cpu", True, "no"),  # fp16 autocast with a scaler: GPUs only
    ("fp16", "cuda", True, "fp16"),
    ("auto", "cpu", True, "bf16"), ("auto", "cpu", False, "no"),
    ("auto", "cuda", True, "bf16"), ("auto", "cuda", False, "no"),
])
def test_resolve_precision_table(monkeypatch, setting, device, native_bf16, expected):
    monkeypatch.setattr("ccgs.precision.cpu_has_native_bf16", lambda: native_bf16)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: native_bf16)
    assert resolve_precision(setting, device) == expected


def test_inference_dtype_paper_full_precision_improved_the_trainings(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    paper, improved = PRESETS["paper"], PRESETS["improved"]
    # paper trains under fp16 autocast on a GPU, but the authors' test_model runs without autocast
    assert resolve_precision(paper.mixed_precision, "cuda") == "fp16"
    assert autocast_dtype(paper.mixed_precision, "cuda", paper.autocast_inference) is None
    assert autocast_dtype(paper.mixed_precision, "cuda") is torch.float16  # with autocast_inference on
    assert autocast_dtype(improved.mixed_precision, "cuda", improved.autocast_inference) is torch.bfloat16
    assert autocast_dtype("bf16", "cpu") is torch.bfloat16 and autocast_dtype("no", "cpu") is None


def test_system_scorer_takes_the_inference_dtype_from_the_config(tiny_data_dir, monkeypatch):
    from ccgs.encoder import load_encoder
    from ccgs.model import CCGSModel
    from ccgs.system import CCGSSystem
    from tests.ccgs_support import tiny_encoder

    tokenizer, encoder = load_encoder(str(tiny_encoder(tiny_data_dir)), ["[Music]"])
    for config, expected in ((preset("tiny", mixed_precision="bf16"), torch.bfloat16),
                             (preset("tiny", mixed_precision="bf16", autocast_inference=False), None)):
        system = CCGSSystem(config, encoder="unused", device="cpu")
        scorer = system._make_scorer(tokenizer, encoder, CCGSModel(encoder, config.replace(visual=False)), config)
        assert scorer.autocast_dtype is expected


def test_bf16_autocast_inference_ranks_like_fp32(tiny_data_dir, tiny_benchmark):
    from ccgs.encoder import load_encoder
    from ccgs.encoding import SubtitleTokens
    from ccgs.inference import SpanScorer
    from ccgs.model import CCGSModel
    from tests.ccgs_support import tiny_encoder

    torch.manual_seed(0)
    tokenizer, encoder = load_encoder(str(tiny_encoder(tiny_data_dir)), ["[Music]"])
    config = preset("tiny", visual=False)
    model = CCGSModel(encoder, config)
    tokens = SubtitleTokens(tokenizer, 128, 2, 16)
    test = tiny_benchmark.split("test")
    videos = [list(tiny_benchmark.corpus("test").values())[:3]] * 2
    questions = [a.text for a in test.annotations[:2]]
    full = SpanScorer(model, tokens, None).rank(questions, videos, 5)
    half = SpanScorer(model, tokens, None, autocast_dtype=torch.bfloat16)
    encoded = half.encode([(tokens.question(questions[0]), videos[0][0], tokens.windows(videos[0][0])[0])])
    assert half.logits(encoded).dtype == torch.float32  # the head in fp32 (improved), masked in fp32
    reduced = half.rank(questions, videos, 5)
    for a, b in zip(full, reduced, strict=True):
        assert [c.score for c in b] == pytest.approx([c.score for c in a], abs=0.05)  # bf16: ~3 digits


@pytest.fixture
def fresh_accelerate_state():
    """accelerate keeps one mixed precision per process: another one needs its state reset, before the
    bf16 training and after it (so that the suite's other trainings run in full precision again)."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()
    yield
    AcceleratorState._reset_state()


@pytest.mark.usefixtures("fresh_accelerate_state")
@pytest.mark.parametrize("head", ["fp32", "autocast"])
def test_bf16_autocast_training_runs_and_updates_the_model_on_cpu(tiny_data_dir, tiny_benchmark, tmp_path, monkeypatch, head):
    from benchmark.systems import TrainingData
    from ccgs.system import CCGSSystem
    from tests.ccgs_support import tiny_encoder

    config = preset("tiny", mixed_precision="bf16", span_head_precision=head, visual=False, max_len=128,
                    max_train_examples=8, epochs=2, max_val_questions=2, threads=1)
    system = CCGSSystem(config, encoder=str(tiny_encoder(tiny_data_dir)), out_dir=tmp_path, device="cpu")
    assert system.config.mixed_precision == "bf16"
    calls = []
    original = torch.autocast.__init__

    def spy(self, device_type, *args, **kwargs):  # accelerate enters torch.autocast(cpu, bf16) for the forward pass
        calls.append((device_type, kwargs.get("dtype")))
        original(self, device_type, *args, **kwargs)

    monkeypatch.setattr(torch.autocast, "__init__", spy)
    system.fit(TrainingData(tiny_benchmark.split("train"), tiny_benchmark.split("val")))
    monkeypatch.undo()
    history = system.training_state.history
    assert all(math.isfinite(r.loss) for r in history)
    assert ("cpu", torch.bfloat16) in calls
    from safetensors.torch import load_file

    first = load_file(tmp_path / "checkpoints" / "epoch-001" / "model.safetensors")
    last = load_file(tmp_path / "last" / "model.safetensors")
    changed = [k for k in last if not torch.equal(first[k], last[k])]
    assert "span_projection.weight" in changed and all(torch.isfinite(v).all() for v in last.values())
