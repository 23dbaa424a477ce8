"""The optimizer of a CCGS run: ``torch.optim.AdamW`` or transformers 4.x ``AdamW``, the authors' rule.

transformers removed its ``AdamW`` in version 5, so its update is written out here (from
``transformers/optimization.py`` of 4.15, the version the authors pin, with ``correct_bias=True``).
Per parameter, step ``t``, gradient ``g``:

    m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
    p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)     # eps before the bias correction
    p -= lr * weight_decay * p                                       # decay after the update

``torch.optim.AdamW`` instead decays first (``p *= 1 - lr * weight_decay``) and adds eps after the
correction (``m_hat / (sqrt(v_hat) + eps)``), so the v4 rule's effective eps is eps / sqrt(1 - b2^t):
3.2e-5 at step 1 for eps 1e-6, which shrinks the early steps of small gradients.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from ccgs.config import CCGSConfig


class TransformersV4AdamW(torch.optim.Optimizer):
    """transformers 4.x ``AdamW(params, lr, betas, eps, weight_decay, correct_bias=True)``."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0) -> None:
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid AdamW settings: lr {lr}, betas {betas}, eps {eps}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
                denom = exp_avg_sq.sqrt().add_(group["eps"])
                step_size = group["lr"] * math.sqrt(1.0 - beta2 ** state["step"]) / (1.0 - beta1 ** state["step"])
                p.addcdiv_(exp_avg, denom, value=-step_size)
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])
        return loss


def make_optimizer(groups: list[dict], config: CCGSConfig) -> torch.optim.Optimizer:
    """The AdamW of ``config.optimizer`` over parameter groups (each with its own ``lr``)."""
    if config.optimizer == "transformers_v4":
        return TransformersV4AdamW(groups, eps=config.adam_eps, weight_decay=config.weight_decay)
    return torch.optim.AdamW(groups, eps=config.adam_eps, weight_decay=config.weight_decay)
