"""Running an experiment: every variant x seed through :func:`benchmark.harness.run_system`, resumable,
into one grid folder; then its table, figure and (on request) its published results."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from benchmark.ablation.imports import imported_runs
from benchmark.ablation.publish import TABLE_FILES, publish, write_tables
from benchmark.ablation.resources import (
    RESOURCES_FOLDER,
    experiment_data,
    experiment_encoders,
    resolved_config,
)
from benchmark.ablation.spec import Grid, Variant, load_grid, slug
from benchmark.ablation.table import GridResult, compare_runs
from benchmark.data import Benchmark
from benchmark.errors import ConfigError, VcvalError
from benchmark.harness.run_folder import RunFolderError, holds_run
from benchmark.harness.runner import RunResult, load_run, run_system
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
from benchmark.protocol import Protocol
from benchmark.tracking import warn

# Folders under the grid's resources/ that the grid built (and may reuse or replace).
RESOURCE_KINDS = ("synthetic-data", "encoder")


def run_grid(grid: Grid | str | Path, data: Benchmark | str | Path | None, out_dir: str | Path, *,
             track: bool = True, tracking_uri: str | None = None, experiment: str | None = None,
             echo: bool = True, overwrite: bool = False, resume: bool = False, publish_results: bool = False
             ) -> GridResult:
    """Run every variant x seed of ``grid`` on ``data`` (default: the grid's ``data_dir``, or its synthetic
    ``data`` built under ``out_dir/resources``) but those the grid imports from published runs
    (:mod:`benchmark.ablation.imports`, checked before any cell runs), write the table and figure to ``out_dir``
    (``ablation.md``, ``ablation.json``, ``ablation.png``) and return it; with ``publish_results``, copy
    them and every cell's predictions to the grid's ``results`` folder (:func:`benchmark.ablation.publish.publish`).

    ``out_dir`` must be new, empty, or a grid folder this function made (its marker says so, see
    :mod:`benchmark.ownership`); anything else is refused, whatever the options. A grid folder is refused
    unless ``overwrite`` or ``resume``, and even then when it holds anything the grid did not write (an
    ordinary run folder, a notebook), naming it. With ``overwrite`` each cell's folder is replaced once its
    new run is complete; with ``resume`` a cell whose folder holds a finished run of the same system,
    settings, seed and protocol hash (its files checked against its manifest) is kept as it is and only the
    other cells run, so resuming a finished grid rewrites its table and figure from its run folders (the
    same bytes). Either way, cells of the old grid that this one does not have are removed at the end, so
    the folder holds exactly this grid."""
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    out_dir = Path(out_dir)
    if publish_results and grid.results is None:
        raise ConfigError(f"grid '{grid.name}' has no 'results' folder to publish to")
    old_runs = _grid_run_folders(out_dir)
    cells = [(variant, seed) for variant in grid.variants for seed in grid.seeds]
    runs, protocols, benchmark = _run_cells(grid, data, out_dir, cells, track=track, tracking_uri=tracking_uri,
                                            experiment=experiment, echo=echo, overwrite=overwrite, resume=resume)
    warnings = [run.tracking.warning for run in runs if run.tracking is not None and run.tracking.warning]
    if warnings:
        warn(f"{len(warnings)} of {len(runs)} runs could not be logged to MLflow; the first: {warnings[0]}")
    result = compare_runs(grid, protocols, runs, out_dir)
    kept = {run.out_dir.resolve() for run in runs}
    for stale in old_runs:
        if stale.resolve() not in kept:
            shutil.rmtree(stale, ignore_errors=True)
    written = write_tables(result, out_dir)
    if publish_results:
        written += (publish(result, grid.results, Path(benchmark.data_dir)),)
    if echo:
        print(result.render())
        print(f"\nwrote {', '.join(map(str, written))}; one run folder per variant and seed under {out_dir}")
    return result


def run_cells(grid: Grid | str | Path, data: Benchmark | str | Path | None, out_dir: str | Path,
              variants: Sequence[str], *, track: bool = True, tracking_uri: str | None = None,
              experiment: str | None = None, echo: bool = True, overwrite: bool = False, resume: bool = False
              ) -> list[RunResult]:
    """Run only the cells (every seed) of ``variants`` of ``grid`` into its grid folder ``out_dir``, with the
    folder rules and options of :func:`run_grid`, and leave every other cell of the folder as it is: no
    table is written and nothing is removed. Several processes can so share one grid's cells (one variant
    each); a final :func:`run_grid` with ``resume`` keeps them all and writes the table."""
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    names = list(dict.fromkeys(variants))
    known = {variant.name for variant in grid.variants}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ConfigError(f"grid '{grid.name}': --only names {', '.join(unknown) or 'no variant'}; its variants "
                          f"are {', '.join(variant.name for variant in grid.variants)}")
    imported = [name for name in names if name in grid.imports]
    if imported:
        raise ConfigError(f"grid '{grid.name}': {', '.join(imported)} is imported from a published run, not run")
    cells = [(variant, seed) for variant in grid.variants if variant.name in names for seed in grid.seeds]
    runs, _, _ = _run_cells(grid, data, out_dir, cells, track=track, tracking_uri=tracking_uri,
                            experiment=experiment, echo=echo, overwrite=overwrite, resume=resume)
    if echo:
        for (variant, seed), run in zip(cells, runs, strict=True):
            shown = ", ".join(f"{key} {run.metrics[key]:.2f}" for key in (grid.metrics or ()) if key in run.metrics)
            print(f"{variant.name} seed {seed}: {run.out_dir}{': ' + shown if shown else ''}")
        print(f"{len(runs)} of the grid's {len(grid.variants) * len(grid.seeds)} cells done (run now or kept); no "
              "table was written: run the whole grid with --resume to keep them and write it")
    return runs


def _run_cells(grid: Grid, data: Benchmark | str | Path | None, out_dir: Path, cells: list[tuple[Variant, int]], *,
               track: bool, tracking_uri: str | None, experiment: str | None, echo: bool, overwrite: bool,
               resume: bool) -> tuple[list[RunResult], dict[str, Protocol], Benchmark]:
    """``cells`` (variant, seed) of ``grid`` run into the grid folder ``out_dir`` (or kept, with ``resume``;
    or taken from the grid's imports), with each variant's bound protocol and the data."""
    out_dir = Path(out_dir)
    _check_grid_folder(out_dir, replace=overwrite or resume)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_marker(out_dir, "grid", made_by=f"vcval ablate {grid.name}", files=TABLE_FILES)
    benchmark = experiment_data(grid, data, out_dir)
    encoders = experiment_encoders(grid, benchmark, out_dir)
    protocols = {variant.name: grid.protocol_of(variant).bind(benchmark.name, benchmark.fingerprint, grid.split)
                 for variant in grid.variants}
    imported = imported_runs(grid, protocols, benchmark)  # checked before any cell runs
    runs: list[RunResult] = []
    bar = tqdm(cells, desc=f"grid {grid.name}", unit="run", disable=not echo)
    for variant, seed in bar:
        bar.set_postfix_str(f"{variant.name} seed {seed}")
        if (variant.name, seed) in imported:
            runs.append(imported[variant.name, seed])
            continue
        folder = out_dir / slug(variant.name) / f"seed-{seed}"
        config = resolved_config(variant, encoders)
        protocol = protocols[variant.name]
        finished = _finished_cell(folder, variant.system, config, seed, protocol) if resume else None
        if finished is not None:
            runs.append(finished)
            continue
        runs.append(run_system(variant.system, benchmark, folder,
                               protocol=protocol, config=config, seed=seed, track=track,
                               tracking_uri=tracking_uri, experiment=experiment or f"vcval-grid-{grid.name}",
                               run_name=f"{variant.name} seed {seed}",
                               labels={"grid": grid.name, "variant": variant.name}, echo=False,
                               overwrite=overwrite or resume, folder_kind="ablation-cell"))
    bar.close()
    for system, protocol_name, deviation in sorted({(run.system, run.protocol.name, d) for run in runs
                                                    for d in run.deviations}):
        warn(f"runs of {system} deviate from protocol '{protocol_name}': {deviation}")
    return runs, protocols, benchmark


def _finished_cell(folder: Path, system: str, config: dict, seed: int, protocol: Protocol) -> RunResult | None:
    """The run in ``folder`` when it is finished, intact and the run this cell asks for; else None."""
    if not holds_run(folder):
        return None
    try:
        run = load_run(folder)
    except (VcvalError, OSError, KeyError, ValueError) as error:
        warn(f"{folder}: not reused ({error}); running the cell again")
        return None
    wanted = json.loads(json.dumps(config, default=str))
    recorded = json.loads(json.dumps(run.config, default=str))
    same = (run.system == system and run.seed == seed and run.protocol.hash == protocol.hash
            and all(recorded.get(key) == value for key, value in wanted.items()))
    return run if same else None


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
        if folder != out_dir and (owned_by(folder, "ablation-cell") or folder.parent == out_dir / RESOURCES_FOLDER
                                  and any(owned_by(folder, kind) for kind in RESOURCE_KINDS)):
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


