"""Fidelity to the authors' code (WENGSYX/CCGS, model.py and main.py): the ``paper`` preset computes what
they computed. Each test pins one row of the fidelity table in docs/ccgs.md with hand-computable values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benchmark.records import SubtitlePiece, Video
from ccgs.collate import collate
from ccgs.config import PRESETS, preset
from ccgs.encoding import Sequence
from ccgs.inference import span_candidate
from ccgs.model import CCGSModel
from ccgs.training import parameter_groups
from tests.ccgs_support import LookupEncoder


def test_fidelity_paper_preset_follows_the_authors_run():
    paper = PRESETS["paper"]
    assert paper.rotary is False
    assert paper.parameter_groups == "name_contains_encoder" and paper.adam_eps == 1e-6
    assert (paper.seed, paper.weight_decay, paper.max_len, paper.epochs) == (42, 1e-6, 1300, 32)  # run.sh
    assert (paper.encoder_lr, paper.head_lr, paper.mixed_precision) == (1e-5, 1e-4, "fp16")
    assert paper.long_training_pairs == "skip" and paper.deduplicate_spans is False
    assert paper.inverted_spans == "by_time" and paper.window_negatives == 0


def test_fidelity_rotary_off_span_logit_is_the_plain_product_of_projected_markers():
    # hidden 2, inner dim 2: q = W_q h, k = W_k h with hand-picked weights, so every logit is computable
    table = torch.zeros(10, 2)
    table[2] = torch.tensor([1.0, 0.0])  # [SEP] after the question
    table[3] = torch.tensor([0.0, 1.0])
    table[4] = torch.tensor([1.0, 1.0])
    model = CCGSModel(LookupEncoder(table), preset("paper", inner_dim=2, visual=False))
    with torch.no_grad():
        model.span_projection.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, 1.0]]))
        model.span_projection.bias.zero_()
    # [CLS] q [SEP] p1 [3] p2 [4]: markers are tokens 2 (id 2), 4 (id 3) and 6 (id 4)
    batch = collate([Sequence([1, 5, 2, 6, 3, 7, 4], [2, 4, 6])], pad_id=0)
    logits = model(batch).logits[0]
    # q(h) = (h0, 2 h1), k(h) = (3 h0, h1); start marker i in {0, 1}, end marker j + 1 in {1, 2}
    # q(m0) = (1, 0), q(m1) = (0, 2); k(m1) = (0, 1), k(m2) = (3, 1)
    assert logits.tolist() == [[0.0, 3.0], [2.0, 2.0]]


def test_fidelity_rotary_on_differs_from_the_plain_product():
    table = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
    batch = collate([Sequence([1, 5, 2, 6, 3, 7, 4, 8, 5], [2, 4, 6, 8])], pad_id=0)
    torch.manual_seed(0)
    plain = CCGSModel(LookupEncoder(table), preset("paper", inner_dim=4, visual=False))
    torch.manual_seed(0)
    rotated = CCGSModel(LookupEncoder(table), preset("paper", inner_dim=4, visual=False, rotary=True))
    a, b = plain(batch).logits[0], rotated(batch).logits[0]
    assert not torch.allclose(a, b)


class _DebertaLikeEncoder(nn.Module):
    """The parameter names of a Hugging Face DeBERTa-v2: embeddings.*, encoder.layer.*, encoder.rel_embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.config = type("Config", (), {"hidden_size": 4})()
        self.embeddings = nn.ModuleDict({"word_embeddings": nn.Embedding(10, 4), "LayerNorm": nn.LayerNorm(4)})
        self.encoder = nn.ModuleDict({"layer": nn.ModuleList([nn.Linear(4, 4)]), "rel_embeddings": nn.Embedding(8, 4)})


def _names(model: nn.Module, params: list[torch.Tensor]) -> set[str]:
    ids = {id(p) for p in params}
    return {name for name, p in model.named_parameters() if id(p) in ids}


def test_fidelity_parameter_groups_of_a_deberta_named_module_tree():
    model = CCGSModel(_DebertaLikeEncoder(), preset("paper", inner_dim=2, visual=False))
    slow, rest = parameter_groups(model, model.config)
    assert (slow["lr"], rest["lr"]) == (1e-5, 1e-4)
    assert _names(model, slow["params"]) == {"encoder.encoder.layer.0.weight", "encoder.encoder.layer.0.bias",
                                             "encoder.encoder.rel_embeddings.weight"}
    assert _names(model, rest["params"]) == {"encoder.embeddings.word_embeddings.weight",
                                             "encoder.embeddings.LayerNorm.weight", "encoder.embeddings.LayerNorm.bias",
                                             "span_projection.weight", "span_projection.bias"}
    ours = CCGSModel(_DebertaLikeEncoder(), preset("paper", inner_dim=2, visual=False,
                                                   parameter_groups="encoder_module"))
    slow, rest = parameter_groups(ours, ours.config)
    assert _names(ours, rest["params"]) == {"span_projection.weight", "span_projection.bias"}


def _overlapping_video() -> Video:
    # pieces overlap: piece 1 ends (14) after piece 2 starts (12)
    pieces = (SubtitlePiece(0.0, 6.0, "a"), SubtitlePiece(5.0, 14.0, "b"), SubtitlePiece(12.0, 20.0, "c"),
              SubtitlePiece(19.0, 30.0, "d"))
    return Video("v", 40.0, pieces)


@pytest.mark.parametrize(("first", "last", "by_time", "by_index"), [
    (2, 1, (12.0, 14.0), (12.0, 30.0)),  # inverted by index, yet start 12 < end 14: the authors keep it
    (3, 1, (19.0, 30.0), (19.0, 30.0)),  # start 19 >= end 14: the end of the last piece either way
    (1, 2, (5.0, 20.0), (5.0, 20.0)),    # a forward span
])
def test_fidelity_inverted_span_over_overlapping_subtitles(first, last, by_time, by_index):
    video = _overlapping_video()
    authors = span_candidate(video, first, last, 0.0, "by_time")
    ours = span_candidate(video, first, last, 0.0, "by_index")
    assert (authors.start, authors.end) == by_time
    assert (ours.start, ours.end) == by_index


# -- issue 22: the last details of paper --------------------------------------------------------------------
def test_fidelity_paper_takes_the_authors_optimizer_resampling_precision_negatives_and_schedule():
    paper, improved = PRESETS["paper"], PRESETS["improved"]
    assert (paper.optimizer, paper.clip_resampling, paper.span_head_precision, paper.autocast_inference,
            paper.negative_sampling, paper.schedule_length) == (
        "transformers_v4", "authors", "autocast", False, "uniform", "every_question")
    assert (improved.optimizer, improved.clip_resampling, improved.span_head_precision, improved.autocast_inference,
            improved.negative_sampling, improved.schedule_length) == (
        "torch", "every_clip", "fp32", True, "other_video", "trained_questions")


def _one_step(optimizer_class, value: float, grad: float, **settings) -> float:
    parameter = nn.Parameter(torch.tensor([value], dtype=torch.float64))
    optimizer = optimizer_class([parameter], **settings)
    parameter.grad = torch.tensor([grad], dtype=torch.float64)
    optimizer.step()
    return parameter.item()


def test_fidelity_transformers_v4_adamw_adds_eps_before_the_bias_correction():
    from ccgs.optimizer import TransformersV4AdamW

    # step 1, gradient g: m = 0.1 g, v = 0.001 g^2, update lr sqrt(0.001) / 0.1 * m / (sqrt(v) + eps)
    # = lr g / (|g| + eps / sqrt(0.001)): an effective eps of 1e-6 / 0.0316 = 3.16e-5 (torch: 1e-6)
    lr, g, eps = 1e-3, 1e-5, 1e-6
    v4 = 1.0 - _one_step(TransformersV4AdamW, 1.0, g, lr=lr, eps=eps)
    ours = 1.0 - _one_step(torch.optim.AdamW, 1.0, g, lr=lr, eps=eps, weight_decay=0.0)
    assert v4 == pytest.approx(lr * g / (g + eps / 0.001 ** 0.5), rel=1e-9)  # 0.240 lr
    assert ours == pytest.approx(lr * g / (g + eps), rel=1e-9)  # 0.909 lr
    assert v4 / ours == pytest.approx(0.2643, abs=1e-3)  # the v4 step is 74% smaller


def test_fidelity_transformers_v4_adamw_decays_the_weights_after_the_update():
    from ccgs.optimizer import TransformersV4AdamW

    # lr 0.1, weight decay 1, gradient 1, p = 1: the Adam step is 0.1 (eps negligible)
    v4 = _one_step(TransformersV4AdamW, 1.0, 1.0, lr=0.1, eps=1e-12, weight_decay=1.0)
    ours = _one_step(torch.optim.AdamW, 1.0, 1.0, lr=0.1, eps=1e-12, weight_decay=1.0)
    assert v4 == pytest.approx((1.0 - 0.1) * (1.0 - 0.1))  # update, then p -= lr wd p: 0.81
    assert ours == pytest.approx(1.0 * (1.0 - 0.1) - 0.1)  # p *= 1 - lr wd, then the update: 0.80


def test_fidelity_transformers_v4_adamw_matches_the_formula_over_many_steps_and_resumes():
    from ccgs.optimizer import TransformersV4AdamW

    grads = torch.linspace(-1, 1, 7, dtype=torch.float64)
    parameter = nn.Parameter(torch.ones(1, dtype=torch.float64))
    optimizer = TransformersV4AdamW([parameter], lr=0.01, eps=1e-6, weight_decay=0.1)
    p, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate(grads.tolist(), start=1):
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        p -= 0.01 * (1 - 0.999 ** t) ** 0.5 / (1 - 0.9 ** t) * m / (v ** 0.5 + 1e-6)
        p -= 0.01 * 0.1 * p
        parameter.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
        if t == 3:  # a checkpoint: a new optimizer from the state dict continues the same
            state = optimizer.state_dict()
            optimizer = TransformersV4AdamW([parameter], lr=0.01, eps=1e-6, weight_decay=0.1)
            optimizer.load_state_dict(state)
        assert parameter.item() == pytest.approx(p, rel=1e-12)


def test_fidelity_the_preset_picks_the_update_rule():
    from ccgs.optimizer import TransformersV4AdamW, make_optimizer

    groups = [{"params": [nn.Parameter(torch.zeros(1))], "lr": 1e-5}]
    assert type(make_optimizer(groups, PRESETS["paper"])) is TransformersV4AdamW
    assert type(make_optimizer(groups, PRESETS["improved"])) is torch.optim.AdamW


def test_fidelity_clip_resampling_authors_leave_out_the_final_clip(tmp_path):
    import numpy as np

    from benchmark.data.features import resample_clips
    from ccgs.features import ClipFeatures

    clips = np.arange(5, dtype=np.float32)[:, None]  # clip k has feature k
    # edges round([0, 2.5, 5]) = [0, 2, 5]; the authors cap every edge at 4: bins [0, 2) and [2, 4)
    assert resample_clips(clips, 2, last_clip=False)[:, 0].tolist() == [0.5, 2.5]
    assert resample_clips(clips, 2)[:, 0].tolist() == [0.5, 3.0]  # ours: [2, 5), the final clip included
    # 7 clips into 3 bins: edges round([0, 2.33, 4.67, 7]) = [0, 2, 5, 7] -> authors [5, 6), ours [5, 7)
    seven = np.arange(7, dtype=np.float32)[:, None]
    assert resample_clips(seven, 3, last_clip=False)[:, 0].tolist() == [0.5, 3.0, 5.0]
    assert resample_clips(seven, 3)[:, 0].tolist() == [0.5, 3.0, 5.5]
    np.save(tmp_path / "v.npy", clips)
    video = Video("v", 10.0, (), str(tmp_path / "v.npy"))
    assert ClipFeatures(2, PRESETS["paper"].clip_resampling).get(video)[:, 0].tolist() == [0.5, 2.5]
    assert ClipFeatures(2, PRESETS["improved"].clip_resampling).get(video)[:, 0].tolist() == [0.5, 3.0]


def test_fidelity_uniform_negatives_can_be_the_positive_itself(tiny_benchmark):
    import numpy as np

    from ccgs.training import negative_questions

    split = tiny_benchmark.split("train")
    count = len(split.annotations)
    texts = [a.text for a in split.annotations]
    drawn = [negative_questions(split, "uniform", np.random.default_rng(seed)) for seed in range(5)]
    # the authors' draw: one uniform index per question, kept whatever it is
    assert all(d.tolist() == np.random.default_rng(s).integers(0, count, size=count).tolist()
               for s, d in enumerate(drawn))
    assert any(d[i] == i for d in drawn for i in range(count))  # 48 draws of 48: the positive comes up
    for seed in range(5):
        other = negative_questions(split, "any", np.random.default_rng(seed))
        assert all(texts[j] != texts[i] for i, j in enumerate(other))


def test_fidelity_schedule_counts_every_question_as_the_authors_loader():
    from ccgs.training import schedule_steps

    paper = preset("paper", epochs=2, warmup_epochs=1.0)
    # 10 questions, 3 of them skipped as too long: the authors' loader still has 10 batches an epoch
    assert schedule_steps(paper, trained=7, questions=10) == (10, 20)
    assert schedule_steps(paper.replace(schedule_length="trained_questions"), 7, 10) == (7, 14)
    assert schedule_steps(paper.replace(max_train_examples=5), 5, 10) == (5, 10)  # a subset caps both
    improved = preset("improved", epochs=2, warmup_epochs=0.5)  # 4 pairs per batch
    assert schedule_steps(improved, trained=7, questions=10) == (1, 4)
    assert schedule_steps(improved.replace(grad_accum=2), 9, 10, processes=1) == (1, 4)  # 3 batches, 2 updates


def test_fidelity_span_head_runs_in_the_autocast_dtype_for_paper_and_in_fp32_for_improved():
    table = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
    batch = collate([Sequence([1, 5, 2, 6, 3, 7, 4], [2, 4, 6])], pad_id=0)
    seen = {}
    for head in ("autocast", "fp32"):
        model = CCGSModel(LookupEncoder(table), preset("paper", inner_dim=4, visual=False, span_head_precision=head))

        def record(module, args, out, head=head) -> None:  # the first call: the one under autocast
            seen.setdefault(head, out.dtype)

        model.span_projection.register_forward_hook(record)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(batch).logits
        assert logits.dtype == torch.float32  # masked with -1e9 in fp32 either way
        plain = model(batch).logits
        if head == "fp32":
            assert torch.equal(logits, plain)  # autocast does not reach the head
        else:
            assert not torch.equal(logits, plain) and torch.allclose(logits, plain, atol=0.1)
    assert seen == {"autocast": torch.bfloat16, "fp32": torch.float32}


def test_negative_rules_other_video_never_the_same_video_any_only_another_text(tiny_benchmark):
    import numpy as np

    from ccgs.training import negative_questions, schedule_steps

    split = tiny_benchmark.split("train")
    videos = [a.video_id for a in split.annotations]
    same_video = 0
    for seed in range(5):
        other = negative_questions(split, "other_video", np.random.default_rng(seed))
        assert all(videos[j] != videos[i] for i, j in enumerate(other))
        anything = negative_questions(split, "any", np.random.default_rng(seed))
        same_video += sum(videos[j] == videos[i] for i, j in enumerate(anything))
    assert same_video > 0  # `any` keeps questions on the same video (4 per video here)
    # two processes share the batches of an epoch: half the updates each
    assert schedule_steps(preset("improved", epochs=1, warmup_epochs=1.0), 16, 16, processes=2) == (2, 2)
