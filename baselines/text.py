"""Lexical text processing shared by the BM25 retrievers and the lexical window localizer."""

from __future__ import annotations

from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer
from bm25s.tokenization import Tokenizer

from benchmark.errors import ConfigError

_STEMMERS = {"english", "porter"}


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


class BM25Index:
    """A BM25 (Lucene) index over a list of texts, with its own vocabulary."""

    def __init__(self, texts: list[str], options: LexicalOptions) -> None:
        if not texts:
            raise ConfigError("cannot build a BM25 index over an empty corpus")
        stemmer = Stemmer.Stemmer(options.stemmer) if options.stemmer != "none" else None
        stopwords = "en" if options.stopwords == "en" else []
        self.tokenizer = Tokenizer(stemmer=stemmer, stopwords=stopwords)
        tokens = self.tokenizer.tokenize(texts, update_vocab=True, return_as="ids", show_progress=False)
        self.model = bm25s.BM25(k1=options.k1, b=options.b, method="lucene")
        self.model.index(tokens, show_progress=False)
        self.size = len(texts)

    def query_tokens(self, queries: list[str]) -> list[list[int]]:
        return self.tokenizer.tokenize(queries, update_vocab=False, return_as="ids", show_progress=False)

    def scores(self, queries: list[str]) -> np.ndarray:
        """BM25 score of every indexed text for every query: (queries, texts) float32."""
        tokens = self.query_tokens(queries)
        return np.stack([self.model.get_scores(t) for t in tokens]) if tokens else np.zeros((0, self.size))

    def top(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores of the ``k`` best texts per query, best first."""
        k = min(k, self.size)
        tokens = self.query_tokens(queries)
        results = self.model.retrieve(tokens, k=k, show_progress=False, n_threads=0)
        return np.asarray(results.documents), np.asarray(results.scores)
