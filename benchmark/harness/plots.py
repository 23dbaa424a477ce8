"""Plots of one run: recall against rank per IoU threshold, and the distribution of the top IoU."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmark.protocol import Protocol  # noqa: E402


def write_plots(folder: Path, metrics: Mapping[str, float], per_query: Sequence[Mapping[str, Any]],
                protocol: Protocol, title: str) -> list[Path]:
    """``recall_at_k.png`` and ``iou_distribution.png`` in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    return [_recall_curves(folder / "recall_at_k.png", metrics, protocol, title),
            _iou_distribution(folder / "iou_distribution.png", per_query, title)]


def _recall_curves(path: Path, metrics: Mapping[str, float], protocol: Protocol, title: str) -> Path:
    ks = sorted(protocol.recall_at)
    figure, axes = plt.subplots(figsize=(6, 4))
    series = [("video", [f"video_R{k}" for k in ks])]
    series += [(f"IoU>={m}", [f"R{k}_IoU{m}" for k in ks]) for m in protocol.iou_thresholds]
    series += [("best IoU (mean)", [f"R{k}_mIoU" for k in ks])]
    for label, keys in series:
        if all(key in metrics for key in keys):
            axes.plot(ks, [metrics[key] for key in keys], marker="o", label=label)
    axes.set_xscale("log")
    axes.set_xticks(ks, [str(k) for k in ks])
    video_unit = "distinct videos" if protocol.video_rank == "distinct" else "candidates"
    axes.set_xlabel(f"rank K ({video_unit} for 'video', candidates otherwise)")
    axes.set_ylabel("recall@K, best IoU within K (%)")
    axes.set_ylim(0, 100)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _iou_distribution(path: Path, per_query: Sequence[Mapping[str, Any]], title: str) -> Path:
    """Histogram over questions of the IoU of the first candidate in the gold video (``loc_mIoU`` per question)."""
    values = [row["loc_mIoU"] / 100.0 for row in per_query if row.get("loc_mIoU") is not None]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.hist(values, bins=[i / 20 for i in range(21)], color="tab:blue", edgecolor="white")
    axes.set_xlabel("IoU of the first candidate in the gold video")
    axes.set_ylabel("questions")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
