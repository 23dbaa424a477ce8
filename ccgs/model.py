"""The CCGS network: encoder, visual branch, fusion (the authors' element-wise or a temporal one), the
global-span head and an optional dense span prior.

Shapes: B sequences, T tokens, H hidden size, L clips, M boundary markers (pieces + 1), D inner dim.
Everything is batched with padding masks; the span logits of one sequence do not depend on what else is
in its batch (tests pin this to 1e-5 in fp32).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from benchmark.errors import ConfigError
from ccgs.collate import EncodedBatch
from ccgs.config import CCGSConfig

MASKED = -1e9
"""Logit of a span that is not scored (padding, or masked by the configuration)."""


def mask_logits(values: torch.Tensor, mask: torch.Tensor, masked_value: float = -1e30) -> torch.Tensor:
    return values + (1.0 - mask.to(torch.float32)) * masked_value


class ContextQueryAttention(nn.Module):
    """VSLNet's trilinear context-query attention: clips (context) attend to tokens (query) and back."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.w_context = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, 1)))
        self.w_query = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, 1)))
        self.w_product = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, 1, dim)))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Conv1d(4 * dim, dim, kernel_size=1)

    def forward(self, context: torch.Tensor, query: torch.Tensor, context_mask: torch.Tensor,
                query_mask: torch.Tensor) -> torch.Tensor:
        c, q = self.dropout(context), self.dropout(query)
        score = (c @ self.w_context) + (q @ self.w_query).transpose(1, 2) + (c * self.w_product) @ q.transpose(1, 2)
        context_to_query = torch.softmax(mask_logits(score, query_mask[:, None, :]), dim=2)  # (B, L, T)
        query_to_context = torch.softmax(mask_logits(score, context_mask[:, :, None]), dim=1)  # (B, L, T)
        attended_query = context_to_query.to(query.dtype) @ query
        attended_context = (context_to_query @ query_to_context.transpose(1, 2)).to(context.dtype) @ context
        fused = torch.cat([context, attended_query, context * attended_query, context * attended_context], dim=2)
        return self.output(fused.transpose(1, 2)).transpose(1, 2)


class QueryConcat(nn.Module):
    """Concatenate each clip with the attention-pooled token states, then project back to ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pool_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, 1)))
        self.output = nn.Conv1d(2 * dim, dim, kernel_size=1)

    def forward(self, context: torch.Tensor, query: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
        alpha = torch.softmax(mask_logits((query @ self.pool_weight).squeeze(2), query_mask), dim=1)  # (B, T)
        pooled = (alpha[:, None, :].to(query.dtype) @ query).expand(-1, context.shape[1], -1)
        return self.output(torch.cat([context, pooled], dim=2).transpose(1, 2)).transpose(1, 2)


class VisualBranch(nn.Module):
    """Clips (B, L, 1024) and token states -> one highlight score per clip, (B, L)."""

    def __init__(self, visual_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.projection = nn.Conv1d(visual_dim, hidden, kernel_size=1)
        self.attention = ContextQueryAttention(hidden, dropout)
        self.concat = QueryConcat(hidden)
        self.highlight = nn.Conv1d(hidden, 1, kernel_size=1)

    def forward(self, token_states: torch.Tensor, token_mask: torch.Tensor, clips: torch.Tensor,
                clip_mask: torch.Tensor) -> torch.Tensor:
        """Highlight logits (B, L); padded clips get -1e30, hence score sigmoid = 0."""
        projected = self.projection(self.dropout(clips).transpose(1, 2)).transpose(1, 2)
        features = self.attention(projected, token_states, clip_mask, token_mask)
        features = self.concat(features, token_states, token_mask)
        logits = self.highlight(features.transpose(1, 2)).squeeze(1)
        return mask_logits(logits.float(), clip_mask)


def span_sums(piece_clips: torch.Tensor, highlight_logits: torch.Tensor, clip_mask: torch.Tensor) -> torch.Tensor:
    """(B, n, n) float32: entry (i, j) sums the highlight logits of the clips that pieces min(i, j) ..
    max(i, j) cover, each clip weighted by the share of its time they cover. ``piece_clips`` (B, n, L),
    ``highlight_logits`` and ``clip_mask`` (B, L). Clips the branch scores as answer-like (logit > 0) raise
    a span that covers them and the others lower it, so the best span follows where the answer is shown."""
    logits = torch.where(clip_mask > 0, highlight_logits.float(), torch.zeros_like(highlight_logits, dtype=torch.float32))
    per_piece = (piece_clips.float() @ logits[:, :, None]).squeeze(2)  # (B, n)
    prefix = torch.cat([per_piece.new_zeros(per_piece.shape[0], 1), per_piece.cumsum(dim=1)], dim=1)  # (B, n + 1)
    index = torch.arange(per_piece.shape[1], device=per_piece.device)
    first = torch.minimum(index[:, None], index[None, :])
    last = torch.maximum(index[:, None], index[None, :])
    return prefix[:, last + 1] - prefix[:, first]


def piece_inputs(input_ids: torch.Tensor, marker_index: torch.Tensor, marker_mask: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each real piece of a batch of ``[CLS] q [SEP] p1 [SEP] ...`` sequences as an input of its own,
    ``[CLS] p [SEP]`` (the sequence's own ``[CLS]`` and separator ids), for a separate encoder pass.

    Returns ``(ids, mask, rows)``: ``ids`` and ``mask`` (R, P) one row per *distinct* piece of the batch
    (a window seen with several questions, or a piece repeated, is encoded once), right-padded with 0;
    ``rows`` (B, M - 1) the row of each piece slot (0 on padding slots, which ``marker_mask`` masks)."""
    batch, length = input_ids.shape
    starts = marker_index[:, :-1] + 1  # a piece's first token follows the previous marker
    real = marker_mask[:, 1:]
    sizes = torch.where(real, marker_index[:, 1:] - starts, torch.zeros_like(starts)).clamp(min=0)  # (B, n)
    width = int(sizes.max()) if sizes.numel() else 0
    offsets = torch.arange(width, device=input_ids.device)
    positions = (starts[:, :, None] + offsets).clamp(max=length - 1)  # (B, n, W)
    tokens = input_ids.gather(1, positions.reshape(batch, -1)).reshape(*positions.shape)
    tokens = torch.where(offsets < sizes[:, :, None], tokens, torch.zeros_like(tokens))
    ids = torch.zeros(*sizes.shape, width + 2, dtype=input_ids.dtype, device=input_ids.device)
    ids[:, :, 0] = input_ids[:, :1]  # [CLS]
    ids[:, :, 1:width + 1] = tokens
    separator = input_ids.gather(1, marker_index[:, :1])  # the question's [SEP]
    ids.scatter_(2, (sizes + 1)[:, :, None], separator[:, :, None].expand(-1, sizes.shape[1], 1))
    keyed = torch.cat([ids[real], sizes[real][:, None]], dim=1)  # the size tells 0-token ids from padding
    unique, inverse = torch.unique(keyed, dim=0, return_inverse=True)
    rows = torch.zeros_like(sizes)
    rows[real] = inverse
    unique_ids = unique[:, :-1]
    mask = (torch.arange(width + 2, device=input_ids.device) <= unique[:, -1:] + 1).long()
    return unique_ids, mask, rows


def question_inputs(input_ids: torch.Tensor, marker_index: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each sequence's ``[CLS] q [SEP]`` (its first marker ends it) as ``(ids, mask, rows)``: one row per
    distinct question of the batch, and the row of each sequence (B,)."""
    ends = marker_index[:, 0] + 1
    width = int(ends.max())
    mask = (torch.arange(width, device=input_ids.device) < ends[:, None]).long()
    keyed = torch.cat([input_ids[:, :width] * mask, ends[:, None]], dim=1)
    unique, rows = torch.unique(keyed, dim=0, return_inverse=True)
    mask = (torch.arange(width, device=input_ids.device) < unique[:, -1:]).long()
    return unique[:, :-1], mask, rows


def sentence_embeddings(encoder: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(R, H) float32 unit vectors: the encoder's states mean-pooled over each row's tokens (special tokens
    included), as sentence-transformers' mean-pooling models (all-MiniLM-L6-v2) embed a sentence."""
    states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float()
    weights = mask[:, :, None].to(states.dtype)
    pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    return nn.functional.normalize(pooled, dim=-1)


def span_cosines(pieces: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
    """(B, n, n) float32: entry (i, j) is the cosine between ``question`` (B, H) and the mean of the piece
    embeddings ``pieces`` (B, n, H) from min(i, j) to max(i, j).

    With prefix sums, never a (B, n, n, H) tensor: the span's sum s = sum_p e_p gives q . s from the prefix
    sums of q . e_p, and |s|^2 = sum_{p, p'} e_p . e_p' from the 2-D prefix sums of the Gram matrix; the
    mean's 1 / count cancels in the cosine q . s / (|q| |s|). Float64 inside, so long windows lose nothing."""
    e, q = pieces.double(), nn.functional.normalize(question.double(), dim=-1)
    batch, n, _ = e.shape
    dots = (e @ q[:, :, None]).squeeze(2)  # (B, n)
    line = torch.cat([dots.new_zeros(batch, 1), dots.cumsum(dim=1)], dim=1)  # (B, n + 1)
    plane = dots.new_zeros(batch, n + 1, n + 1)
    plane[:, 1:, 1:] = (e @ e.transpose(1, 2)).cumsum(dim=1).cumsum(dim=2)
    index = torch.arange(n, device=e.device)
    first = torch.minimum(index[:, None], index[None, :])
    last = torch.maximum(index[:, None], index[None, :]) + 1
    dot = line[:, last] - line[:, first]
    norm2 = plane[:, last, last] - plane[:, first, last] - plane[:, last, first] + plane[:, first, first]
    return (dot / norm2.clamp(min=1e-12).sqrt()).float()


def rotary(x: torch.Tensor) -> torch.Tensor:
    """Rotary position encoding over dim 1 (the marker index), pairs (2i, 2i+1) rotated by pos * 10000^(-2i/D)."""
    _, positions, dim = x.shape
    frequencies = torch.pow(10000.0, -2.0 * torch.arange(dim // 2, device=x.device, dtype=torch.float32) / dim)
    angles = torch.arange(positions, device=x.device, dtype=torch.float32)[:, None] * frequencies  # (M, D/2)
    cos = angles.cos().repeat_interleave(2, dim=-1)
    sin = angles.sin().repeat_interleave(2, dim=-1)
    rotated = torch.stack([-x[..., 1::2], x[..., ::2]], dim=-1).reshape(x.shape)
    return x * cos + rotated * sin


@dataclass
class SpanOutput:
    logits: torch.Tensor
    """(B, M - 1, M - 1) float32: entry (i, j) scores pieces i..j; unscored entries are ``MASKED``."""
    highlight_logits: torch.Tensor | None
    """(B, L) float32 logits of the visual branch, or None without it."""


class CCGSModel(nn.Module):
    def __init__(self, encoder: nn.Module, config: CCGSConfig) -> None:
        super().__init__()
        hidden = int(encoder.config.hidden_size)
        self.config = config
        self.encoder = encoder
        self.clips = config.max_clips or hidden
        if config.visual and config.fusion == "authors" and self.clips != hidden:
            raise ConfigError(f"the authors' fusion adds the highlight vector (length max_clips={self.clips}) to "
                              f"hidden states of size {hidden}: set max_clips to {hidden}, leave it unset, or use "
                              "fusion temporal or none")
        self.visual = VisualBranch(config.visual_dim, hidden, config.dropout) if config.visual else None
        self.span_projection = nn.Linear(hidden, 2 * config.inner_dim)
        # Temporal fusion: the weight of a span's summed highlight logits in its span logit.
        self.visual_weight = nn.Parameter(torch.tensor(1.0)) if self.temporal_fusion else None
        # Dense span prior: the weight of the question-span cosine in the span logit.
        self.prior_weight = nn.Parameter(torch.tensor(float(config.dense_prior_init))) if config.dense_prior else None
        self._piece_embeddings: dict[bytes, torch.Tensor] = {}
        """Inference-time cache of the dense prior's piece embeddings (by token ids), so a corpus's pieces are
        encoded once for all questions; cleared whenever the model goes back to training mode."""

    def train(self, mode: bool = True) -> CCGSModel:
        if mode:
            self._piece_embeddings.clear()  # the weights are about to change
        return super().train(mode)

    @property
    def temporal_fusion(self) -> bool:
        return self.config.visual and self.config.fusion == "temporal"

    def forward(self, batch: EncodedBatch) -> SpanOutput:
        states = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        index = batch.marker_index[:, :, None].expand(-1, -1, states.shape[-1])
        markers = states.gather(1, index)  # (B, M, H)
        highlight_logits = visual_spans = None
        extra = self.prior_weight * self.dense_prior(batch) if self.prior_weight is not None else None
        if self.visual is not None and batch.clips is not None:
            highlight_logits = self.visual(states, batch.attention_mask, batch.clips, batch.clip_mask)
            if self.config.fusion == "authors":
                markers = markers + torch.sigmoid(highlight_logits)[:, None, :].to(markers.dtype)
            elif self.config.fusion == "temporal":
                if batch.piece_clips is None:
                    raise ConfigError("the temporal fusion needs the pieces' times: collate with piece_times")
                visual_spans = self.visual_weight * span_sums(batch.piece_clips, highlight_logits, batch.clip_mask)
                extra = visual_spans if extra is None else extra + visual_spans
        return SpanOutput(self._span_logits(markers, batch.marker_mask, extra), highlight_logits)

    def dense_prior(self, batch: EncodedBatch) -> torch.Tensor:
        """(B, n, n) float32 cosines between each sequence's question and each of its spans, from sentence
        embeddings of the same encoder: every distinct piece and question of the batch is encoded once on
        its own (``[CLS] text [SEP]``, mean-pooled), a span is the mean of its pieces (prefix sums)."""
        piece_ids, piece_mask, piece_rows = piece_inputs(batch.input_ids, batch.marker_index, batch.marker_mask)
        question_ids, question_mask, question_rows = question_inputs(batch.input_ids, batch.marker_index)
        pieces = self._embed_pieces(piece_ids, piece_mask)[piece_rows]  # (B, n, H)
        pieces = pieces * batch.marker_mask[:, 1:, None].to(pieces.dtype)
        question = sentence_embeddings(self.encoder, question_ids, question_mask)[question_rows]  # (B, H)
        return span_cosines(pieces, question)

    def _embed_pieces(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings of the pieces; at inference (eval mode, no gradients) from the cache, encoding
        only the pieces not seen since the model last trained."""
        if self.training or torch.is_grad_enabled():
            return sentence_embeddings(self.encoder, ids, mask)
        rows = ids.cpu().numpy()
        keys = [row[:count].tobytes() for row, count in zip(rows, mask.sum(dim=1).tolist(), strict=True)]
        missing = sorted({r for r, key in enumerate(keys) if key not in self._piece_embeddings})
        if missing:
            index = torch.tensor(missing, device=ids.device)
            for r, embedding in zip(missing, sentence_embeddings(self.encoder, ids[index], mask[index]), strict=True):
                self._piece_embeddings[keys[r]] = embedding
        return torch.stack([self._piece_embeddings[key] for key in keys])

    def _span_logits(self, markers: torch.Tensor, marker_mask: torch.Tensor,
                     extra: torch.Tensor | None = None) -> torch.Tensor:
        """The span head's (B, n, n) logits, plus ``extra`` (the temporal fusion's and the dense prior's
        terms), masked. ``span_head_precision``: ``fp32`` turns autocast off (ours); ``autocast`` runs the
        head in the autocast dtype, as the authors' fp16 run."""
        fp32 = self.config.span_head_precision == "fp32"
        with torch.autocast(device_type=markers.device.type, enabled=False) if fp32 else contextlib.nullcontext():
            projected = self.span_projection(markers.float() if fp32 else markers)
            query, key = projected.split(self.config.inner_dim, dim=-1)
            if self.config.rotary:
                query, key = rotary(query), rotary(key)
            logits = (query @ key.transpose(1, 2)).float()  # (B, M, M): marker m starts, marker n ends
            logits = logits[:, :-1, 1:]
            if extra is not None:
                logits = logits + extra
            return logits.masked_fill(~self.span_mask(marker_mask), MASKED)

    def span_mask(self, marker_mask: torch.Tensor) -> torch.Tensor:
        """(B, n, n) True where span (i, j) is scored: both pieces exist, and the configured constraints."""
        pieces = marker_mask[:, 1:]
        mask = pieces[:, :, None] & pieces[:, None, :]
        n = pieces.shape[1]
        if self.config.valid_span_mask or self.config.max_span_pieces is not None:
            offset = torch.arange(n, device=mask.device)[None, :] - torch.arange(n, device=mask.device)[:, None]
            if self.config.valid_span_mask:
                mask = mask & (offset >= 0)
            if self.config.max_span_pieces is not None:
                mask = mask & (offset < self.config.max_span_pieces)
        return mask
