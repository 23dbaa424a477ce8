"""Ablation grids: systems x settings x seeds under one protocol, compared against a named base.

A grid file (YAML)::

    name: ccgs-ablation              # optional (default: the file's stem)
    protocol: medvidcqa-paper        # optional: a shipped protocol or a protocol file (relative to the grid)
    split: test                      # optional: the evaluated split (default: the protocol's)
    seeds: [42, 43]                  # optional (default: the protocol's seeds)
    systems:                         # system name -> configuration shared by all its settings
      ccgs: {preset: tiny}
    settings:                        # optional: setting name -> overrides applied to every system
      paper: {}
      no-visual: {visual: false}
    base: ccgs/paper                 # the variant the others are tested against
    metrics: [video_R1, R1_IoU0.5, R1_mIoU]   # optional: table columns (default: HEADLINE_METRICS)

Each variant (``system/setting``, or just ``system`` without settings) runs once per seed through
:func:`benchmark.harness.run_system`. The table gives the mean +/- standard deviation over seeds, and for
each variant and metric the difference from the base with a paired test over the questions (per-question
values averaged over seeds, approximate randomization), p-values Holm-corrected across every test of the
table.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tqdm.auto import tqdm

from benchmark.data import Benchmark, load_benchmark
from benchmark.errors import ConfigError, VcvalError
from benchmark.harness.plots import write_ablation_plot
from benchmark.harness.run_folder import RunFolderError, holds_run
from benchmark.harness.runner import RunResult, load_run, run_system
from benchmark.harness.settings import merge_config
from benchmark.metrics import HEADLINE_METRICS, metric_keys
from benchmark.options import load_yaml
from benchmark.outputs import write_json, write_text
from benchmark.ownership import (
    MARKER_FILE,
    STAGING_PREFIX,
    foreign_files,
    is_free,
    owned_by,
    read_marker,
    shown_paths,
    write_marker,
)
from benchmark.protocol import MAX_SEED, Protocol, load_protocol, protocol_from_mapping
from benchmark.scoring import aligned_values
from benchmark.stats import holm, paired_test
from benchmark.tracking import warn

GRID_FIELDS = ("name", "protocol", "split", "seeds", "systems", "settings", "base", "metrics", "data_dir")
# The files a grid writes at the top of its folder; the cells are run folders marked 'ablation-cell'.
GRID_FILES = ("ablation.md", "ablation.json", "ablation.png")
ALPHA = 0.05
# Table columns when a grid names none: few, because every column adds tests to the Holm correction.
PAIRED_RESAMPLES = 10000


@dataclass(frozen=True)
class Variant:
    name: str
    system: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Grid:
    """A validated grid file."""

    name: str
    protocol: Protocol
    split: str | None
    seeds: tuple[int, ...]
    variants: tuple[Variant, ...]
    base: str
    metrics: tuple[str, ...] | None
    data_dir: Path | None = None


@dataclass(frozen=True)
class Comparison:
    """One variant against the base on one metric."""

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
    mean: dict[str, float]
    std: dict[str, float]
    per_seed: dict[int, dict[str, float]]
    comparisons: dict[str, Comparison]  # empty for the base


@dataclass(frozen=True)
class GridResult:
    grid: Grid
    protocol: Protocol
    metrics: tuple[str, ...]
    rows: tuple[VariantRow, ...]
    runs: tuple[RunResult, ...] = field(repr=False)
    out_dir: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid": self.grid.name, "protocol": self.protocol.to_dict(), "protocol_hash": self.protocol.hash,
            "seeds": list(self.grid.seeds), "base": self.grid.base, "metrics": list(self.metrics),
            "alpha": ALPHA, "test": f"paired approximate randomization ({PAIRED_RESAMPLES} resamples), "
                                   "Holm-corrected across the table",
            "variants": [{
                "name": row.variant.name, "system": row.variant.system, "config": row.variant.config,
                "mean": row.mean, "std": row.std, "per_seed": {str(s): v for s, v in row.per_seed.items()},
                "vs_base": {key: {**c.__dict__, "significant": c.significant} for key, c in row.comparisons.items()},
            } for row in self.rows],
            "runs": [str(run.out_dir) for run in self.runs],
        }

    def render(self) -> str:
        """A Markdown table: mean +/- std over seeds; difference from the base and Holm p-value below it."""
        header = ["variant", *self.metrics]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.rows:
            is_base = row.variant.name == self.grid.base
            cells = [f"{row.variant.name}{' (base)' if is_base else ''}"]
            for key in self.metrics:
                cell = f"{row.mean[key]:.2f} ± {row.std[key]:.2f}"
                if not is_base:
                    comparison = row.comparisons[key]
                    mark = "*" if comparison.significant else ""
                    cell += f" ({comparison.difference:+.2f}, p={comparison.p_holm:.3f}{mark})"
                cells.append(cell)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(f"{self.protocol.dataset} {self.protocol.split}, protocol {self.protocol.name} "
                     f"({self.protocol.short_hash}), seeds {', '.join(map(str, self.grid.seeds))}: mean ± std over "
                     f"seeds; (difference from {self.grid.base}, Holm-corrected p of a paired randomization test "
                     f"over questions; * p < {ALPHA}).")
        return "\n".join(lines)


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid file; every problem names the file and the field."""
    path = Path(path)
    try:
        mapping = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the grid file: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    return grid_from_mapping(mapping, path.stem, base_dir=path.parent, source=str(path))


def grid_from_mapping(mapping: Any, default_name: str = "grid", *, base_dir: Path | None = None,
                      source: str = "grid") -> Grid:
    def fail(field_name: str, expected: str) -> ConfigError:
        return ConfigError(f"{source}: field '{field_name}' must be {expected}")

    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{source}: a grid must be a mapping with the fields {', '.join(GRID_FIELDS)}")
    unknown = sorted(set(mapping) - set(GRID_FIELDS))
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {', '.join(map(str, unknown))}; known: {', '.join(GRID_FIELDS)}")
    base_dir = base_dir or Path.cwd()

    protocol_value = mapping.get("protocol")
    if isinstance(protocol_value, Mapping):
        protocol = protocol_from_mapping(protocol_value, f"{source}: protocol")
    elif protocol_value is None or isinstance(protocol_value, str):
        local = base_dir / protocol_value if isinstance(protocol_value, str) else None
        protocol = load_protocol(local if local is not None and local.is_file() else protocol_value)
    else:
        raise fail("protocol", "a protocol name, a protocol file or a mapping of protocol fields")

    systems = mapping.get("systems")
    if not isinstance(systems, Mapping) or not systems:
        raise fail("systems", "a non-empty mapping of system name -> configuration")
    settings = mapping.get("settings") or {}
    if not isinstance(settings, Mapping):
        raise fail("settings", "a mapping of setting name -> configuration overrides")
    variants = []
    for system, config in systems.items():
        if config is not None and not isinstance(config, Mapping):
            raise fail(f"systems.{system}", "a mapping of options (or empty)")
        for setting, overrides in (settings.items() if settings else [(None, {})]):
            if overrides is not None and not isinstance(overrides, Mapping):
                raise fail(f"settings.{setting}", "a mapping of options (or empty)")
            merged = merge_config(merge_config({}, config or {}), overrides or {})
            variants.append(Variant(f"{system}/{setting}" if setting is not None else str(system), str(system), merged))

    seeds = mapping.get("seeds", list(protocol.seeds))
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds)):
        raise fail("seeds", f"a non-empty list of distinct integers from 0 to {MAX_SEED}, got {seeds!r}")

    names = [variant.name for variant in variants]
    folders: dict[str, str] = {}
    for name in names:  # every variant gets its own folder: names that slug alike are refused now, not after a run
        other = folders.setdefault(_slug(name).casefold(), name)
        if other != name:
            raise ConfigError(f"{source}: variants '{other}' and '{name}' would share the run folder "
                              f"'{_slug(name)}'; rename one of them")
    base = mapping.get("base", names[0])
    if base not in names:
        matches = [name for name in names if name.split("/")[-1] == base]
        if len(matches) != 1:
            raise fail("base", f"one of the variants ({', '.join(names)})")
        base = matches[0]

    metrics = mapping.get("metrics")
    if metrics is not None and (not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics)):
        raise fail("metrics", "a list of metric keys")
    unknown_metrics = [key for key in metrics or () if key not in metric_keys(protocol.task)]
    if unknown_metrics:
        raise fail("metrics", f"metric keys the scorer reports for task '{protocol.task}' (unknown: "
                              f"{', '.join(unknown_metrics)}; known: {', '.join(metric_keys(protocol.task))})")
    split = mapping.get("split")
    if split is not None and not isinstance(split, str):
        raise fail("split", "a split name")
    data_dir = mapping.get("data_dir")
    if data_dir is not None and not isinstance(data_dir, str):
        raise fail("data_dir", "a folder path")
    return Grid(str(mapping.get("name") or default_name), protocol, split, tuple(seeds), tuple(variants), base,
                tuple(metrics) if metrics else None, base_dir / data_dir if data_dir else None)


def run_grid(grid: Grid | str | Path, data: Benchmark | str | Path | None, out_dir: str | Path, *,
             track: bool = True, tracking_uri: str | None = None, experiment: str | None = None,
             echo: bool = True, overwrite: bool = False, resume: bool = False) -> GridResult:
    """Run every variant x seed of ``grid`` on ``data`` (default: the grid's ``data_dir``), write the
    comparison table to ``out_dir`` (``ablation.md``, ``ablation.json``) and return it.

    ``out_dir`` must be new, empty, or a grid folder this function made (its marker says so, see
    :mod:`benchmark.ownership`); anything else is refused, whatever the options. A grid folder is refused
    unless ``overwrite`` or ``resume``, and even then when it holds anything the grid did not write (an
    ordinary run folder, a notebook), naming it. With ``overwrite`` each cell's folder is replaced once its
    new run is complete; with ``resume`` a cell whose folder holds a finished run of the same system,
    settings, seed and protocol hash (its files checked against its manifest) is kept as it is and only the
    other cells run. Either way, cells of the old grid that this one does not have are removed at the end,
    so the folder holds exactly this grid."""
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    out_dir = Path(out_dir)
    _check_grid_folder(out_dir, replace=overwrite or resume)
    old_runs = _grid_run_folders(out_dir)
    data = data if data is not None else grid.data_dir
    if data is None:
        raise ConfigError(f"grid '{grid.name}' names no data_dir: give the data folder")
    benchmark = data if isinstance(data, Benchmark) else load_benchmark(data)
    protocol = grid.protocol.bind(benchmark.name, benchmark.fingerprint, grid.split)
    cells = [(variant, seed) for variant in grid.variants for seed in grid.seeds]
    out_dir.mkdir(parents=True, exist_ok=True)
    write_marker(out_dir, "grid", made_by=f"vcval ablate {grid.name}", files=GRID_FILES)
    runs: list[RunResult] = []
    bar = tqdm(cells, desc=f"grid {grid.name}", unit="run", disable=not echo)
    for variant, seed in bar:
        bar.set_postfix_str(f"{variant.name} seed {seed}")
        folder = out_dir / _slug(variant.name) / f"seed-{seed}"
        finished = _finished_cell(folder, variant, seed, protocol) if resume else None
        if finished is not None:
            runs.append(finished)
            continue
        runs.append(run_system(variant.system, benchmark, folder,
                               protocol=protocol, config=variant.config, seed=seed, track=track,
                               tracking_uri=tracking_uri, experiment=experiment or f"vcval-grid-{grid.name}",
                               run_name=f"{variant.name} seed {seed}",
                               labels={"grid": grid.name, "variant": variant.name}, echo=False,
                               overwrite=overwrite or resume, folder_kind="ablation-cell"))
    bar.close()
    for deviation in sorted({(run.system, d) for run in runs for d in run.deviations}):
        warn(f"runs of {deviation[0]} deviate from protocol '{protocol.name}': {deviation[1]}")
    warnings = [run.tracking.warning for run in runs if run.tracking is not None and run.tracking.warning]
    if warnings:
        warn(f"{len(warnings)} of {len(runs)} runs could not be logged to MLflow; the first: {warnings[0]}")
    result = compare_runs(grid, protocol, runs, out_dir)
    kept = {run.out_dir.resolve() for run in runs}
    for stale in old_runs:
        if stale.resolve() not in kept:
            shutil.rmtree(stale, ignore_errors=True)
    write_text(out_dir / "ablation.md", result.render() + "\n")
    write_json(out_dir / "ablation.json", result.to_dict())
    write_ablation_plot(out_dir / "ablation.png", result.to_dict())
    if echo:
        print(result.render())
        print(f"\nwrote {out_dir / 'ablation.md'}, {out_dir / 'ablation.json'} and {out_dir / 'ablation.png'}; one "
              f"run folder per variant and seed under {out_dir}")
    return result


def _finished_cell(folder: Path, variant: Variant, seed: int, protocol: Protocol) -> RunResult | None:
    """The run in ``folder`` when it is finished, intact and the run this cell asks for; else None."""
    if not holds_run(folder):
        return None
    try:
        run = load_run(folder)
    except (VcvalError, OSError, KeyError, ValueError) as error:
        warn(f"{folder}: not reused ({error}); running the cell again")
        return None
    wanted = json.loads(json.dumps(dict(variant.config), default=str))
    recorded = json.loads(json.dumps(run.config, default=str))
    same = (run.system == variant.system and run.seed == seed and run.protocol.hash == protocol.hash
            and all(recorded.get(key) == value for key, value in wanted.items()))
    return run if same else None


def compare_runs(grid: Grid, protocol: Protocol, runs: Sequence[RunResult], out_dir: Path) -> GridResult:
    """The grid's table from its finished runs (one per variant and seed)."""
    available = runs[0].metrics if runs else {}
    metrics = grid.metrics or tuple(key for key in HEADLINE_METRICS if key in available)
    missing = [key for key in metrics if key not in available]
    if missing:
        raise ConfigError(f"grid '{grid.name}': field 'metrics' names {', '.join(missing)}, which the scorer does "
                          f"not report for task '{protocol.task}'")
    by_variant: dict[str, list[RunResult]] = {variant.name: [] for variant in grid.variants}
    for run, (variant, _) in zip(runs, [(v, s) for v in grid.variants for s in grid.seeds], strict=True):
        by_variant[variant.name].append(run)

    averaged = {name: _average_per_query(variant_runs, metrics) for name, variant_runs in by_variant.items()}
    tests: list[tuple[str, str, Any]] = []
    for variant in grid.variants:
        if variant.name == grid.base:
            continue
        for key in metrics:
            a, b = aligned_values(averaged[variant.name], averaged[grid.base], key)
            tests.append((variant.name, key, paired_test(a, b, method="randomization", n_resamples=PAIRED_RESAMPLES,
                                                         seed=protocol.bootstrap_seed)))
    adjusted = holm([test.p_value for _, _, test in tests]) if tests else np.array([])
    comparisons: dict[str, dict[str, Comparison]] = {variant.name: {} for variant in grid.variants}
    for (name, key, test), p_holm in zip(tests, adjusted, strict=True):
        comparisons[name][key] = Comparison(test.difference, test.p_value, float(p_holm), test.wins, test.ties,
                                            test.losses)

    rows = []
    for variant in grid.variants:
        variant_runs = by_variant[variant.name]
        values = {key: np.array([run.metrics[key] for run in variant_runs]) for key in metrics}
        rows.append(VariantRow(
            variant,
            mean={key: float(v.mean()) for key, v in values.items()},
            std={key: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for key, v in values.items()},
            per_seed={run.seed: {key: run.metrics[key] for key in metrics} for run in variant_runs},
            comparisons=comparisons[variant.name]))
    return GridResult(grid, protocol, tuple(metrics), tuple(rows), tuple(runs), out_dir)


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


def _check_grid_folder(out_dir: Path, *, replace: bool) -> None:
    """Refuse an ``out_dir`` that is not free and not a grid folder holding only what its grid wrote."""
    if is_free(out_dir):
        return
    if not owned_by(out_dir, "grid"):
        raise RunFolderError(f"{out_dir} is not empty and was not made by vcval ablate, so it is neither used nor "
                             "deleted; give a new or empty folder as --out")
    if not replace:
        raise RunFolderError(f"{out_dir} already holds an ablation grid ({len(_grid_run_folders(out_dir))} run "
                             "folders); give --resume to keep its finished cells, --overwrite to replace them, or "
                             "another --out")
    foreign = _foreign_paths(out_dir)
    if foreign:
        raise RunFolderError(f"{out_dir} holds {len(foreign)} file(s) that vcval ablate did not write "
                             f"({shown_paths(foreign)}); they "
                             "are not deleted: move them out of the grid folder first")


def _foreign_paths(out_dir: Path) -> list[Path]:
    """Files under a grid folder that neither the grid nor one of its cells wrote."""
    marker = read_marker(out_dir)
    listed = set(marker.files) if marker is not None else set()
    foreign = []
    for root, dirs, files in os.walk(out_dir):
        folder = Path(root)
        if folder != out_dir and owned_by(folder, "ablation-cell"):
            foreign.extend(folder / name for name in foreign_files(folder))
            dirs.clear()
            continue
        dirs[:] = [name for name in dirs if not name.startswith(STAGING_PREFIX)]
        foreign.extend(folder / name for name in files
                       if folder != out_dir or name not in listed and name != MARKER_FILE)
    return sorted(foreign)


def _grid_run_folders(out_dir: Path) -> list[Path]:
    """The cells (run folders marked 'ablation-cell') under a grid folder, not those still being written."""
    if not out_dir.is_dir():
        return []
    return sorted(manifest.parent for manifest in out_dir.rglob("manifest.json")
                  if not any(part.startswith(STAGING_PREFIX) for part in manifest.relative_to(out_dir).parts)
                  and owned_by(manifest.parent, "ablation-cell"))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "variant"
