"""BM25 retrieval: rankings equal a reference Lucene-formula computation; options and passages."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pytest

from baselines.bm25 import BM25Retriever, PassageBM25Retriever, WindowOptions
from baselines.text import BM25Index, LexicalOptions
from benchmark.errors import ConfigError
from benchmark.records import Question, SubtitlePiece, Video

CORPUS = {
    "v01": "apply a cold compress to the sprained ankle and raise the ankle above the heart",
    "v02": "wrap the ankle with an elastic bandage starting at the toes",
    "v03": "clean the wound with saline then cover the wound with sterile gauze",
    "v04": "check the pulse at the wrist count the beats for thirty seconds",
    "v05": "stretch the hamstring slowly hold the stretch for thirty seconds and breathe",
    "v06": "measure blood pressure with the cuff on the upper arm at heart level",
    "v07": "massage the calf muscle to relieve a cramp then stretch the calf",
    "v08": "place the patient in the recovery position and check breathing",
    "v09": "use an ice pack on the knee for twenty minutes to reduce swelling of the knee",
    "v10": "apply pressure to the bleeding wound and elevate the arm",
    "v11": "prepare the splint measure it against the uninjured leg and pad the splint",
    "v12": "hold the baby face down on the forearm and give five back blows",
    "v13": "treat a burn by cooling it under running water for twenty minutes",
    "v14": "perform chest compressions at a rate of one hundred per minute",
    "v15": "remove the splinter with clean tweezers and wash the skin with soap",
}
QUERIES = ["how to wrap a sprained ankle", "stretch the calf after a cramp", "clean and cover a wound",
           "measure pressure on the arm", "twenty minutes of ice on the knee", "check the pulse and breathing"]


def lucene_bm25(documents: list[str], query: str, k1: float, b: float) -> np.ndarray:
    """Reference BM25, Lucene variant (Kamphuis et al., ECIR 2020): for each query term t in document d,
    idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl)), idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))."""
    tokenize = re.compile(r"(?u)\b\w\w+\b").findall
    tokens = [tokenize(doc.lower()) for doc in documents]
    counts = [Counter(t) for t in tokens]
    average = sum(len(t) for t in tokens) / len(tokens)
    scores = np.zeros(len(documents))
    for term in set(tokenize(query.lower())):
        df = sum(term in c for c in counts)
        if df == 0:
            continue
        idf = math.log(1 + (len(documents) - df + 0.5) / (df + 0.5))
        for i, c in enumerate(counts):
            tf = c[term]
            scores[i] += idf * tf / (tf + k1 * (1 - b + b * len(tokens[i]) / average))
    return scores


def corpus_videos() -> dict[str, Video]:
    return {vid: Video(vid, 60.0, (SubtitlePiece(0.0, 60.0, text),)) for vid, text in CORPUS.items()}


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (0.9, 0.4), (2.0, 1.0)])
def test_video_bm25_top10_equals_the_lucene_formula(k1, b):
    retriever = BM25Retriever(LexicalOptions(k1=k1, b=b, stemmer="none", stopwords="none"))
    retriever.index(corpus_videos())
    rankings = retriever.rank([Question(f"q{i}", q) for i, q in enumerate(QUERIES)], top_k=10)
    for query, ranking in zip(QUERIES, rankings, strict=True):
        reference = lucene_bm25(list(CORPUS.values()), query, k1, b)
        order = np.argsort(-reference, kind="stable")[:10]
        assert [r.video_id for r in ranking] == [list(CORPUS)[i] for i in order]
        np.testing.assert_allclose([r.score for r in ranking], reference[order], rtol=1e-5, atol=1e-6)


def test_stemming_and_stop_words_are_configurable():
    texts = ["the runner runs daily", "a cat sleeps"]
    stemmed = BM25Index(texts, LexicalOptions(stemmer="english"))
    plain = BM25Index(texts, LexicalOptions(stemmer="none"))
    assert stemmed.scores(["running"])[0, 0] > 0
    assert plain.scores(["running"])[0, 0] == 0
    with_stop_words = BM25Index(texts, LexicalOptions(stopwords="none", stemmer="none"))
    without = BM25Index(texts, LexicalOptions(stopwords="en", stemmer="none"))
    assert with_stop_words.scores(["the"])[0, 0] > 0
    assert without.scores(["the"])[0, 0] == 0


@pytest.mark.parametrize("bad", [{"k1": -1.0}, {"b": 1.5}, {"stemmer": "klingon"}, {"stopwords": "fr"}])
def test_invalid_lexical_options_are_refused(bad):
    with pytest.raises(ValueError):
        LexicalOptions(**bad)


def test_rank_before_index_is_a_config_error():
    with pytest.raises(ConfigError):
        BM25Retriever().rank([Question("q", "ankle")], 5)


def test_passage_bm25_ranks_by_best_window_and_returns_its_span():
    filler = [SubtitlePiece(float(i), float(i + 1), "and then we go on with this") for i in range(20)]
    target = list(filler)
    target[12] = SubtitlePiece(12.0, 13.0, "wrap the sprained ankle with the elastic bandage")
    videos = {"filler": Video("filler", 20.0, tuple(filler)), "target": Video("target", 20.0, tuple(target)),
              "silent": Video("silent", 20.0, ())}
    retriever = PassageBM25Retriever(LexicalOptions(), WindowOptions(size=3, stride=1))
    retriever.index(videos)
    hits = retriever.search([Question("q", "elastic bandage for an ankle")], top_k=3)[0]
    assert hits[0].video_id == "target"
    assert hits[0].span.start <= 12.0 and hits[0].span.end >= 13.0
    assert hits[0].span.length == pytest.approx(3.0)
    assert len(hits) == 3
