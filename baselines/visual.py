"""A visual-only localizer in the style of VSLBase (Zhang et al., ACL 2020): a question encoder (word
embeddings learned from the train questions + a transformer layer), a video feature encoder (I3D clips
projected + a transformer layer), context-query attention, and start/end heads over clips. It never reads
subtitles: it measures what the visual channel alone can do. Trained on train, the epoch with the best mean
IoU on validation is kept."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from baselines.localizers import video_of
from baselines.options import VisualOptions
from baselines.spans import decode_spans
from baselines.training import BestState, gold_units, selection_score
from benchmark import progress
from benchmark.data.features import clip_bounds, load_clip_features
from benchmark.errors import ConfigError, DataError
from benchmark.records import Annotation, Candidate, LocalizationQuery, Video
from benchmark.systems import TrainingData

_WORD = re.compile(r"\w+")
PAD, UNKNOWN = 0, 1


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class ContextQueryAttention(nn.Module):
    """VSLNet's context-query attention: trilinear similarity, clip-to-question and question-to-clip
    attention, fused as [C, A, C*A, C*B] -> dim."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w_context = nn.Linear(dim, 1, bias=False)
        self.w_query = nn.Linear(dim, 1, bias=False)
        self.w_product = nn.Parameter(torch.empty(1, 1, dim).uniform_(-dim ** -0.5, dim ** -0.5))
        self.fuse = nn.Linear(4 * dim, dim)

    def forward(self, context: torch.Tensor, query: torch.Tensor, context_mask: torch.Tensor,
                query_mask: torch.Tensor) -> torch.Tensor:
        similarity = self.w_context(context) + self.w_query(query).transpose(1, 2) + \
            torch.matmul(context * self.w_product, query.transpose(1, 2))
        to_query = torch.softmax(similarity.masked_fill(~query_mask[:, None, :], -1e30), dim=2)
        to_context = torch.softmax(similarity.masked_fill(~context_mask[:, :, None], -1e30), dim=1)
        attended_query = torch.matmul(to_query, query)
        attended_context = torch.matmul(torch.matmul(to_query, to_context.transpose(1, 2)), context)
        return self.fuse(torch.cat([context, attended_query, context * attended_query,
                                    context * attended_context], dim=-1))


class VSLBase(nn.Module):
    def __init__(self, vocabulary_size: int, feature_dim: int, options: VisualOptions) -> None:
        super().__init__()
        dim = options.dim
        self.word_embedding = nn.Embedding(vocabulary_size, dim, padding_idx=PAD)
        self.word_position = nn.Embedding(64, dim)
        self.clip_projection = nn.Sequential(nn.Dropout(options.dropout), nn.Linear(feature_dim, dim))
        self.clip_position = nn.Embedding(options.max_clips, dim)

        def layer() -> nn.TransformerEncoderLayer:
            return nn.TransformerEncoderLayer(dim, options.heads, 2 * dim, options.dropout, batch_first=True)

        self.query_encoder, self.clip_encoder, self.fused_encoder = layer(), layer(), layer()
        self.attention = ContextQueryAttention(dim)
        self.highlight = nn.Linear(dim, 1) if options.highlight_weight > 0 else None
        self.heads = nn.Linear(dim, 2)
        for embedding in (self.word_embedding, self.word_position, self.clip_position):
            nn.init.normal_(embedding.weight, std=options.embedding_std)

    def forward(self, word_ids: torch.Tensor, clips: torch.Tensor, clip_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Start, end and (with highlighting) inside-the-answer logits per clip."""
        query_mask = word_ids != PAD
        positions = torch.arange(word_ids.shape[1], device=word_ids.device).clamp(max=63)
        query = self.query_encoder(self.word_embedding(word_ids) + self.word_position(positions),
                                   src_key_padding_mask=~query_mask)
        clip_positions = torch.arange(clips.shape[1], device=clips.device)
        context = self.clip_encoder(self.clip_projection(clips) + self.clip_position(clip_positions),
                                    src_key_padding_mask=~clip_mask)
        attended = self.attention(context, query, clip_mask, query_mask)
        highlight = None
        if self.highlight is not None:
            # VSLNet's query-guided highlighting: clips the question is about are kept, the others damped.
            highlight = self.highlight(attended).squeeze(-1)
            attended = attended * torch.sigmoid(highlight)[..., None]
        fused = self.fused_encoder(attended, src_key_padding_mask=~clip_mask)
        logits = self.heads(fused).masked_fill(~clip_mask[:, :, None], -1e30)
        return logits[..., 0], logits[..., 1], highlight


class VisualLocalizer:
    name = "visual"

    def __init__(self, options: VisualOptions | None = None) -> None:
        self.options = options or VisualOptions()
        self.model: VSLBase | None = None
        self.vocabulary: dict[str, int] = {}
        self.max_span_clips = 1
        self.validation_score: float | None = None
        self.best_epoch: int | None = None
        self.history: list[dict[str, float]] = []

    def fit(self, data: TrainingData) -> None:
        options = self.options
        torch.manual_seed(options.seed)
        train = list(data.train.annotations)
        counts = Counter(w for a in train for w in words(a.text))
        self.vocabulary = {w: i + 2 for i, w in enumerate(sorted(counts))}
        examples = [self._example(a, data.train.videos) for a in train]
        feature_dim = examples[0][1].shape[1]
        self.max_span_clips = max(last - first + 1 for _, _, (first, last) in examples)
        self.model = model = VSLBase(len(self.vocabulary) + 2, feature_dim, options)
        optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate, weight_decay=0.01)
        validation = list(data.validation.annotations)
        best = BestState()
        rng = np.random.default_rng(options.seed)
        lengths = np.array([len(features) for _, features, _ in examples])
        self.history = []
        for epoch in range(options.epochs):
            model.train()
            losses = []
            for batch_indices in length_batches(lengths, options.batch_size, rng):
                batch = [examples[i] for i in batch_indices]
                word_ids, clips, mask = self._batch([b[0] for b in batch], [b[1] for b in batch])
                start_logits, end_logits, highlight = model(word_ids, clips, mask)
                firsts = torch.tensor([b[2][0] for b in batch])
                lasts = torch.tensor([b[2][1] for b in batch])
                loss = nn.functional.cross_entropy(start_logits, firsts) + nn.functional.cross_entropy(end_logits, lasts)
                if highlight is not None:
                    positions = torch.arange(mask.shape[1])[None, :]
                    inside = ((positions >= firsts[:, None]) & (positions <= lasts[:, None])).float()
                    per_clip = nn.functional.binary_cross_entropy_with_logits(highlight, inside, reduction="none")
                    loss = loss + options.highlight_weight * (per_clip * mask).sum() / mask.sum()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                losses.append(loss.item())
            score = selection_score(self, validation, data.validation.videos, self.options.selection_metric) \
                if validation else float(epoch)
            self.history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "validation": score})
            if validation:
                progress.epoch_line(f"visual epoch {epoch + 1}/{options.epochs}: train loss {np.mean(losses):.3f}, "
                                    f"{self.options.selection_metric} on validation {score:.2f}")
            best.offer(score, epoch, model.state_dict)
        if best.state is not None:
            model.load_state_dict(best.state)
        self.validation_score = float(best.score) if validation else None
        self.best_epoch = best.epoch

    def _features(self, video: Video) -> np.ndarray:
        if not video.feature_path:
            raise DataError(f"the visual localizer needs video features, and video '{video.video_id}' has none "
                            "(features/I3D/<video_id>.npy or --features)", record=video.video_id,
                            field="feature_path")
        features = load_clip_features(video.feature_path, self.options.max_clips)
        if len(features) == 0:
            raise DataError(f"video '{video.video_id}' has an empty feature file", path=video.feature_path)
        if self.options.center:
            features = features - features.mean(axis=0, keepdims=True)
        return features

    def _word_ids(self, text: str) -> list[int]:
        return [self.vocabulary.get(w, UNKNOWN) for w in words(text)][:64] or [UNKNOWN]

    def _example(self, annotation: Annotation, videos: Mapping[str, Video]
                 ) -> tuple[list[int], np.ndarray, tuple[int, int]]:
        video = videos[annotation.video_id]
        features = self._features(video)
        starts, ends = clip_bounds(len(features), video.duration)
        return self._word_ids(annotation.text), features, gold_units(starts, ends, annotation.start, annotation.end)

    @staticmethod
    def _batch(word_lists: list[list[int]], feature_list: list[np.ndarray]
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        width = max(len(w) for w in word_lists)
        word_ids = torch.tensor([w + [PAD] * (width - len(w)) for w in word_lists])
        length = max(len(f) for f in feature_list)
        clips = torch.zeros(len(feature_list), length, feature_list[0].shape[1])
        mask = torch.zeros(len(feature_list), length, dtype=torch.bool)
        for row, features in enumerate(feature_list):
            clips[row, :len(features)] = torch.tensor(features)
            mask[row, :len(features)] = True
        return word_ids, clips, mask

    def localize(self, queries: Sequence[LocalizationQuery], videos: Mapping[str, Video],
                 top_n: int) -> list[list[Candidate]]:
        if self.model is None:
            raise ConfigError("VisualLocalizer.localize called before fit(training data)")
        self.model.eval()
        results = []
        with torch.inference_mode():
            for batch_start in range(0, len(queries), 64):
                batch = queries[batch_start:batch_start + 64]
                batch_videos = [video_of(q, videos) for q in batch]
                features = [self._features(v) for v in batch_videos]
                start_logits, end_logits, highlight = self.model(*self._batch([self._word_ids(q.text) for q in batch],
                                                                             features))
                for row, (query, video) in enumerate(zip(batch, batch_videos, strict=True)):
                    count = len(features[row])
                    starts, ends = clip_bounds(count, video.duration)
                    inside = None if highlight is None else highlight[row, :count].numpy().astype(np.float64)
                    spans = decode_spans(start_logits[row, :count].numpy().astype(np.float64),
                                         end_logits[row, :count].numpy().astype(np.float64),
                                         self.max_span_clips, top_n, inside_scores=inside)
                    results.append([Candidate(query.video_id, float(starts[first]), float(ends[last]), score)
                                    for first, last, score in spans])
        return results


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of examples of similar length (little padding), in a random order: the examples are
    shuffled, sorted by length (stable, so equal lengths stay shuffled), cut into batches, and the batches
    shuffled."""
    order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
