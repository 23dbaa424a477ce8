"""The semantic and hybrid window localizers: hand-computable cases with a bag-of-words encoder (no model
download), and one run of the real all-MiniLM-L6-v2 through the harness (slow)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from baselines.catalog import SYSTEMS
from baselines.localizers import SlidingWindowOptions
from baselines.passages import sliding_windows
from baselines.semantic import (
    HybridOptions,
    HybridWindowLocalizer,
    SemanticWindowLocalizer,
    fused,
    normalized,
    window_embeddings,
)
from benchmark.errors import ConfigError
from benchmark.records import Annotation, LocalizationQuery, SplitData, SubtitlePiece, Video
from benchmark.systems import TrainingData

FILLER = "so now we just go on with this part"


class BagOfWords:
    """A deterministic stand-in for a sentence encoder: unit-length word counts over the words it knows
    (``synonyms`` map a word onto another's dimension; unknown words count for nothing). It records every
    text it encodes."""

    def __init__(self, known: list[str], synonyms: dict[str, str] | None = None) -> None:
        self.dimension = {word: i for i, word in enumerate(known)}
        self.synonyms = synonyms or {}
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        rows = np.zeros((len(texts), len(self.dimension)), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                word = self.synonyms.get(word, word)
                if word in self.dimension:
                    rows[row, self.dimension[word]] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)


VOCABULARY = ["so", "now", "we", "just", "go", "on", "with", "this", "part", "how", "use", "wrap", "sprained",
              "ankle", "bandage", "burn", "water"]


def video(video_id: str, keyword_pieces: dict[int, str], pieces: int = 30, duration: float = 120.0) -> Video:
    step = duration / pieces
    return Video(video_id, duration, tuple(
        SubtitlePiece(i * step, (i + 1) * step, keyword_pieces.get(i, FILLER)) for i in range(pieces)))


def split(name: str, annotations: list[Annotation], videos: dict[str, Video]) -> SplitData:
    return SplitData(name, tuple(annotations), videos)


def planted(words: str, answer_pieces: int = 2, count: int = 6, question: str | None = None,
            name: str = "train") -> SplitData:
    """Videos whose answer (``answer_pieces`` pieces of 4 s at a per-video place) says ``words``, asked by
    ``question`` (default: ``words``); ``{i}`` in either is the video's number."""
    videos, annotations = {}, []
    for i in range(count):
        first = 3 + 2 * i
        keywords = {p: words.format(i=i) for p in range(first, first + answer_pieces)}
        videos[f"{name}{i}"] = video(f"{name}{i}", keywords)
        annotations.append(Annotation(f"{name}-q{i}", (question or words).format(i=i), f"{name}{i}", first * 4.0,
                                      (first + answer_pieces) * 4.0, 120.0))
    return split(name, annotations, videos)


def test_window_embeddings_are_unit_length_means_of_their_pieces():
    pieces = (SubtitlePiece(0, 1, "a"), SubtitlePiece(1, 2, "b"), SubtitlePiece(2, 3, "c"))
    corpus = {"v": Video("v", 3.0, pieces), "empty": Video("empty", 5.0, ())}
    passages = sliding_windows(corpus, size=2, stride=1)
    embedded = {"v": np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), "empty": np.zeros((0, 0))}
    windows = window_embeddings(passages, embedded, dim=2)
    # windows a+b and b+c: means (0.5, 0.5) and (0, 1), unit length; the empty video's window is zero
    np.testing.assert_allclose(windows, [[2 ** -0.5, 2 ** -0.5], [0.0, 1.0], [0.0, 0.0]], atol=1e-6)
    assert passages.firsts.tolist() == [0, 1, 0] and passages.lasts.tolist() == [2, 3, 0]


def test_normalized_scores():
    np.testing.assert_allclose(normalized(np.array([1.0, 2.0, 3.0]), "zscore"), [-(1.5 ** 0.5), 0.0, 1.5 ** 0.5])
    np.testing.assert_allclose(normalized(np.array([1.0, 2.0, 5.0]), "minmax"), [0.0, 0.25, 1.0])
    assert normalized(np.array([4.0, 4.0]), "zscore").tolist() == [0.0, 0.0]
    assert normalized(np.array([4.0, 4.0]), "minmax").tolist() == [0.0, 0.0]


def test_fused_scores_weigh_normalised_scores_not_raw_ones():
    # z(BM25) = (-1/sqrt 2, -1/sqrt 2, sqrt 2), z(cosine) = (-sqrt 1.5, sqrt 1.5, 0); 0.2 z(BM25) + 0.8 z(cosine)
    # prefers the second window, where the raw 0.2 BM25 + 0.8 cosine would take the third
    lexical, semantic = np.array([0.0, 0.0, 6.0]), np.array([0.1, 0.3, 0.2])
    [scores] = fused([lexical], [semantic], 0.2, "zscore")
    expected = 0.2 * np.array([-(0.5 ** 0.5), -(0.5 ** 0.5), 2 ** 0.5]) + 0.8 * np.array([-(1.5 ** 0.5), 1.5 ** 0.5, 0.0])
    np.testing.assert_allclose(scores, expected)
    assert int(np.argmax(scores)) == 1 and int(np.argmax(0.2 * lexical + 0.8 * semantic)) == 2


def test_semantic_window_picks_the_only_window_with_the_question_words_and_fits_its_length():
    train = planted("wrap sprained ankle", answer_pieces=2)
    localizer = SemanticWindowLocalizer(SlidingWindowOptions(sizes=(1, 2, 6)), encoder=BagOfWords(VOCABULARY))
    localizer.fit(TrainingData(train, train))
    assert localizer.size == 2 and localizer.fit_scores[2] == pytest.approx(1.0)
    assert localizer.fitted()["size"] == 2
    # pieces 12 and 13 say the words; the windows that hold one of them and a filler piece score lower
    videos = {"t": video("t", {12: "bandage on the burn", 13: "cool water on the burn"})}
    spans = localizer.localize([LocalizationQuery("t", "burn water", "t")], videos, 3)[0]
    assert (spans[0].start, spans[0].end) == (48.0, 56.0)
    assert spans[0].score > spans[1].score > 0 and len(spans) == 3


def test_semantic_window_embeds_each_piece_once_and_each_question_once():
    train = planted("wrap sprained ankle")
    encoder = BagOfWords(VOCABULARY)
    localizer = SemanticWindowLocalizer(SlidingWindowOptions(sizes=(1, 2, 3, 4)), encoder=encoder)
    localizer.fit(TrainingData(train, train))
    pieces = [piece.text for v in train.videos.values() for piece in v.pieces]
    questions = {a.text for a in train.annotations}
    assert sorted(encoder.encoded) == sorted(pieces + list(questions))  # four window lengths, one encoding
    encoder.encoded.clear()
    queries = [a.localization_query for a in train.annotations]
    localizer.localize(queries, train.videos, 5)
    localizer.localize(queries, train.videos, 5)
    assert encoder.encoded == []  # same videos, same questions: nothing encoded again
    extra = {"new": video("new", {7: "burn water"})}
    localizer.localize([LocalizationQuery("x", "burn water", "new")], {**train.videos, **extra}, 1)
    assert encoder.encoded == ["burn water"] + [piece.text for piece in extra["new"].pieces]


# A train split where only BM25 finds the answer: its rare words are unknown to the encoder, so every
# window's cosine is 0 and the first window (never the answer) wins. And one where only the encoder does:
# the question says synonyms of the answer's words, which BM25 cannot match (every BM25 score is 0).
LEXICAL_ONLY = dict(words="bandage{i}x ankle{i}x", question="how to use bandage{i}x ankle{i}x")
SEMANTIC_ONLY = dict(words="sprained ankle", question="twisted foot")
SYNONYMS = {"twisted": "sprained", "foot": "ankle"}


def hybrid(weights: tuple[float, ...] = (0.0, 1.0)) -> HybridWindowLocalizer:
    return HybridWindowLocalizer(SlidingWindowOptions(sizes=(2,)), HybridOptions(lexical_weights=weights),
                                 encoder=BagOfWords(VOCABULARY, SYNONYMS))


def test_the_two_train_sets_need_opposite_scores():
    for words, (semantic_iou, lexical_iou) in ((LEXICAL_ONLY, (0.0, 1.0)), (SEMANTIC_ONLY, (1.0, 0.0))):
        localizer = hybrid()
        train = planted(**words)
        localizer.fit(TrainingData(train, train))
        assert localizer.fit_scores[(2, 0.0)] == pytest.approx(semantic_iou)
        assert localizer.fit_scores[(2, 1.0)] == pytest.approx(lexical_iou)


def test_hybrid_weight_is_fitted_on_train_never_on_the_validation_split():
    lexical, semantic = planted(**LEXICAL_ONLY, name="lex"), planted(**SEMANTIC_ONLY, name="sem")
    for train, validation, weight in ((lexical, semantic, 1.0), (semantic, lexical, 0.0)):
        localizer = hybrid()
        localizer.fit(TrainingData(train, split("validation", list(validation.annotations), validation.videos)))
        assert localizer.lexical_weight == weight
        assert localizer.fitted()["lexical_weight"] == weight


def test_hybrid_finds_answers_that_either_score_alone_misses():
    # both kinds of question in one train split: a fused score gets both right, either alone half (each
    # kind's other score is constant over the windows, so normalised to 0, and any 0 < w < 1 is right)
    lexical, semantic = planted(**LEXICAL_ONLY, name="lex"), planted(**SEMANTIC_ONLY, name="sem")
    both = split("train", [*lexical.annotations, *semantic.annotations], {**lexical.videos, **semantic.videos})
    localizer = hybrid(weights=(0.0, 0.5, 1.0))
    localizer.fit(TrainingData(both, both))
    assert localizer.fit_scores[(2, 0.0)] == pytest.approx(0.5)
    assert localizer.fit_scores[(2, 1.0)] == pytest.approx(0.5)
    assert localizer.fit_scores[(2, 0.5)] == pytest.approx(1.0)
    assert localizer.lexical_weight == 0.5
    spans = localizer.localize([LocalizationQuery("q", "twisted foot", "sem3")], both.videos, 1)[0]
    assert (spans[0].start, spans[0].end) == (36.0, 44.0)


def test_catalog_systems_and_typed_options():
    for name in ("oracle+semantic", "oracle+hybrid", "bm25+semantic", "bm25+hybrid", "dense+semantic",
                 "dense+hybrid"):
        assert name in SYSTEMS
    system = SYSTEMS["oracle+hybrid"]({"hybrid.sizes": "2,4", "hybrid.lexical_weights": "0,0.5,1",
                                       "hybrid.normalization": "minmax", "hybrid.k1": 0.9, "hybrid.cache_dir": "none"})
    localizer = system.localizer
    assert localizer.options.sizes == (2, 4) and localizer.hybrid.lexical_weights == (0.0, 0.5, 1.0)
    assert localizer.lexical.lexical.k1 == 0.9 and localizer.semantic.encoder.options.cache_dir == "none"
    assert SYSTEMS["oracle+semantic"].protocol_keys == {"semantic.seed": "seed"}
    with pytest.raises(ConfigError, match="normalization"):
        SYSTEMS["oracle+hybrid"]({"hybrid.normalization": "rank"})
    with pytest.raises(ConfigError, match="lexical_weights"):
        SYSTEMS["oracle+hybrid"]({"hybrid.lexical_weights": "0.5,2"})
    with pytest.raises(ConfigError, match="semantic.k1"):
        SYSTEMS["oracle+semantic"]({"semantic.k1": 0.9})


def test_localizers_need_fit_and_answer_no_queries_with_nothing():
    train = planted("wrap sprained ankle")
    for localizer in (SemanticWindowLocalizer(SlidingWindowOptions(sizes=(2,)), encoder=BagOfWords(VOCABULARY)),
                      hybrid()):
        with pytest.raises(ConfigError, match="before fit"):
            localizer.localize([LocalizationQuery("q", "x", "v")], {"v": video("v", {})}, 1)
        localizer.fit(TrainingData(train, train))
        assert localizer.localize([], train.videos, 3) == []


@pytest.mark.slow
def test_minilm_hybrid_through_the_harness_records_what_it_fitted(tiny_benchmark, tmp_path):
    from benchmark.harness import run_system
    from benchmark.protocol import load_protocol

    protocol = load_protocol("medvidcqa-paper").replace(task="localization")
    result = run_system("oracle+hybrid", tiny_benchmark, tmp_path / "run", track=False, echo=False,
                        split="test", protocol=protocol,
                        config={"hybrid": {"sizes": [2, 4], "lexical_weights": [0.0, 0.5, 1.0], "cache_dir": "none"}})
    fitted = json.loads((tmp_path / "run" / "manifest.json").read_text())["fitted"]["localizer"]
    assert fitted["size"] in (2, 4) and fitted["lexical_weight"] in (0.0, 0.5, 1.0)
    assert set(fitted["fit_mIoU"]) == {f"{s}/{w}" for s in (2, 4) for w in (0.0, 0.5, 1.0)}
    assert 0.0 <= result.metrics["loc_mIoU"] <= 100.0
