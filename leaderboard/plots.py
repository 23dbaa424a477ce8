"""Leaderboard plots (PNG and SVG) with matplotlib, one set per comparable group:

* ``video_recall``: video recall@K against K, one curve per system (corpus track);
* ``r1_vs_iou``: R@1 against the IoU threshold, drawn from the per-question IoU of the first candidate,
  with the scorer's official points (0.3, 0.5, 0.7) marked on each curve;
* ``slices``: the headline metric by answer-length and by video-length bucket;
* ``errors``: per system, the share of questions that are a retrieval miss (gold video not among the
  candidates), gold video found but not first, a localization miss (first video right, span below IoU
  0.5) or a hit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmark.metrics.iou import IOU_TOLERANCE  # noqa: E402
from benchmark.metrics.suite import IOU_THRESHOLDS, RECALL_KS  # noqa: E402
from benchmark.scoring import ANSWER_LENGTH_BUCKETS, VIDEO_LENGTH_BUCKETS  # noqa: E402
from leaderboard import escape  # noqa: E402
from leaderboard.table import LeaderboardTable  # noqa: E402

FORMATS = ("png", "svg")
ERROR_CATEGORIES = ("retrieval miss", "gold video not first", "localization miss", "hit")
ERROR_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#27ae60")
# Distinct markers and line styles, with markers shrinking per system, so that curves which coincide
# (several systems at 100% recall, say) stay visible as nested shapes.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", "-.", ":")


def _style(index: int) -> dict:
    return {"marker": MARKERS[index % len(MARKERS)], "linestyle": LINESTYLES[index % len(LINESTYLES)],
            "markersize": max(3.0, 9.0 - 1.2 * index), "markerfacecolor": "none" if index % 2 else None}


BUCKETS = {
    "answer_length_bucket": ("answer length", [label for _, _, label in ANSWER_LENGTH_BUCKETS]),
    "video_length_bucket": ("video length", [label for _, _, label in VIDEO_LENGTH_BUCKETS]),
}


def _save(figure, folder: Path, stem: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    # SVG text stays text (searchable, small); no date keeps an SVG identical across renders of a store.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "vcval"}):
        for suffix in FORMATS:
            path = folder / f"{stem}.{suffix}"
            figure.savefig(path, dpi=130, bbox_inches="tight", metadata={"Date": None} if suffix == "svg" else None)
            paths.append(path)
    plt.close(figure)
    return paths


def _names(table: LeaderboardTable) -> list[str]:
    """The systems' names as plot text: capped, and with ``$`` escaped so mathtext never parses them."""
    return [escape.plot_text(row.entry.meta.name) for row in table.rows]


def plot_video_recall(table: LeaderboardTable, folder: Path) -> list[Path]:
    figure, axis = plt.subplots(figsize=(6, 4))
    for index, row in enumerate(table.rows):
        ks = [k for k in RECALL_KS if f"video_R{k}" in row.entry.metrics]
        axis.plot(ks, [row.entry.metrics[f"video_R{k}"] for k in ks], label=escape.plot_text(row.entry.meta.name), **_style(index))
    axis.set_xscale("log")
    axis.set_xticks(list(RECALL_KS), [str(k) for k in RECALL_KS])
    axis.set_xlabel("K (distinct videos)")
    axis.set_ylabel("video recall@K (%)")
    axis.set_ylim(0, 101)
    axis.set_title(f"Video retrieval, {escape.plot_text(table.split)} ({table.rows[0].entry.n_questions} questions)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(figure, folder, "video_recall")


def r1_threshold_curve(first_iou_percent: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """R@1 (%) at each IoU threshold from the per-question IoU (in percent) of the first candidate."""
    iou = np.asarray(first_iou_percent, dtype=np.float64)[:, None] / 100.0
    return (iou >= np.asarray(thresholds)[None, :] - IOU_TOLERANCE).mean(axis=0) * 100.0


def plot_r1_vs_iou(table: LeaderboardTable, folder: Path) -> list[Path]:
    prefix, miou = ("loc_R1", "loc_mIoU") if table.task == "localization" else ("R1", "R1_mIoU")
    thresholds = np.round(np.arange(0.05, 1.0001, 0.05), 2)
    figure, axis = plt.subplots(figsize=(6, 4))
    for index, row in enumerate(table.rows):
        per_query = row.entry.per_query
        if miou not in per_query.values:
            continue
        style = _style(index)
        line, = axis.plot(thresholds, r1_threshold_curve(per_query.values[miou], thresholds),
                          linestyle=style["linestyle"], label=escape.plot_text(row.entry.meta.name))
        official = [m for m in IOU_THRESHOLDS if f"{prefix}_IoU{m}" in row.entry.metrics]
        axis.plot(official, [row.entry.metrics[f"{prefix}_IoU{m}"] for m in official], linestyle="none",
                  marker=style["marker"], markersize=style["markersize"], color=line.get_color())
    axis.set_xlabel("IoU threshold")
    axis.set_ylabel("R@1 (%)")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 101)
    track = "in the gold video" if table.task == "localization" else "over the corpus"
    axis.set_title(f"R@1 vs IoU threshold, {track} (dots: reported thresholds)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(figure, folder, "r1_vs_iou")


def plot_slices(table: LeaderboardTable, folder: Path) -> list[Path]:
    """Grouped bars of the headline metric per length bucket, one panel per bucket kind."""
    kinds = [kind for kind in BUCKETS if all(kind in r.entry.per_query.buckets for r in table.rows)]
    if not kinds:
        return []
    figure, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4), squeeze=False)
    width = 0.8 / len(table.rows)
    for axis, kind in zip(axes[0], kinds, strict=True):
        present = set(np.concatenate([r.entry.per_query.buckets[kind] for r in table.rows]).tolist())
        buckets = [label for label in BUCKETS[kind][1] if label in present]
        for index, row in enumerate(table.rows):
            per_query = row.entry.per_query
            labels, values = per_query.buckets[kind], per_query.values[table.headline]
            means = [values[labels == bucket].mean() if np.any(labels == bucket) else 0.0 for bucket in buckets]
            axis.bar(np.arange(len(buckets)) + index * width - 0.4 + width / 2, means, width,
                     label=escape.plot_text(row.entry.meta.name))
        counts = [int(np.sum(table.rows[0].entry.per_query.buckets[kind] == b)) for b in buckets]
        axis.set_xticks(np.arange(len(buckets)), [f"{b}\n(n={n})" for b, n in zip(buckets, counts, strict=True)],
                        fontsize=8)
        axis.set_xlabel(BUCKETS[kind][0])
        axis.set_ylabel(f"{table.headline} (%)")
        axis.grid(alpha=0.3, axis="y")
    # One scale for both panels, zoomed to the bars (low scores stay readable), at most 100%.
    highest = max(bar.get_height() for axis in axes[0] for bar in axis.patches)
    for axis in axes[0]:
        axis.set_ylim(0, min(101.0, max(10.0, 1.15 * highest)))
    axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.suptitle(f"{table.headline} by answer and video length, {escape.plot_text(table.split)}")
    return _save(figure, folder, "slices")


def error_breakdown(values: Mapping[str, np.ndarray], task: str) -> np.ndarray:
    """Percent of questions in each of :data:`ERROR_CATEGORIES` from per-question metric values."""
    if task == "localization":
        hit = values["loc_R1_IoU0.5"] > 0
        counts = [0, 0, int(np.sum(~hit)), int(np.sum(hit))]
    else:
        found = values["video_MRR"] > 0
        first = values["video_R1"] > 0
        hit = values["R1_IoU0.5"] > 0
        counts = [int(np.sum(~found)), int(np.sum(found & ~first)), int(np.sum(first & ~hit)), int(np.sum(hit))]
    total = max(sum(counts), 1)
    return np.array(counts, dtype=np.float64) / total * 100.0


def plot_errors(table: LeaderboardTable, folder: Path) -> list[Path]:
    names = _names(table)
    shares = np.array([error_breakdown(row.entry.per_query.values, table.task) for row in table.rows])
    figure, axis = plt.subplots(figsize=(7, 0.5 * len(names) + 1.6))
    left = np.zeros(len(names))
    positions = np.arange(len(names))[::-1]
    for index, (category, colour) in enumerate(zip(ERROR_CATEGORIES, ERROR_COLOURS, strict=True)):
        axis.barh(positions, shares[:, index], left=left, color=colour, label=category)
        for y, x, share in zip(positions, left, shares[:, index], strict=True):
            if share >= 6:
                axis.text(x + share / 2, y, f"{share:.0f}", ha="center", va="center", fontsize=7)
        left += shares[:, index]
    axis.set_yticks(positions, names, fontsize=8)
    axis.set_xlim(0, 100)
    axis.set_xlabel("questions (%), first candidate judged at IoU 0.5")
    axis.set_title(f"Error breakdown, {escape.plot_text(table.split)}")
    axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(figure, folder, "errors")


def plot_table(table: LeaderboardTable, folder: Path) -> list[Path]:
    """Every plot that applies to the table's task; returns the files written. Text is drawn as written:
    never through LaTeX (``text.usetex`` off whatever a matplotlibrc says) and never as mathtext (names
    pass through :func:`leaderboard.escape.plot_text`)."""
    paths: list[Path] = []
    with matplotlib.rc_context({"text.usetex": False}):
        if table.task == "corpus":
            paths += plot_video_recall(table, folder)
        paths += plot_r1_vs_iou(table, folder)
        paths += plot_slices(table, folder)
        paths += plot_errors(table, folder)
    return paths


def plot_tables(tables: Sequence[LeaderboardTable], folder: Path) -> list[Path]:
    paths: list[Path] = []
    for table in tables:
        paths += plot_table(table, folder / table.slug)
    return paths
