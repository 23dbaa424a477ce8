"""Lexical text processing shared by the BM25 retrievers and the lexical window localizer.

Tokens are bm25s's default: lower-cased runs of two or more word characters, minus stop words, stemmed
with PyStemmer. Each distinct word is stemmed once and remembered, which makes tokenizing a large corpus
several times faster than bm25s's per-token tokenizer while giving the same tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from bm25s.tokenization import Tokenized

from benchmark.errors import ConfigError

_STEMMERS = {"english", "porter"}
_TOKEN = re.compile(r"\w{2,}")  # the same tokens as bm25s's (?u)\b\w\w+\b, faster


@dataclass(frozen=True)
class LexicalOptions:
    """BM25 parameters (Lucene variant) and text normalisation. ``stemmer``: a PyStemmer algorithm
    ('english' = Snowball English, 'porter') or 'none'; ``stopwords``: 'en' or 'none'."""

    k1: float = 1.2
    b: float = 0.75
    stemmer: str = "english"
    stopwords: str = "en"

    def __post_init__(self) -> None:
        if self.k1 < 0 or not 0.0 <= self.b <= 1.0:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}")
        if self.stemmer not in _STEMMERS | {"none"}:
            raise ValueError(f"unknown stemmer '{self.stemmer}', expected one of {sorted(_STEMMERS)} or 'none'")
        if self.stopwords not in ("en", "none"):
            raise ValueError(f"unknown stop word list '{self.stopwords}', expected 'en' or 'none'")


class LexicalTokenizer:
    """Texts to term ids. The vocabulary grows while tokenizing the corpus and is frozen for queries (a query
    word outside it is dropped, as are stop words)."""

    def __init__(self, options: LexicalOptions) -> None:
        self.stemmer = Stemmer.Stemmer(options.stemmer) if options.stemmer != "none" else None
        self.stopwords = frozenset(STOPWORDS_EN) if options.stopwords == "en" else frozenset()
        self.terms: dict[str, int] = {}
        self._word_terms: dict[str, int] = {}

    def _learn(self, words: set[str], grow: bool) -> None:
        kept = sorted(w for w in words if w not in self._word_terms and w not in self.stopwords)
        stems = self.stemmer.stemWords(kept) if self.stemmer else kept
        for word, stem in zip(kept, stems, strict=True):
            term = self.terms.get(stem)
            if term is None and grow:
                term = self.terms[stem] = len(self.terms)
            if term is not None:
                self._word_terms[word] = term

    def tokenize(self, texts: list[str], grow: bool) -> list[list[int]]:
        words = [_TOKEN.findall(text.lower()) for text in texts]
        self._learn({w for text_words in words for w in text_words}, grow)
        lookup = self._word_terms
        return [[t for w in text_words if (t := lookup.get(w)) is not None] for text_words in words]


class BM25Index:
    """A BM25 (Lucene) index over a list of texts, with its own vocabulary."""

    def __init__(self, texts: list[str], options: LexicalOptions) -> None:
        if not texts:
            raise ConfigError("cannot build a BM25 index over an empty corpus")
        self.tokenizer = LexicalTokenizer(options)
        ids = self.tokenizer.tokenize(texts, grow=True)
        vocabulary = dict(self.tokenizer.terms)
        self.model = bm25s.BM25(k1=options.k1, b=options.b, method="lucene")
        self.model.index(Tokenized(ids=ids, vocab=vocabulary), show_progress=False)
        self.size = len(texts)

    def scores(self, queries: list[str]) -> np.ndarray:
        """BM25 score of every indexed text for every query: (queries, texts) float32."""
        scores = np.zeros((len(queries), self.size), dtype=np.float32)
        for row, tokens in enumerate(self.tokenizer.tokenize(queries, grow=False)):
            if tokens:
                scores[row] = self.model.get_scores(tokens)
        return scores

    def top(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores of the ``k`` best texts per query, best first; equal scores keep index order."""
        scores = self.scores(queries)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :min(k, self.size)]
        return order, np.take_along_axis(scores, order, axis=1)
