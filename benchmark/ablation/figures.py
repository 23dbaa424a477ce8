"""The figure of an experiment, drawn from ``ablation.json``'s content alone (so a committed JSON redraws it).

PNG files carry no date and a fixed ``Software`` entry, so the same JSON draws the same bytes with the same
matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PNG_METADATA = {"Software": "vcval ablate (matplotlib)"}


def write_figure(path: Path, grid: Mapping[str, Any]) -> Path:
    """The figure the grid asks for: ``bars`` or ``curve``."""
    if grid["figure"]["kind"] == "curve":
        return _curve(path, grid)
    return _bars(path, grid)


def _bars(path: Path, grid: Mapping[str, Any]) -> Path:
    """Per metric, each variant's mean over seeds with its standard deviation, the seeds as dots, and a star
    over a variant that differs from the base (Holm-corrected paired test)."""
    variants, metrics = grid["variants"], grid["metrics"]
    figure, axes = plt.subplots(1, len(metrics), figsize=(max(3.0, 1.1 * len(variants)) * len(metrics) / 1.6, 4),
                                squeeze=False)
    for axis, key in zip(axes[0], metrics, strict=True):
        shown = [variant for variant in variants if key in variant["mean"]]
        positions = range(len(shown))
        means = [variant["mean"][key] for variant in shown]
        bars = axis.bar(positions, means, yerr=[variant["std"][key] for variant in shown], capsize=3,
                        color=["#7f8c8d" if variant["name"] == grid["base"] else "#2e86c1" for variant in shown])
        for bar, variant in zip(bars, shown, strict=True):
            if "imported" in variant:  # a published run the grid took, not ran
                bar.set_hatch("//")
        for position, variant in zip(positions, shown, strict=True):
            seeds = [values[key] for values in variant["per_seed"].values()]
            axis.plot([position] * len(seeds), seeds, "k.", markersize=4)
            comparison = variant["vs_base"].get(key)
            if comparison is not None and comparison["significant"]:
                axis.annotate("*", (position, max([means[position], *seeds])), ha="center", va="bottom", fontsize=14)
        axis.set_xticks(list(positions), [variant["name"].split("/")[-1] for variant in shown], rotation=30,
                        ha="right", fontsize=8)
        axis.set_title(key)
        axis.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("% (mean ± sd over seeds; dots: seeds)" + ("; hatched: imported run"
                                                                       if any("imported" in v for v in variants) else ""))
    figure.suptitle(f"{grid['grid']}: base {grid['base']} (grey); * p < {grid['alpha']} after Holm")
    return _save(figure, path, dpi=130)


def _curve(path: Path, grid: Mapping[str, Any]) -> Path:
    """The figure's metric against the swept setting: one line per swept variant (mean ± sd over seeds),
    the figure's reference variants that report the metric as horizontal lines."""
    key, sweep = grid["figure"]["metric"], grid["sweep"]
    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    numeric = all(isinstance(value, int | float) and not isinstance(value, bool) and value > 0
                  for value in sweep["values"])
    positions = {repr(value): (value if numeric else index) for index, value in enumerate(sweep["values"])}
    for source in sweep["variants"]:
        points = [variant for variant in grid["variants"] if variant["swept_from"] == source and key in variant["mean"]]
        if points:
            line = axis.errorbar([positions[repr(variant["sweep_value"])] for variant in points],
                                 [variant["mean"][key] for variant in points],
                                 yerr=[variant["std"][key] for variant in points], marker="o", capsize=3, label=source)
            imported = [variant for variant in points if "imported" in variant]
            if imported:  # published runs the grid took, not ran: open markers
                axis.plot([positions[repr(variant["sweep_value"])] for variant in imported],
                          [variant["mean"][key] for variant in imported], linestyle="none", marker="o", markersize=9,
                          markerfacecolor="white", markeredgecolor=line.lines[0].get_color(),
                          label=f"{source}: imported run")
    references = set(grid["figure"]["references"])
    for index, variant in enumerate(v for v in grid["variants"] if v["name"] in references and key in v["mean"]):
        axis.axhline(variant["mean"][key], linestyle="--", color=f"C{(index + len(sweep['variants'])) % 10}",
                     label=variant["name"])
    if numeric:
        axis.set_xscale("log")
    axis.set_xticks(list(positions.values()), [str(value) for value in sweep["values"]])
    axis.minorticks_off()
    axis.set_xlabel(sweep["setting"])
    axis.set_ylabel(f"{key} (%, mean ± sd over seeds)")
    axis.set_title(f"{grid['grid']}: {key} against {sweep['setting']}", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return _save(figure, path, dpi=110)


def _save(figure, path: Path, dpi: int) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=dpi, metadata=PNG_METADATA)
    plt.close(figure)
    return path
