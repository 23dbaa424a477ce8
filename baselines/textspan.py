"""A learned text span localizer: a transformer encoder reads the question with the subtitle pieces of the
video, each piece is the mean of its token states, and start/end heads score every piece. Videos longer
than the encoder's input are cut into chunks of whole pieces, each chunk prefixed by the question; the
start and end softmaxes run over all pieces of the video. Each piece also gets DrQA-style exact-match
features (the idf-weighted share of its tokens that occur in the question) and sees its neighbours through a convolution. Trained on train, the epoch with the best mean
IoU on validation is kept. Any Hugging Face encoder works (by name or folder); ``encoder='tiny'`` builds a
random-init tiny DeBERTa-v2 with a sentencepiece tokenizer trained on the train texts
(:mod:`benchmark.random_encoder`)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.dense import resolve_model
from baselines.localizers import video_of
from baselines.options import TextSpanOptions
from baselines.spans import decode_spans
from baselines.training import BestState, gold_units, quiet_transformers, selection_score
from benchmark import progress
from benchmark.errors import ConfigError
from benchmark.random_encoder import build_random_encoder
from benchmark.records import Annotation, Candidate, LocalizationQuery, Video
from benchmark.systems import TrainingData


class PieceSpanModel(nn.Module):
    """Start/end scores per piece from two paths that are added: the encoder's states mean-pooled per piece,
    a convolution over neighbouring pieces and a linear head; and the pieces' exact-match features (DrQA's,
    weighted by idf: the idf mass of its tokens that occur in the question per token, and the largest such
    idf) through a small convolution over neighbouring pieces."""

    def __init__(self, encoder: nn.Module, hidden: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.context = nn.Conv1d(hidden, hidden, kernel_size=5, padding=2)
        self.heads = nn.Linear(hidden, 2)
        self.lexical = nn.Sequential(nn.Conv1d(2, 16, kernel_size=9, padding=4), nn.ReLU(),
                                     nn.Conv1d(16, 2, kernel_size=9, padding=4))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, piece_index: torch.Tensor,
                piece_count: int, exact_match: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        flat_hidden = hidden.reshape(-1, hidden.shape[-1])
        flat_index = piece_index.reshape(-1)
        used = flat_index >= 0
        sums = hidden.new_zeros(piece_count, hidden.shape[-1]).index_add_(0, flat_index[used], flat_hidden[used])
        counts = hidden.new_zeros(piece_count).index_add_(0, flat_index[used], hidden.new_ones(int(used.sum())))
        pieces = sums / counts.clamp(min=1.0)[:, None]
        pieces = pieces + torch.relu(self.context(pieces.T[None]))[0].T
        logits = self.heads(pieces) + self.lexical(exact_match.T[None])[0].T
        return logits[:, 0], logits[:, 1]


class TextSpanLocalizer:
    name = "textspan"

    def __init__(self, options: TextSpanOptions | None = None) -> None:
        self.options = options or TextSpanOptions()
        self.model: PieceSpanModel | None = None
        self.tokenizer: Any = None  # a Hugging Face tokenizer, set by fit
        self.max_span_pieces = 1
        self.validation_score: float | None = None
        self.best_epoch: int | None = None
        self._piece_tokens: dict[str, list[list[int]]] = {}
        self._idf: dict[int, float] = {}

    # -- fitting -----------------------------------------------------------------------------------------
    def fit(self, data: TrainingData) -> None:
        options = self.options
        torch.manual_seed(options.seed)
        quiet_transformers()
        train = [a for a in data.train.annotations if data.train.videos[a.video_id].pieces]
        if not train:
            raise ConfigError("the text span localizer needs train questions whose videos have subtitles")
        train = seeded_sample(train, options.max_train_questions, options.seed)
        self._load_encoder(data)
        self._piece_tokens = {}
        self._idf = self._piece_idf(data.train.videos.values())
        model = self._require_model()
        spans = [self._gold(a, data.train.videos[a.video_id]) for a in train]
        self.max_span_pieces = max(last - first + 1 for first, last in spans)
        optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
        validation = seeded_sample([a for a in data.validation.annotations if data.validation.videos[a.video_id].pieces],
                                   options.max_validation_questions, options.seed)
        best = BestState()
        rng = np.random.default_rng(options.seed)
        for epoch in range(options.epochs):
            model.train()
            order = rng.permutation(len(train))
            for step_start in range(0, len(order), options.batch_questions):
                optimizer.zero_grad()
                batch = order[step_start:step_start + options.batch_questions]
                for i in batch:
                    annotation = train[i]
                    start_logits, end_logits = self._logits(annotation.text, data.train.videos[annotation.video_id])
                    first, last = spans[i]
                    loss = nn.functional.cross_entropy(start_logits[None], torch.tensor([first])) + \
                        nn.functional.cross_entropy(end_logits[None], torch.tensor([last]))
                    (loss / len(batch)).backward()
                optimizer.step()
            score = selection_score(self, validation, data.validation.videos, self.options.selection_metric) \
                if validation else float(epoch)
            if validation:
                progress.epoch_line(f"textspan epoch {epoch + 1}/{options.epochs}: "
                                    f"{self.options.selection_metric} on validation {score:.2f}")
            best.offer(score, epoch, model.state_dict)
        if best.state is not None:
            model.load_state_dict(best.state)
        self.validation_score = float(best.score) if validation else None
        self.best_epoch = best.epoch

    def _load_encoder(self, data: TrainingData) -> None:
        if self.options.encoder == "tiny":
            texts = [a.text for a in data.train.annotations] + \
                [p.text for v in data.train.videos.values() for p in v.pieces]
            with tempfile.TemporaryDirectory(prefix="textspan-tiny-") as scratch:
                encoder, self.tokenizer = self._load_pretrained(str(build_random_encoder(
                    scratch, texts, "tiny", seed=self.options.seed, hidden_size=self.options.tiny_hidden,
                    num_hidden_layers=self.options.tiny_layers, intermediate_size=2 * self.options.tiny_hidden)))
        else:
            encoder, self.tokenizer = self._load_pretrained(resolve_model(self.options.encoder))
        limit = getattr(encoder.config, "max_position_embeddings", self.options.max_length)
        if self.options.max_length > limit:
            raise ConfigError(f"textspan.max_length {self.options.max_length} exceeds the encoder's {limit} positions")
        if self.tokenizer.cls_token_id is None or self.tokenizer.sep_token_id is None:
            raise ConfigError(f"the encoder '{self.options.encoder}' has no [CLS]/[SEP] tokens; use a BERT-style "
                              "encoder")
        self.model = PieceSpanModel(encoder, int(encoder.config.hidden_size))

    def _load_pretrained(self, path: str) -> tuple[nn.Module, Any]:
        """(encoder, tokenizer) from a Hugging Face name or folder."""
        from transformers import AutoModel, AutoTokenizer

        try:
            return AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot load the encoder '{self.options.encoder}': {error}") from error

    def _piece_idf(self, videos) -> dict[int, float]:
        """Inverse document frequency of each token over the train pieces, scaled to [0, 1] (unseen: 1)."""
        frequency: dict[int, int] = {}
        count = 0
        for video in videos:
            for tokens in self._pieces_of(video):
                count += 1
                for token in set(tokens):
                    frequency[token] = frequency.get(token, 0) + 1
        top = np.log(count + 1.0)
        return {token: float(np.log((count + 1.0) / (df + 0.5)) / top) for token, df in frequency.items()}

    @staticmethod
    def _gold(annotation: Annotation, video: Video) -> tuple[int, int]:
        starts = np.array([p.start for p in video.pieces])
        ends = np.array([p.end for p in video.pieces])
        return gold_units(starts, ends, annotation.start, annotation.end)

    # -- encoding ----------------------------------------------------------------------------------------
    def _pieces_of(self, video: Video) -> list[list[int]]:
        if video.video_id not in self._piece_tokens:
            encoded = self.tokenizer([p.text for p in video.pieces], add_special_tokens=False)["input_ids"]
            unknown = self.tokenizer.unk_token_id if self.tokenizer.unk_token_id is not None \
                else self.tokenizer.sep_token_id
            self._piece_tokens[video.video_id] = [ids[:self.options.max_piece_tokens] or [unknown] for ids in encoded]
        return self._piece_tokens[video.video_id]

    def _chunks(self, question: str, video: Video
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        tokenizer, options = self.tokenizer, self.options
        question_ids = tokenizer(question, add_special_tokens=False)["input_ids"][:options.max_question_tokens]
        question_set = set(question_ids)
        pieces = self._pieces_of(video)
        weights = [[self._idf.get(t, 1.0) for t in tokens if t in question_set] for tokens in pieces]
        exact_match = torch.tensor([[sum(w) / len(tokens), max(w, default=0.0)]
                                    for w, tokens in zip(weights, pieces, strict=True)])
        prefix = [tokenizer.cls_token_id, *question_ids, tokenizer.sep_token_id]
        budget = options.max_length - len(prefix) - 1
        rows: list[tuple[list[int], list[int]]] = []
        ids, owners = list(prefix), [-1] * len(prefix)
        for piece, tokens in enumerate(pieces):
            if len(ids) - len(prefix) + len(tokens) > budget:
                rows.append((ids + [tokenizer.sep_token_id], owners + [-1]))
                ids, owners = list(prefix), [-1] * len(prefix)
            ids.extend(tokens)
            owners.extend([piece] * len(tokens))
        rows.append((ids + [tokenizer.sep_token_id], owners + [-1]))
        width = max(len(r[0]) for r in rows)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([r[0] + [pad] * (width - len(r[0])) for r in rows])
        mask = torch.tensor([[1] * len(r[0]) + [0] * (width - len(r[0])) for r in rows])
        piece_index = torch.tensor([r[1] + [-1] * (width - len(r[1])) for r in rows])
        return input_ids, mask, piece_index, exact_match

    def _logits(self, question: str, video: Video) -> tuple[torch.Tensor, torch.Tensor]:
        input_ids, mask, piece_index, exact_match = self._chunks(question, video)
        return self._require_model()(input_ids, mask, piece_index, len(video.pieces), exact_match)

    def _require_model(self) -> PieceSpanModel:
        if self.model is None:
            raise ConfigError("TextSpanLocalizer used before fit(training data)")
        return self.model

    # -- prediction --------------------------------------------------------------------------------------
    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        self._require_model().eval()
        results = []
        with torch.inference_mode():
            for query in queries:
                video = video_of(query, videos)
                if not video.pieces:
                    results.append([Candidate(query.video_id, 0.0, video.duration, 0.0)])
                    continue
                start_logits, end_logits = self._logits(query.text, video)
                spans = decode_spans(start_logits.numpy().astype(np.float64), end_logits.numpy().astype(np.float64),
                                     self.max_span_pieces, top_n)
                results.append([Candidate(query.video_id, video.pieces[first].start,
                                          max(video.pieces[last].end, video.pieces[first].start), score)
                                for first, last, score in spans])
        return results



def seeded_sample(items: list, size: int, seed: int) -> list:
    """``size`` items drawn without replacement (in their original order); all of them when ``size`` is 0."""
    if not size or len(items) <= size:
        return items
    chosen = np.random.default_rng(seed).choice(len(items), size, replace=False)
    return [items[i] for i in sorted(chosen)]
