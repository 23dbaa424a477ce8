"""Which floating-point precision a CCGS run uses, from its ``mixed_precision`` setting and the device.

``auto`` picks bf16 autocast wherever the hardware computes bf16 natively (a CUDA GPU that supports it, or
a CPU with AVX512-BF16 / AMX, where a 2048² matmul runs about 2x faster than fp32 on 2 threads), and full
precision elsewhere. ``fp16`` (the authors' autocast with a gradient scaler) exists on GPUs only; a CPU
run falls back to full precision. Inference uses the training's autocast dtype when
``autocast_inference`` is on (``improved``) and full precision otherwise (``paper``, as the authors); the
span head runs in fp32 under autocast unless ``span_head_precision`` is ``autocast`` (``paper``).
"""

from __future__ import annotations

import logging
from functools import cache

import torch

log = logging.getLogger(__name__)


@cache
def cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(setting: str, device_type: str) -> str:
    """``"no"``, ``"bf16"`` or ``"fp16"`` for ``setting`` (auto, no, bf16, fp16) on ``device_type``."""
    if setting == "auto":
        if device_type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "no"
        return "bf16" if device_type == "cpu" and cpu_has_native_bf16() else "no"
    if setting == "fp16" and device_type != "cuda":
        log.info("mixed_precision fp16 needs a GPU: running in full precision on %s", device_type)
        return "no"
    return setting


def autocast_dtype(setting: str, device_type: str, inference: bool = True) -> torch.dtype | None:
    """The autocast dtype of inference (``None``: full precision): the training's, unless ``inference`` is
    false (``autocast_inference`` off: the authors' ``test_model`` runs in full precision)."""
    if not inference:
        return None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(resolve_precision(setting, device_type))
