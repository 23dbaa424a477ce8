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
