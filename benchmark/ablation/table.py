"""An experiment's table from its finished runs: mean +/- std over seeds, and paired tests.

Every variant is tested against the base when both run under the same protocol, and every pair the grid
lists under ``comparisons`` is tested too; each test is a paired approximate-randomization test over the
questions on per-question values averaged over seeds, and the p-values are Holm-corrected across every test
of the table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.ablation.spec import Grid, Variant
from benchmark.errors import ConfigError
from benchmark.harness.runner import RunResult
from benchmark.metrics import HEADLINE_METRICS
from benchmark.protocol import Protocol
from benchmark.scoring import aligned_values
from benchmark.stats import holm, paired_test

ALPHA = 0.05
PAIRED_RESAMPLES = 10000
MISSING = "—"


@dataclass(frozen=True)
class Comparison:
    """One variant against a reference on one metric."""

    difference: float
    p_value: float
    p_holm: float
    wins: int
    ties: int
    losses: int

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


@dataclass(frozen=True)
class VariantRow:
    variant: Variant
    protocol: Protocol
    """The variant's protocol bound to the data."""
    mean: dict[str, float]
    std: dict[str, float]
    per_seed: dict[int, dict[str, float]]
    comparisons: dict[str, Comparison]
    """Against the base, by metric (empty for the base and for a variant under another protocol)."""


@dataclass(frozen=True)
class PairComparison:
    """A pair of the grid's ``comparisons``."""

    variant: str
    reference: str
    by_metric: dict[str, Comparison]


@dataclass(frozen=True)
class GridResult:
    grid: Grid
    protocol: Protocol
    """The base's protocol bound to the data."""
    metrics: tuple[str, ...]
    rows: tuple[VariantRow, ...]
    pairs: tuple[PairComparison, ...]
    runs: tuple[RunResult, ...] = field(repr=False)
    out_dir: Path

    def cells(self) -> list[tuple[Variant, RunResult]]:
        """Each run with its variant, in the grid's order (variant by variant, seed by seed)."""
        return list(zip(cell_variants(self.grid), self.runs, strict=True))

    def row(self, name: str) -> VariantRow:
        return next(row for row in self.rows if row.variant.name == name)

    def to_dict(self) -> dict[str, Any]:
        """The content of ``ablation.json``; paths are relative to the grid's folder (an imported run's file:
        to the grid's ``results`` folder, where there is one), so the file is the same wherever the
        experiment ran."""
        return {
            "grid": self.grid.name, "description": self.grid.description,
            "protocol": self.protocol.to_dict(), "protocol_hash": self.protocol.hash,
            "seeds": list(self.grid.seeds), "base": self.grid.base, "metrics": list(self.metrics),
            "sweep": None if self.grid.sweep is None else {
                "setting": self.grid.sweep.setting, "values": list(self.grid.sweep.values),
                "variants": list(self.grid.sweep.variants)},
            "figure": {"kind": self.grid.figure.kind, "metric": self.grid.figure.metric or self.metrics[0],
                       "references": list(self.grid.figure.references) if self.grid.figure.references is not None
                       else [row.variant.name for row in self.rows if row.variant.swept_from is None]},
            "alpha": ALPHA, "test": f"paired approximate randomization ({PAIRED_RESAMPLES} resamples), "
                                   "Holm-corrected across the table",
            "variants": [{
                "name": row.variant.name, "system": row.variant.system, "config": row.variant.config,
                "task": row.protocol.task, "protocol": row.protocol.name, "protocol_hash": row.protocol.hash,
                "sweep_value": row.variant.sweep_value, "swept_from": row.variant.swept_from,
                "mean": row.mean, "std": row.std, "per_seed": {str(s): v for s, v in row.per_seed.items()},
                "vs_base": {key: _comparison_dict(c) for key, c in row.comparisons.items()},
                **({"imported": self.imported(row.variant.name)} if row.variant.name in self.grid.imports else {}),
            } for row in self.rows],
            "comparisons": [{"variant": pair.variant, "reference": pair.reference,
                             "by_metric": {key: _comparison_dict(c) for key, c in pair.by_metric.items()}}
                            for pair in self.pairs],
            "runs": [self._run_path(run) for run in self.runs],
        }

    def imported(self, name: str) -> dict[str, Any]:
        """Where the imported variant ``name``'s runs come from, and how they differ from the variant."""
        runs = [run for variant, run in self.cells() if variant.name == name]
        return {"files": [self._run_path(run) for run in runs],
                "deviations": sorted({d for run in runs for d in run.deviations})}

    def _run_path(self, run: RunResult) -> str:
        if run.imported_from is None:
            return _relative(run.out_dir, self.out_dir)
        return Path(os.path.relpath(run.imported_from, self.grid.results or self.out_dir)).as_posix()

    def render(self) -> str:
        """Markdown: mean +/- std over seeds, the difference from the base and its Holm p-value beside it;
        then the grid's other comparisons."""
        several_tasks = len({row.protocol.hash for row in self.rows}) > 1
        header = ["variant", *(["task"] if several_tasks else []), *self.metrics]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.rows:
            is_base = row.variant.name == self.grid.base
            cells = [f"{row.variant.name}{' (base)' if is_base else ''}"]
            if several_tasks:
                cells.append(f"{row.protocol.task} ({row.protocol.name})")
            for key in self.metrics:
                if key not in row.mean:
                    cells.append(MISSING)
                    continue
                cell = f"{row.mean[key]:.2f} ± {row.std[key]:.2f}"
                if key in row.comparisons:
                    cell += f" ({_difference(row.comparisons[key])})"
                cells.append(cell)
            lines.append("| " + " | ".join(cells) + " |")
        if self.pairs:
            lines += ["", "| variant | reference | " + " | ".join(self.metrics) + " |",
                      "|---|---|" + "---|" * len(self.metrics)]
            for pair in self.pairs:
                cells = [_difference(pair.by_metric[key]) if key in pair.by_metric else MISSING for key in self.metrics]
                lines.append(f"| {pair.variant} | {pair.reference} | " + " | ".join(cells) + " |")
        lines.append("")
        for name in self.grid.imports:
            imported = self.imported(name)
            lines.append(f"{name}: not run by this grid, imported from {', '.join(imported['files'])}"
                         + (f" ({'; '.join(imported['deviations'])})" if imported["deviations"] else "") + ".")
        protocols = sorted({f"{row.protocol.name} ({row.protocol.short_hash})" for row in self.rows})
        lines.append(f"{self.protocol.dataset} {self.protocol.split}, protocol {', '.join(protocols)}, seeds "
                     f"{', '.join(map(str, self.grid.seeds))}: mean ± std over seeds; (difference from "
                     f"{self.grid.base}{' or from the reference' if self.pairs else ''}, Holm-corrected p of a paired "
                     f"randomization test over questions; * p < {ALPHA}).")
        return "\n".join(lines)


def cell_variants(grid: Grid) -> list[Variant]:
    """Each cell's variant in the order the cells run: variant by variant, seed by seed."""
    return [variant for variant in grid.variants for _ in grid.seeds]


def compare_runs(grid: Grid, protocols: Mapping[str, Protocol], runs: Sequence[RunResult],
                 out_dir: Path) -> GridResult:
    """The grid's table from its finished runs (one per variant and seed, in the grid's order);
    ``protocols`` gives each variant's bound protocol."""
    by_variant: dict[str, list[RunResult]] = {variant.name: [] for variant in grid.variants}
    for variant, run in zip(cell_variants(grid), runs, strict=True):
        by_variant[variant.name].append(run)
    base_metrics = by_variant[grid.base][0].metrics if runs else {}
    metrics = grid.metrics or tuple(key for key in HEADLINE_METRICS if key in base_metrics)
    missing = [key for key in metrics if key not in base_metrics]
    if missing:
        raise ConfigError(f"grid '{grid.name}': field 'metrics' names {', '.join(missing)}, which the scorer does "
                          f"not report for the base's task '{protocols[grid.base].task}'")
    reported = {name: [key for key in metrics if key in variant_runs[0].metrics]
                for name, variant_runs in by_variant.items()}
    averaged = {name: _average_per_query(variant_runs, reported[name]) for name, variant_runs in by_variant.items()}
    base_pairs = [(variant.name, grid.base) for variant in grid.variants
                  if variant.name != grid.base and protocols[variant.name].hash == protocols[grid.base].hash]
    tested = _paired_tests([*base_pairs, *grid.comparisons], metrics, reported, averaged,
                           protocols[grid.base].bootstrap_seed)
    against_base = {name: tested[index] for index, (name, _) in enumerate(base_pairs)}
    explicit = tuple(PairComparison(name, reference, tested[len(base_pairs) + index])
                     for index, (name, reference) in enumerate(grid.comparisons))

    rows = []
    for variant in grid.variants:
        variant_runs = by_variant[variant.name]
        values = {key: np.array([run.metrics[key] for run in variant_runs]) for key in reported[variant.name]}
        rows.append(VariantRow(
            variant, protocols[variant.name],
            mean={key: float(v.mean()) for key, v in values.items()},
            std={key: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for key, v in values.items()},
            per_seed={run.seed: {key: run.metrics[key] for key in reported[variant.name]} for run in variant_runs},
            comparisons=against_base.get(variant.name, {})))
    return GridResult(grid, protocols[grid.base], tuple(metrics), tuple(rows), explicit, tuple(runs), out_dir)


def _paired_tests(pairs: Sequence[tuple[str, str]], metrics: Sequence[str], reported: Mapping[str, list[str]],
                  averaged: Mapping[str, list[dict[str, Any]]], seed: int) -> list[dict[str, Comparison]]:
    """For each pair (variant, reference), its tests by metric (the metrics both report), Holm-corrected
    across every test of every pair."""
    tests: list[tuple[int, str, Any]] = []
    for index, (name, reference) in enumerate(pairs):
        for key in metrics:
            if key in reported[name] and key in reported[reference]:
                a, b = aligned_values(averaged[name], averaged[reference], key)
                tests.append((index, key, paired_test(a, b, method="randomization", n_resamples=PAIRED_RESAMPLES,
                                                      seed=seed)))
    adjusted = holm([test.p_value for _, _, test in tests]) if tests else np.array([])
    by_pair: list[dict[str, Comparison]] = [{} for _ in pairs]
    for (index, key, test), p_holm in zip(tests, adjusted, strict=True):
        by_pair[index][key] = Comparison(test.difference, test.p_value, float(p_holm), test.wins, test.ties,
                                         test.losses)
    return by_pair


def _average_per_query(runs: Sequence[RunResult], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Per-question values averaged over the seeds' runs (the same questions in the same order)."""
    first = runs[0].per_query
    rows = []
    for index, row in enumerate(first):
        averaged: dict[str, Any] = {"qid": row["qid"]}
        for key in metrics:
            values = [run.per_query[index][key] for run in runs]
            averaged[key] = math.fsum(values) / len(values)
        rows.append(averaged)
    return rows


def _comparison_dict(comparison: Comparison) -> dict[str, Any]:
    return {**comparison.__dict__, "significant": comparison.significant}


def _difference(comparison: Comparison) -> str:
    return f"{comparison.difference:+.2f}, p={comparison.p_holm:.3f}{'*' if comparison.significant else ''}"


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
