"""Two-stage and oracle systems, the catalog, runs through the harness, and the dense retriever."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.catalog import SYSTEMS
from baselines.dense import DenseOptions, DenseRetriever, EncoderOptions, SentenceEncoder
from baselines.two_stage import combine
from benchmark.errors import ConfigError
from benchmark.harness import run_system
from benchmark.harness.isolation import system_inputs
from benchmark.predictions import read_predictions
from benchmark.protocol import load_protocol
from benchmark.records import Candidate, Question, SubtitlePiece, Video
from benchmark.registry import available_systems
from benchmark.systems import RankedVideo, System


def _predict(name, benchmark, out, *, task="corpus", max_candidates=10):
    """The predictions of one harness run (no tracking, no intervals)."""
    protocol = load_protocol().replace(task=task, max_candidates=max_candidates, bootstrap=0)
    result = run_system(name, benchmark, out, protocol=protocol, track=False, echo=False)
    return read_predictions(result.predictions_path).predictions


def _training_data(benchmark, split):
    return system_inputs(benchmark, load_protocol().replace(split=split)).training


def test_combination_rule_is_the_product_of_softmaxes():
    ranked = [RankedVideo("a", 2.0), RankedVideo("b", 1.0)]
    spans = [[Candidate("a", 0, 1, 0.0), Candidate("a", 2, 3, -3.0)],
             [Candidate("b", 0, 1, 5.0), Candidate("b", 4, 5, 5.0)]]
    combined = combine(ranked, spans, temperature=1.0, max_candidates=4)
    p_a, p_b = np.exp(2) / (np.exp(2) + np.e), np.e / (np.exp(2) + np.e)
    p_a_spans = np.exp([0.0, -3.0]) / np.exp([0.0, -3.0]).sum()
    expected = sorted([(p_a * p_a_spans[0], "a", 0), (p_a * p_a_spans[1], "a", 2), (p_b / 2, "b", 0),
                       (p_b / 2, "b", 4)], key=lambda row: -row[0])
    assert [(c.video_id, c.start) for c in combined] == [(v, s) for _, v, s in expected]
    np.testing.assert_allclose([c.score for c in combined], [p for p, _, _ in expected])
    tied = [RankedVideo("b", 1.0), RankedVideo("a", 1.0)]
    one_span = combine(tied, [[spans[1][0]], [spans[0][0]]], temperature=0.5, max_candidates=2)
    assert [c.video_id for c in one_span] == ["b", "a"]


def test_every_catalog_system_builds_and_refuses_unknown_options():
    for name, factory in SYSTEMS.items():
        system = factory({})
        assert isinstance(system, System), name
        with pytest.raises(ConfigError, match="no option 'not_an_option'"):
            factory({"not_an_option": 1})
    assert {"bm25", "bm25+window", "dense+window", "bm25+textspan", "bm25+visual", "oracle+window",
            "random"} <= set(SYSTEMS)


def test_options_are_typed_flat_or_nested():
    system = SYSTEMS["bm25+window"]({"bm25": {"k1": "0.9"}, "window.sizes": "2,4", "top_k": 5})
    assert system.retriever.options.k1 == 0.9
    assert system.localizer.options.sizes == (2, 4)
    assert system.combination.top_k == 5
    with pytest.raises(ConfigError, match="bm25.k1"):
        SYSTEMS["bm25"]({"bm25.k1": "many"})
    with pytest.raises(ConfigError, match="k1"):
        SYSTEMS["bm25"]({"bm25.k1": -2})


def test_the_harness_registry_lists_the_baselines_with_their_descriptions():
    entries = available_systems()
    assert entries["bm25+window"].source == "baselines.catalog"
    assert "BM25" in entries["bm25+window"].summary


def test_oracle_systems_run_only_on_the_localization_track(tiny_benchmark, tmp_path):
    with pytest.raises(ConfigError, match="localization track"):
        _predict("oracle+window", tiny_benchmark, tmp_path / "corpus")
    predictions = _predict("oracle+window", tiny_benchmark, tmp_path / "loc", task="localization")
    gold = tiny_benchmark.split("test").by_qid
    assert all(c.video_id == gold[p.qid].video_id for p in predictions for c in p.candidates)


def test_bm25_systems_beat_random_retrieval_on_tiny(tiny_benchmark, tmp_path):
    gold = tiny_benchmark.split("test").by_qid

    videos = len(tiny_benchmark.corpus("test", "split"))

    def r1(name: str) -> float:
        predictions = _predict(name, tiny_benchmark, tmp_path / name)
        assert all(len(p.candidates) == min(10, videos) for p in predictions)
        return np.mean([p.candidates[0].video_id == gold[p.qid].video_id for p in predictions])

    chance = r1("random")
    assert r1("bm25") > chance + 0.3
    assert r1("bm25-passage") > chance + 0.3


def test_systems_only_ever_see_questions_of_the_predicted_split(tiny_benchmark):
    seen = []

    class Spy:
        name = "spy"

        def fit(self, data):
            assert data.validation.name == "validation"

        def index(self, corpus):
            pass

        def rank(self, questions, top_k):
            seen.extend(questions)
            return [[RankedVideo("x", 0.0)] for _ in questions]

    system = SYSTEMS["bm25"]({})
    system.retriever = Spy()
    system.fit(_training_data(tiny_benchmark, "test"))
    system.predict(list(tiny_benchmark.split("test").questions), {"x": Video("x", 10.0)}, 5)
    assert seen and all(type(q) is Question for q in seen)
    held_out = _training_data(tiny_benchmark, "validation")
    assert held_out.validation.name == "train-holdout"  # the harness's rule: never the evaluated answers
    assert not {a.qid for a in held_out.train.annotations + held_out.validation.annotations} & set(
        tiny_benchmark.split("validation").by_qid)
    with pytest.raises(ConfigError):
        _training_data(tiny_benchmark, "train")


def test_dense_retriever_ranks_by_meaning_and_caches_embeddings(tmp_path, monkeypatch):
    def one_piece(text: str) -> tuple[SubtitlePiece, ...]:
        return (SubtitlePiece(0.0, 5.0, "hello and welcome back"), SubtitlePiece(5.0, 10.0, text))

    corpus = {
        "ankle": Video("ankle", 10.0, one_piece("wrap the elastic bandage around the sprained ankle")),
        "cpr": Video("cpr", 10.0, one_piece("push hard on the chest thirty times then give two rescue breaths")),
        "burn": Video("burn", 10.0, one_piece("hold the burned skin under cool running water")),
    }
    retriever = DenseRetriever(DenseOptions(window=1, stride=1), SentenceEncoder(EncoderOptions(cache_dir=str(tmp_path))))
    retriever.index(corpus)
    rankings = retriever.rank([Question("q1", "how do I do cardiopulmonary resuscitation"),
                               Question("q2", "treating a twisted foot joint")], top_k=3)
    assert [r[0].video_id for r in rankings] == ["cpr", "ankle"]
    assert len(list(tmp_path.glob("*.npy"))) == 1
    monkeypatch.setattr(SentenceEncoder, "encode", lambda self, texts: (_ for _ in ()).throw(AssertionError))
    again = DenseRetriever(DenseOptions(window=1, stride=1), SentenceEncoder(EncoderOptions(cache_dir=str(tmp_path))))
    again.index(corpus)
    np.testing.assert_array_equal(again._embeddings, retriever._embeddings)


def test_dense_model_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot load"):
        SentenceEncoder(EncoderOptions(model=str(tmp_path))).encode(["a question"])


def test_passage_system_localization_track(tiny_benchmark, tmp_path):
    predictions = _predict("bm25-passage", tiny_benchmark, tmp_path, task="localization")
    queries = {a.qid: a for a in tiny_benchmark.split("test").annotations}
    for p in predictions:
        assert len(p.candidates) == 1 and p.candidates[0].video_id == queries[p.qid].video_id
