"""The three CCGS losses, batched over (positive, negative) pairs.

* Global-span contrastive loss: cross-entropy over the concatenated, flattened span logits of the positive
  (question, video) and its negatives (another question, same video; answer-free windows of the same
  video, with ``window_negatives``); the target is the best positive span.
  Without a negative it is plain cross-entropy over the positive's spans.
* IoU ranking loss (the authors' ``calc_loss``, unused by default): log(1 + sum over span pairs with
  IoU_a < IoU_b of exp(20 (s_a - s_b))). Computed exactly in O(S log S) by sorting spans by IoU and a
  cumulative log-sum-exp, instead of the S x S pair matrix of the original.
* Highlight BCE (unused by default): per-clip binary cross-entropy, positive clips weighted twice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ccgs.model import MASKED


def contrastive_span_loss(positive: torch.Tensor, target: torch.Tensor,
                          negatives: torch.Tensor | list[torch.Tensor] | None = None) -> torch.Tensor:
    """Mean over the batch. ``positive`` (B, n, n) and each of ``negatives`` (B, n', n') masked span logits
    (another question on the same window; an answer-free window of the same video); ``target`` (B, 2) the
    (i, j) of the best positive span. Every negative span joins the softmax's denominator."""
    batch, n, _ = positive.shape
    scores = positive.reshape(batch, n * n)
    if isinstance(negatives, torch.Tensor):
        negatives = [negatives]
    if negatives:
        scores = torch.cat([scores, *(negative.reshape(batch, -1) for negative in negatives)], dim=1)
    return F.cross_entropy(scores, target[:, 0] * n + target[:, 1])


def iou_ranking_loss(logits: torch.Tensor, ious: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """Mean over the batch; ``logits`` (B, n, n) with masked entries at ``MASKED`` (left out), ``ious`` (B, n, n)."""
    losses = []
    for scores, overlap in zip(logits, ious, strict=True):
        valid = scores > MASKED / 2
        s, iou = scores[valid] * scale, overlap[valid]
        order = torch.argsort(iou, stable=True)
        s, iou = s[order], iou[order]
        prefix = torch.logcumsumexp(s, dim=0)  # prefix[k] = log sum_{a <= k} exp(s_a)
        first_of_tie = torch.searchsorted(iou.contiguous(), iou.contiguous(), side="left")
        below = torch.where(first_of_tie > 0, prefix[(first_of_tie - 1).clamp(min=0)],
                            torch.full_like(s, float("-inf")))  # log sum over spans with strictly lower IoU
        terms = torch.cat([s.new_zeros(1), below - s])
        losses.append(torch.logsumexp(terms, dim=0))
    return torch.stack(losses).mean()


def highlight_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Weighted BCE over real clips; ``logits``/``labels``/``mask`` (B, L)."""
    weights = torch.where(labels > 0, 2.0 * labels, torch.ones_like(labels)) * mask
    per_clip = F.binary_cross_entropy_with_logits(logits.clamp(min=-50.0), labels, reduction="none")
    return (per_clip * weights).sum() / (mask.sum() + 1e-12)
