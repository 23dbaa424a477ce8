"""The dense span prior (``dense_prior``): pieces cut out of the sequence, prefix-sum span cosines equal to
a direct computation, the prior moving the best span, batch independence, and training end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from benchmark.predictions import read_predictions
from ccgs.collate import collate
from ccgs.config import preset
from ccgs.encoder import load_encoder
from ccgs.encoding import Sequence, SubtitleTokens
from ccgs.model import MASKED, CCGSModel, piece_inputs, question_inputs, span_cosines
from tests.ccgs_support import LookupEncoder, tiny_encoder
from vcval.main import main

# [CLS]=1 q=5 q=6 [SEP]=2 | p1: 7 [SEP] | p2: 8 9 [SEP] | p3: 3 [SEP]
IDS = [1, 5, 6, 2, 7, 2, 8, 9, 2, 3, 2]
MARKERS = [3, 5, 8, 10]


def test_pieces_and_question_are_cut_out_as_inputs_of_their_own_once_each():
    batch = collate([Sequence(IDS, MARKERS), Sequence([1, 4, 2, 8, 9, 2], [2, 5]), Sequence(IDS, MARKERS)], 0)
    ids, mask, rows = piece_inputs(batch.input_ids, batch.marker_index, batch.marker_mask)
    pieces = {tuple(row[m.bool()].tolist()) for row, m in zip(ids, mask, strict=True)}
    assert pieces == {(1, 7, 2), (1, 8, 9, 2), (1, 3, 2)}  # [CLS] piece [SEP]; p2 of both questions once
    assert ids.shape[0] == 3
    first = [tuple(ids[r][mask[r].bool()].tolist()) for r in rows[0].tolist()]
    assert first == [(1, 7, 2), (1, 8, 9, 2), (1, 3, 2)]
    assert tuple(ids[rows[1, 0]][mask[rows[1, 0]].bool()].tolist()) == (1, 8, 9, 2)
    assert rows[2].tolist() == rows[0].tolist()
    q_ids, q_mask, q_rows = question_inputs(batch.input_ids, batch.marker_index)
    questions = [tuple(q_ids[r][q_mask[r].bool()].tolist()) for r in q_rows.tolist()]
    assert questions == [(1, 5, 6, 2), (1, 4, 2), (1, 5, 6, 2)] and q_ids.shape[0] == 2


def test_prefix_sum_span_cosines_equal_the_direct_cosine_of_the_mean():
    generator = torch.Generator().manual_seed(0)
    pieces = torch.nn.functional.normalize(torch.randn(2, 6, 16, generator=generator), dim=-1)
    question = torch.randn(2, 16, generator=generator)
    cosines = span_cosines(pieces, question)
    assert cosines.shape == (2, 6, 6) and cosines.dtype == torch.float32
    for b in range(2):
        for i in range(6):
            for j in range(6):
                mean = pieces[b, min(i, j):max(i, j) + 1].double().mean(dim=0)
                direct = torch.nn.functional.cosine_similarity(mean, question[b].double(), dim=0)
                assert cosines[b, i, j].item() == pytest.approx(direct.item(), abs=1e-6)


def _prior_model(**options) -> CCGSModel:
    """Lookup encoder: [CLS], [SEP] and padding are zero vectors, so a text's embedding is the mean of its
    words' vectors; the span head is zeroed, so the span logits are the prior alone."""
    table = torch.zeros(12, 4)
    table[5] = table[8] = torch.tensor([1.0, 0.0, 0.0, 0.0])  # question word 5 and piece-2 word 8 agree
    table[6] = table[9] = torch.tensor([1.0, 0.0, 0.0, 0.0])
    table[7] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    table[3] = torch.tensor([0.0, 0.0, 1.0, 0.0])
    model = CCGSModel(LookupEncoder(table), preset("paper", inner_dim=4, visual=False, valid_span_mask=True,
                                                   **options))
    with torch.no_grad():
        model.span_projection.weight.zero_()
        model.span_projection.bias.zero_()
    return model


def test_the_prior_moves_the_best_span_to_the_piece_that_matches_the_question():
    batch = collate([Sequence(IDS, MARKERS)], 0)
    without = _prior_model().eval()(batch).logits[0]
    assert torch.all(without[without > MASKED / 2] == 0)  # no prior: every scored span ties
    logits = _prior_model(dense_prior=True, dense_prior_init=10.0).eval()(batch).logits[0]
    best = divmod(int(logits.argmax()), 3)
    assert best == (1, 1)  # piece 2 (words 8, 9) says what the question (5, 6) says
    # hand values: e1 = y, e2 = x = q, e3 = z; span (1, 2) has mean (x + z) / 2, cosine 1 / sqrt 2
    assert logits[1, 1].item() == pytest.approx(10.0)
    assert logits[1, 2].item() == pytest.approx(10.0 / np.sqrt(2.0))
    assert logits[0, 2].item() == pytest.approx(10.0 / np.sqrt(3.0))
    assert logits[0, 0].item() == pytest.approx(0.0, abs=1e-6) and logits[2, 1].item() == MASKED


def test_the_prior_weight_is_learned_with_the_encoder():
    model = _prior_model(dense_prior=True)
    model.encoder.table.weight.requires_grad_(True)
    logits = model(collate([Sequence(IDS, MARKERS)], 0)).logits
    torch.log_softmax(logits.flatten(), dim=0)[2].neg().backward()  # target: span (0, 2)
    assert model.prior_weight.grad is not None and model.prior_weight.grad.item() != 0.0
    assert model.encoder.table.weight.grad.abs().sum().item() > 0


def test_prior_logits_of_one_sequence_do_not_depend_on_its_batch(tiny_data_dir, tiny_benchmark):
    tokenizer, encoder = load_encoder(str(tiny_encoder(tiny_data_dir)), ["[Music]"])
    torch.manual_seed(0)
    model = CCGSModel(encoder, preset("tiny", visual=False, dense_prior=True)).eval()
    tokens = SubtitleTokens(tokenizer, 96, 2, 16)
    videos = list(tiny_benchmark.corpus("test").values())[:3]
    questions = [tokens.question(a.text) for a in tiny_benchmark.split("test").annotations[:2]]
    sequences = [tokens.sequence(q, w) for q in questions for v in videos for w in tokens.windows(v)]
    with torch.inference_mode():
        batched = model(collate(sequences, tokens.pad_id)).logits
        for row, sequence in enumerate(sequences):
            single = model(collate([sequence], tokens.pad_id)).logits[0]
            n = single.shape[0]
            torch.testing.assert_close(batched[row, :n, :n], single, rtol=0, atol=1e-5)


def test_inference_encodes_each_piece_once_and_training_clears_the_cache(tiny_data_dir, tiny_benchmark):
    tokenizer, encoder = load_encoder(str(tiny_encoder(tiny_data_dir)), ["[Music]"])
    torch.manual_seed(0)
    model = CCGSModel(encoder, preset("tiny", visual=False, dense_prior=True)).eval()
    tokens = SubtitleTokens(tokenizer, 96, 2, 16)
    video = next(iter(tiny_benchmark.corpus("test").values()))
    questions = [tokens.question(a.text) for a in tiny_benchmark.split("test").annotations[:2]]
    first = collate([tokens.sequence(questions[0], w) for w in tokens.windows(video)], tokens.pad_id)
    second = collate([tokens.sequence(questions[1], w) for w in tokens.windows(video)], tokens.pad_id)
    with torch.inference_mode():
        model(first)
        cached = len(model._piece_embeddings)
        assert cached > 0
        from_cache = model(second).logits  # the same pieces with another question: nothing new encoded
        assert len(model._piece_embeddings) == cached
    with torch.enable_grad():  # the uncached path, as in training
        fresh = model(second).logits
    torch.testing.assert_close(from_cache, fresh.detach(), rtol=0, atol=1e-5)
    model.train()
    assert not model._piece_embeddings


@pytest.mark.slow
def test_vcval_train_ccgs_with_the_dense_prior_and_the_video_fusion(tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    arguments = ["train", "ccgs", "--data-dir", str(tiny_data_dir), "--encoder", str(tiny_encoder(tiny_data_dir)),
                 "--out", str(out), "--preset", "tiny", "--epochs", "1", "--max-len", "128", "--no-track",
                 "--max-train-examples", "8", "--max-val-questions", "4", "--bootstrap", "20", "--no-visual",
                 "--retriever", "bm25", "--top-k", "3", "--set", "dense_prior=true", "--set", "video_fusion=true",
                 "--set", "video_fusion_weights=0,0.5,1"]
    assert main(arguments) == 0
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["config"]["dense_prior"] is True and summary["config"]["video_fusion"] is True
    assert summary["video_fusion"]["weight"] in (0.0, 0.5, 1.0)
    assert set(summary["video_fusion"]["validation"]) == {"0.0", "0.5", "1.0"}
    weights = load_file(out / "best" / "model.safetensors")
    assert weights["prior_weight"].item() != 10.0  # trained from its initial value
    predictions = read_predictions(out / "test" / "predictions.jsonl").predictions
    assert len(predictions) == 12
    for prediction in predictions:  # 3 videos, each with its equal share (100 // 3) of spans, video by video
        videos = [c.video_id for c in prediction.candidates]
        assert len(set(videos)) == 3 and videos == sorted(videos, key=videos.index)
