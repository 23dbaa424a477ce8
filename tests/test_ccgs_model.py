"""The span matrix of a known input, fusion, batched-vs-single equivalence, and the losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.errors import ConfigError
from ccgs.collate import EncodedBatch, PieceTimes, collate
from ccgs.config import preset
from ccgs.encoder import load_encoder
from ccgs.encoding import Sequence, SubtitleTokens
from ccgs.features import ClipFeatures
from ccgs.inference import SpanScorer
from ccgs.losses import contrastive_span_loss, iou_ranking_loss
from ccgs.model import MASKED, CCGSModel
from ccgs.timeline import piece_clip_coverage
from tests.ccgs_support import LookupEncoder, tiny_encoder


def _identity_head_model(hidden: int, **options) -> tuple[CCGSModel, torch.Tensor]:
    table = torch.randn(20, hidden, generator=torch.Generator().manual_seed(0))
    model = CCGSModel(LookupEncoder(table), preset("paper", inner_dim=hidden, visual=False, **options))
    with torch.no_grad():  # q = k = the marker's hidden state
        model.span_projection.weight.copy_(torch.cat([torch.eye(hidden), torch.eye(hidden)]))
        model.span_projection.bias.zero_()
    return model, table


def _expected_logit(x: torch.Tensor, m: int, y: torch.Tensor, n: int) -> float:
    """Rotary dot product via complex numbers: Re(z_x conj(z_y) e^{i(m-n)theta}) summed over pairs."""
    dim = x.shape[0]
    theta = 10000.0 ** (-2.0 * np.arange(dim // 2) / dim)
    zx = x[0::2].double().numpy() + 1j * x[1::2].double().numpy()
    zy = y[0::2].double().numpy() + 1j * y[1::2].double().numpy()
    return float(np.real(zx * np.conj(zy) * np.exp(1j * (m - n) * theta)).sum())


def test_span_matrix_of_a_known_input_with_rotary():
    model, table = _identity_head_model(8, rotary=True)
    ids = [1, 5, 6, 2, 7, 2, 8, 9, 2, 3, 2]  # [CLS] q q [SEP] p1 [SEP] p2 p2 [SEP] p3 [SEP]
    markers = [3, 5, 8, 10]
    batch = collate([Sequence(ids, markers)], pad_id=0)
    logits = model(batch).logits[0]
    assert logits.shape == (3, 3)  # 3 pieces: (i, j) from the start of piece i to the end of piece j
    for i in range(3):
        for j in range(3):  # start marker i (the [SEP] before piece i), end marker j + 1 (the one after piece j)
            expected = _expected_logit(table[ids[markers[i]]], i, table[ids[markers[j + 1]]], j + 1)
            assert logits[i, j].item() == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_masks_padding_inverted_and_long_spans():
    model, _ = _identity_head_model(8, valid_span_mask=True, max_span_pieces=2)
    batch = collate([Sequence([1, 5, 2, 7, 2, 8, 2, 9, 2], [2, 4, 6, 8]), Sequence([1, 5, 2, 7, 2], [2, 4])], 0)
    logits = model(batch).logits
    scored = logits > MASKED / 2
    assert scored[0].tolist() == [[True, True, False], [False, True, True], [False, False, True]]
    assert scored[1].tolist() == [[True, False, False], [False, False, False], [False, False, False]]


def test_authors_fusion_needs_clips_equal_to_hidden_size():
    table = torch.randn(20, 8)
    with pytest.raises(ConfigError, match="max_clips"):
        CCGSModel(LookupEncoder(table), preset("paper", inner_dim=8, max_clips=4))
    CCGSModel(LookupEncoder(table), preset("paper", inner_dim=8, max_clips=4, fusion="none"))
    CCGSModel(LookupEncoder(table), preset("paper", inner_dim=8, max_clips=4, fusion="temporal"))


def _visual_batch(model: CCGSModel, clips: torch.Tensor) -> EncodedBatch:
    """Two 5-second pieces of a 10-second video, with the given clip features."""
    return collate([Sequence([1, 5, 2, 7, 2, 8, 2], [2, 4, 6])], 0, list(clips.numpy()), model.clips, 1024,
                   [PieceTimes(np.array([0.0, 5.0]), np.array([5.0, 10.0]), 10.0)])


@pytest.mark.parametrize("fusion", ["authors", "temporal", "none"])
def test_visual_channel_reaches_the_spans_only_through_fusion(fusion):
    torch.manual_seed(0)
    table = torch.randn(20, 8)
    model = CCGSModel(LookupEncoder(table), preset("paper", inner_dim=8, fusion=fusion, dropout=0.0)).eval()
    first, second = (model(_visual_batch(model, torch.randn(1, 8, 1024))) for _ in range(2))
    assert first.highlight_logits.shape == (1, 8)
    assert torch.equal(first.logits, second.logits) is (fusion == "none")


class _FixedHighlights(nn.Module):
    """A visual branch that ignores its input and returns the given highlight logits."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, token_states, token_mask, clips, clip_mask) -> torch.Tensor:
        return self.logits


def _best_span_with_a_bump(fusion: str, piece: int, **options) -> tuple[torch.Tensor, tuple[int, int]]:
    """Eight 10-second pieces over an 80-second video, 16 clips of 5 s (piece p covers clips 2p, 2p + 1),
    text states all zero (every span's text logit is 0), and a highlight bump on the clips of ``piece``."""
    model = CCGSModel(LookupEncoder(torch.zeros(20, 16)), preset("tiny", inner_dim=16, fusion=fusion, **options))
    highlights = torch.full((1, 16), -1.0)
    highlights[0, 2 * piece: 2 * piece + 2] = 3.0
    model.visual = _FixedHighlights(highlights)
    starts = np.arange(8) * 10.0
    batch = collate([Sequence([1, 5, 2, *[7, 2] * 8], [2, *range(4, 19, 2)])], 0, [np.zeros((16, 1024))], 16, 1024,
                    [PieceTimes(starts, starts + 10.0, 80.0)])
    logits = model.eval()(batch).logits[0]
    best = divmod(int(logits.argmax()), logits.shape[1])
    return logits, best


def test_temporal_fusion_follows_time():
    assert _best_span_with_a_bump("temporal", 2)[1] == (2, 2)
    assert _best_span_with_a_bump("temporal", 5)[1] == (5, 5)


def test_authors_fusion_cannot_point_in_time():
    """The same highlight vector is added to every marker: with equal text states (and no rotary position)
    every span ties, wherever the bump is."""
    logits, _ = _best_span_with_a_bump("authors", 2, rotary=False)
    scored = logits[logits > MASKED / 2]
    assert torch.allclose(scored, scored[0].expand_as(scored))


def test_piece_clip_coverage_shares_clip_time():
    coverage = piece_clip_coverage(np.array([0.0, 7.5]), np.array([7.5, 20.0]), 20.0, 4, 6)
    np.testing.assert_allclose(coverage, [[1, 0.5, 0, 0, 0, 0], [0, 0.5, 1, 1, 0, 0]])


@pytest.fixture(scope="module")
def tiny_scorer(tiny_data_dir):
    tokenizer, encoder = load_encoder(str(tiny_encoder(tiny_data_dir)), ["[Music]"])
    torch.manual_seed(0)
    model = CCGSModel(encoder, preset("tiny", max_len=96)).eval()
    tokens = SubtitleTokens(tokenizer, 96, 2, 16)
    return SpanScorer(model, tokens, ClipFeatures(model.clips), batch_tokens=4096)


def test_batched_logits_equal_one_pair_at_a_time(tiny_scorer, tiny_benchmark):
    split = tiny_benchmark.split("test")
    videos = list(tiny_benchmark.corpus("test").values())
    items = [(tiny_scorer.tokens.question(a.text), video, window)
             for a in split.annotations[:2] for video in videos for window in tiny_scorer.tokens.windows(video)]
    assert len(items) > 8
    batched = tiny_scorer.logits(tiny_scorer.encode(items))
    for row, item in enumerate(items):
        single = tiny_scorer.logits(tiny_scorer.encode([item]))[0]
        n = single.shape[0]
        torch.testing.assert_close(batched[row, :n, :n], single, rtol=0, atol=1e-5)
        assert torch.all(batched[row, n:, :] == MASKED) and torch.all(batched[row, :, n:] == MASKED)


def test_corpus_ranking_is_the_same_batched_and_one_pair_at_a_time(tiny_scorer, tiny_benchmark):
    split = tiny_benchmark.split("test")
    videos = list(tiny_benchmark.corpus("test").values())
    questions = [a.text for a in split.annotations[:2]]
    batched = tiny_scorer.rank(questions, [videos] * 2, top_n=20)
    single = tiny_scorer.rank(questions, [videos] * 2, top_n=20, max_batch_size=1, bucketing=False)
    for a, b in zip(batched, single, strict=True):
        assert [(c.video_id, c.start, c.end) for c in a] == [(c.video_id, c.start, c.end) for c in b]
        np.testing.assert_allclose([c.score for c in a], [c.score for c in b], atol=1e-5)
        assert len(a) == 20 and all(c.start < c.end for c in a)
        assert len({(c.video_id, c.start, c.end) for c in a}) == 20
    assert tiny_scorer.stats.windows > tiny_scorer.stats.pairs  # windowing happened (max_len 96)


def _naive_iou_ranking(scores: torch.Tensor, ious: torch.Tensor) -> torch.Tensor:
    s, iou = scores.flatten() * 20.0, ious.flatten()
    pairs = (s[:, None] - s[None, :])[iou[:, None] < iou[None, :]]
    return torch.logsumexp(torch.cat([torch.zeros(1, dtype=s.dtype), pairs]), dim=0)


def test_spans_per_video_caps_each_video_in_the_candidate_list(tiny_scorer, tiny_benchmark):
    videos = list(tiny_benchmark.corpus("test").values())
    question = [tiny_benchmark.split("test").annotations[0].text]
    uncapped = tiny_scorer.rank(question, [videos], top_n=100_000)[0]  # every span of every video
    tiny_scorer.spans_per_video = 2
    try:
        capped = tiny_scorer.rank(question, [videos], top_n=200)[0]
    finally:
        tiny_scorer.spans_per_video = None
    expected = []
    for candidate in uncapped:  # the uncapped order, keeping each video's two best spans
        if sum(c.video_id == candidate.video_id for c in expected) < 2:
            expected.append(candidate)
    assert [(c.video_id, c.start, c.end) for c in capped] == [(c.video_id, c.start, c.end) for c in expected]
    assert len(capped) == 2 * len(videos)


def test_iou_ranking_loss_equals_the_pairwise_formula():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 5, generator=generator, dtype=torch.float64)
    ious = torch.randint(0, 4, (2, 5, 5), generator=generator).double() / 4  # many ties
    fast = iou_ranking_loss(logits, ious)
    naive = torch.stack([_naive_iou_ranking(logits[b], ious[b]) for b in range(2)]).mean()
    torch.testing.assert_close(fast, naive)


def test_contrastive_loss_is_cross_entropy_over_positive_and_negative_spans():
    positive = torch.tensor([[[2.0, 1.0], [MASKED, 0.5]]])
    negative = torch.tensor([[[3.0, MASKED], [MASKED, MASKED]]])
    target = torch.tensor([[0, 1]])
    expected = -(1.0 - torch.logsumexp(torch.tensor([2.0, 1.0, 0.5, 3.0]), 0))
    torch.testing.assert_close(contrastive_span_loss(positive, target, negative), expected)
    alone = -(1.0 - torch.logsumexp(torch.tensor([2.0, 1.0, 0.5]), 0))
    torch.testing.assert_close(contrastive_span_loss(positive, target), alone)


def test_iou_ranking_loss_with_small_scores_and_masked_spans_equals_the_pairwise_formula():
    # small logits keep exp(20 (s_a - s_b)) near 1, so the formula's 1 + ... term and each pair count
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(1, 4, 4, generator=generator, dtype=torch.float64) * 0.02
    ious = torch.tensor([[[0.5, 0.5, 0.25, 0.0], [0.0, 1.0, 0.5, 0.25], [0.0, 0.0, 0.25, 0.75],
                          [0.0, 0.0, 0.0, 0.5]]], dtype=torch.float64)
    masked = torch.tril(torch.ones(4, 4, dtype=torch.bool), diagonal=-1)  # spans with i > j are not scored
    masked[0, 3] = True  # nor one too long (max_span_pieces), though it overlaps the answer
    ious[0, 0, 3] = 0.75
    scored = logits.masked_fill(masked, MASKED)
    keep = ~masked
    expected = _naive_iou_ranking(logits[0][keep], ious[0][keep])
    torch.testing.assert_close(iou_ranking_loss(scored, ious), expected)
