"""The corpus track's video fusion (``video_fusion``): standardised scores, weight 0 = the retriever's
order, the weight chosen on validation only and never one that lowers validation video_R1."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.errors import ConfigError
from benchmark.records import Candidate
from benchmark.scoring import score
from benchmark.systems import RankedVideo, TrainingData, fitted_settings
from ccgs.config import preset
from ccgs.system import CCGSSystem
from ccgs.video_fusion import choose_weight, fuse_videos, standardize

RANKED = [RankedVideo("a", 3.0), RankedVideo("b", 2.0), RankedVideo("c", 1.0)]


def _spans(best: dict[str, float]) -> list[list[Candidate]]:
    """Two spans per video, the best first, scored ``best`` and 1 below."""
    return [[Candidate(v, 0.0, 1.0, best[v]), Candidate(v, 1.0, 2.0, best[v] - 1.0)] for v in ("a", "b", "c")]


def test_standardize_is_mean_zero_unit_deviation_and_zero_for_ties():
    np.testing.assert_allclose(standardize([3.0, 2.0, 1.0]), [np.sqrt(1.5), 0.0, -np.sqrt(1.5)])
    assert standardize([4.0, 4.0]).tolist() == [0.0, 0.0]


def test_weight_zero_keeps_the_retrievers_order_where_ccgs_would_reverse_it():
    spans = _spans({"a": 0.0, "b": 1.0, "c": 9.0})  # CCGS's best spans say c, b, a
    kept = fuse_videos(RANKED, spans, 0.0, 2, 100)
    assert [c.video_id for c in kept] == ["a", "a", "b", "b", "c", "c"]
    assert [(c.start, c.end) for c in kept[:2]] == [(0.0, 1.0), (1.0, 2.0)]  # CCGS's span order inside a video
    assert [c.video_id for c in fuse_videos(RANKED, spans, 1.0, 1, 100)] == ["c", "b", "a"]
    assert [c.video_id for c in fuse_videos(RANKED, spans, 0.0, 2, 3)] == ["a", "a", "b"]  # max_candidates


def test_fused_score_by_hand():
    # z(r) = (1.2247, 0, -1.2247); best spans (0, 5, 0): z(s) = (-0.7071, 1.4142, -0.7071)
    spans = _spans({"a": 0.0, "b": 5.0, "c": 0.0})
    for weight, order in ((0.3, ["a", "b", "c"]), (0.4, ["b", "a", "c"])):  # b overtakes a above w = 0.366
        fused = fuse_videos(RANKED, spans, weight, 1, 100)
        assert [c.video_id for c in fused] == order
    a = next(c for c in fuse_videos(RANKED, spans, 0.4, 1, 100) if c.video_id == "a")
    assert a.score == pytest.approx(0.6 * np.sqrt(1.5) - 0.4 * np.sqrt(0.5))


def test_ties_keep_the_retrievers_order():
    tied = [RankedVideo("a", 1.0), RankedVideo("b", 1.0)]
    spans = [[Candidate("a", 0.0, 1.0, 2.0)], [Candidate("b", 0.0, 1.0, 2.0)]]
    assert [c.video_id for c in fuse_videos(tied, spans, 0.5, 1, 10)] == ["a", "b"]


def test_choose_weight_never_lowers_video_r1_below_weight_zero_and_prefers_small_weights():
    table = {0.0: (10.0, 50.0), 0.5: (30.0, 40.0), 0.7: (20.0, 60.0), 0.9: (20.0, 55.0), 1.0: (40.0, 20.0)}
    weight, seen = choose_weight(list(table), lambda w: {"R1_mIoU": table[w][0], "video_R1": table[w][1]},
                                 "R1_mIoU")
    assert weight == 0.7  # 0.5 and 1.0 score higher but lose videos; 0.9 ties 0.7 and is larger
    assert set(seen) == set(table)
    weight, _ = choose_weight([0.0, 1.0], lambda w: {"R1_mIoU": 5.0, "video_R1": 50.0 - 10 * w}, "R1_mIoU")
    assert weight == 0.0


def test_weights_must_include_zero_and_lie_in_the_unit_interval():
    with pytest.raises(ConfigError, match="include 0"):
        preset("tiny", video_fusion_weights=[0.5, 1.0])
    with pytest.raises(ConfigError, match="include 0"):
        preset("tiny", video_fusion_weights=[0.0, 2.0])


# -- the system: CCGS's span scores stubbed, so that the choice is hand-computable ---------------------------
class _Retriever:
    """Ranks a question's gold video ``gold_rank``-th (1-based) of 3, scores 3, 2, 1."""

    name = "stub"

    def __init__(self, gold: dict[str, str], gold_rank: int) -> None:
        self.gold, self.gold_rank = gold, gold_rank

    def fit(self, data) -> None:
        pass

    def index(self, corpus) -> None:
        self.corpus = list(corpus)

    def rank(self, questions, top_k):
        rankings = []
        for question in questions:
            others = [v for v in self.corpus if v != self.gold[question.text]][:2]
            order = others[:self.gold_rank - 1] + [self.gold[question.text]] + others[self.gold_rank - 1:]
            rankings.append([RankedVideo(v, 3.0 - k) for k, v in enumerate(order[:top_k])])
        return rankings


class _Scorer:
    """CCGS's spans: the gold span in the gold video scored ``gold_score``, a span scored 5 elsewhere;
    records every question text it is asked about."""

    def __init__(self, answers: dict[str, tuple[str, float, float]], gold_score: float) -> None:
        self.answers, self.gold_score, self.asked = answers, gold_score, []

    def rank(self, texts, videos, top_n, progress=False):
        results = []
        for text, (video,) in zip(texts, videos, strict=True):
            self.asked.append(text)
            gold_video, start, end = self.answers[text]
            if video.video_id == gold_video:
                results.append([Candidate(video.video_id, start, end, self.gold_score)])
            else:
                results.append([Candidate(video.video_id, 0.0, min(1.0, video.duration), 5.0)])
        return results


def _system(monkeypatch, benchmark, gold_rank: int, gold_score: float) -> tuple[CCGSSystem, _Scorer]:
    annotations = [a for split in ("train", "val", "test") for a in benchmark.split(split).annotations]
    answers = {a.text: (a.video_id, a.start, a.end) for a in annotations}
    scorer = _Scorer(answers, gold_score)
    monkeypatch.setattr(CCGSSystem, "_load", lambda self, folder: setattr(self, "_scorer", scorer))
    retriever = _Retriever({t: v for t, (v, _, _) in answers.items()}, gold_rank)
    system = CCGSSystem(preset("tiny", video_fusion=True, top_k_videos=3, selection_metric="R1_mIoU"),
                        checkpoint="unused", retriever=retriever)
    return system, scorer


def test_wrong_ccgs_video_scores_fall_back_to_the_retrievers_top1(monkeypatch, tiny_benchmark):
    system, _ = _system(monkeypatch, tiny_benchmark, gold_rank=1, gold_score=0.0)
    system.fit(TrainingData(tiny_benchmark.split("train"), tiny_benchmark.split("val")))
    assert system.video_weight == 0.0
    assert system.video_weights[0.0]["video_R1"] == 100.0 and system.video_weights[1.0]["video_R1"] == 0.0
    test = tiny_benchmark.split("test")
    predictions = system.predict(test.questions, tiny_benchmark.corpus("test"), 100)
    assert all(p.candidates[0].video_id == a.video_id for p, a in zip(predictions, test.annotations, strict=True))
    assert score(predictions, test, bootstrap=0).metrics["video_R1"] == 100.0


def test_right_ccgs_video_scores_win_at_the_smallest_weight_that_flips(monkeypatch, tiny_benchmark):
    # the gold video second (retriever z = 0, the first 1.2247) with CCGS's best span 5 against 0: w > 0.366
    system, _ = _system(monkeypatch, tiny_benchmark, gold_rank=2, gold_score=5.0)
    monkeypatch.setattr(_Scorer, "rank", _gold_best)
    system.fit(TrainingData(tiny_benchmark.split("train"), tiny_benchmark.split("val")))
    assert system.video_weight == pytest.approx(0.4)
    assert system.video_weights[0.0]["video_R1"] == 0.0 and system.video_weights[0.4]["video_R1"] == 100.0
    # the choice reaches the run manifest's `fitted` (benchmark.systems.fitted_settings)
    fitted = fitted_settings(system)
    assert fitted["video_fusion_weight"] == pytest.approx(0.4)
    assert fitted["video_fusion_validation"]["0.0"]["video_R1"] == 0.0


def _gold_best(self, texts, videos, top_n, progress=False):
    """CCGS right: the gold video's span scored 5, the others 0."""
    results = []
    for text, (video,) in zip(texts, videos, strict=True):
        gold_video, start, end = self.answers[text]
        self.asked.append(text)
        hit = video.video_id == gold_video
        results.append([Candidate(video.video_id, start if hit else 0.0, end if hit else 1.0, 5.0 if hit else 0.0)])
    return results


def test_the_weight_is_chosen_on_validation_questions_only(monkeypatch, tiny_benchmark):
    system, scorer = _system(monkeypatch, tiny_benchmark, gold_rank=1, gold_score=0.0)
    system.fit(TrainingData(tiny_benchmark.split("train"), tiny_benchmark.split("val")))
    validation = {a.text for a in tiny_benchmark.split("val").annotations}
    assert scorer.asked and set(scorer.asked) <= validation
    chosen = system.video_weight
    test = tiny_benchmark.split("test")
    system.predict(test.questions, tiny_benchmark.corpus("test"), 100)
    assert system.video_weight == chosen  # predicting never re-chooses


def test_without_a_retriever_video_fusion_is_inert():
    system = CCGSSystem(preset("tiny", video_fusion=True), checkpoint="unused")
    assert not system.fuses_videos and fitted_settings(system) == {}
