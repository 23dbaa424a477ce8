"""Options of the learned localizers (``textspan``, ``visual``), kept apart from their torch models so that
the catalog can read their declared protocol keys without importing torch. The reader that casts every
option is :mod:`benchmark.options`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from baselines.dense import DEFAULT_MODEL


@dataclass(frozen=True)
class TextSpanOptions:
    """``encoder``: a Hugging Face encoder name or folder, or 'tiny'; ``max_length``: tokens per chunk;
    ``max_question_tokens`` / ``max_piece_tokens``: truncation; ``epochs``, ``learning_rate``,
    ``batch_questions`` (questions per optimiser step); ``max_train_questions`` /
    ``max_validation_questions``: 0 for all, else a seeded sample for training / epoch selection;
    ``tiny_hidden`` / ``tiny_layers``: size of the 'tiny' encoder; ``seed``; ``selection_metric``: the
    localization-track metric the best epoch is chosen by (the protocol's; ``R1_mIoU``: mean IoU of the
    first span)."""

    encoder: str = DEFAULT_MODEL
    max_length: int = 256
    max_question_tokens: int = 48
    max_piece_tokens: int = 32
    epochs: int = 3
    learning_rate: float = 5e-5
    batch_questions: int = 8
    max_train_questions: int = 0
    max_validation_questions: int = 0
    tiny_hidden: int = 64
    tiny_layers: int = 2
    seed: int = 0
    selection_metric: str = "R1_mIoU"
    PROTOCOL_KEYS: ClassVar[dict[str, str]] = {"seed": "seed", "selection_metric": "selection_metric"}

    def __post_init__(self) -> None:
        if self.max_length < self.max_question_tokens + self.max_piece_tokens + 3:
            raise ValueError("textspan.max_length must leave room for the question, one piece and 3 special tokens")
        if min(self.epochs, self.batch_questions, self.max_question_tokens, self.max_piece_tokens) < 1:
            raise ValueError("textspan.epochs, batch_questions and token limits must be >= 1")
        if self.learning_rate <= 0 or min(self.max_train_questions, self.max_validation_questions) < 0:
            raise ValueError("textspan.learning_rate must be > 0 and max_train/validation_questions >= 0")


@dataclass(frozen=True)
class VisualOptions:
    """``max_clips``: features are averaged down to at most this many clips; ``dim``: model width;
    ``heads``: attention heads; ``epochs``, ``learning_rate``, ``batch_size``, ``dropout``, ``seed``;
    ``selection_metric`` as for ``textspan``; ``center``: subtract each video's mean clip from its features;
    ``highlight_weight``: weight of VSLNet's query-guided highlighting loss (0: none, start/end loss only);
    ``embedding_std``: initial standard deviation of the word and position embeddings (PyTorch's is 1.0).
    Under a protocol, ``max_clips`` is its ``feature_clips``."""

    max_clips: int = 128
    dim: int = 128
    heads: int = 4
    epochs: int = 30
    learning_rate: float = 1e-3
    batch_size: int = 16
    dropout: float = 0.1
    seed: int = 0
    selection_metric: str = "R1_mIoU"
    center: bool = True
    highlight_weight: float = 5.0
    embedding_std: float = 0.1
    PROTOCOL_KEYS: ClassVar[dict[str, str]] = {"seed": "seed", "max_clips": "feature_clips",
                                               "selection_metric": "selection_metric"}

    def __post_init__(self) -> None:
        if min(self.max_clips, self.dim, self.heads, self.epochs, self.batch_size) < 1 or self.dim % self.heads:
            raise ValueError("visual.max_clips, dim, heads, epochs, batch_size must be >= 1 and dim divisible by heads")
        if self.learning_rate <= 0 or not 0.0 <= self.dropout < 1.0 or self.highlight_weight < 0 \
                or self.embedding_std <= 0:
            raise ValueError("visual.learning_rate and embedding_std must be > 0, 0 <= dropout < 1 and "
                             "highlight_weight >= 0")
