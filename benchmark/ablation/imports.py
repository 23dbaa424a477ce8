"""Cells a grid takes from published runs instead of running them (the grid file's ``imports``).

A run too long for the grid's machine (the full-scale CCGS run, a GPU job) is made once by ``vcval run`` and
published as ``<stem>.jsonl.gz`` with ``<stem>.manifest.json`` beside it (the layout of ``vcval ablate
--publish`` and of the hand-run folders under benchmarks/results/). An imported cell is accepted only when
it is that run, intact and comparable: its predictions hash to what its manifest records, it ran the
variant's system under the variant's protocol (the same hash, so its questions pair with every other cell's)
with one of the grid's seeds, and it scores here to the figures published beside it. It is then scored
under the protocol like any cell; each setting it ran with that differs from the variant's is kept as a
deviation of the cell (printed, and listed in the table), never silently dropped.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.ablation.spec import Grid, Variant
from benchmark.data.loader import Benchmark
from benchmark.errors import ConfigError
from benchmark.harness.isolation import evaluated_split
from benchmark.harness.manifest import RunManifest
from benchmark.harness.runner import RunResult
from benchmark.protocol import Protocol
from benchmark.scoring import score

PREDICTIONS_SUFFIXES = (".jsonl.gz", ".jsonl")
SCORE_TOLERANCE = 1e-9


def imported_runs(grid: Grid, protocols: Mapping[str, Protocol], benchmark: Benchmark
                  ) -> dict[tuple[str, int], RunResult]:
    """Every imported cell of ``grid``, by (variant name, seed), checked and scored under the variant's
    bound protocol (``protocols``); raises :class:`ConfigError` naming the file and what is wrong."""
    cells: dict[tuple[str, int], RunResult] = {}
    for name, files in grid.imports.items():
        variant = grid.variant(name)
        runs = [import_run(path, variant, protocols[name], benchmark) for path in files]
        seeds = sorted(run.seed for run in runs)
        if seeds != sorted(grid.seeds):
            raise ConfigError(f"grid '{grid.name}': the runs imported as '{name}' have seeds "
                              f"{', '.join(map(str, seeds))}; the grid's are {', '.join(map(str, grid.seeds))}")
        cells.update({(name, run.seed): run for run in runs})
    return cells


def import_run(path: Path, variant: Variant, protocol: Protocol, benchmark: Benchmark) -> RunResult:
    """The published run ``path`` (a predictions file with its manifest beside it) as the cell of
    ``variant`` under ``protocol``, once it checks out (see the module's docstring)."""
    stem = published_stem(path)
    manifest_path = Path(f"{stem}.manifest.json")
    manifest = _read_manifest(manifest_path)
    where = f"imported run {path}"
    if manifest.system != variant.system:
        raise ConfigError(f"{where}: its manifest records system '{manifest.system}', but variant "
                          f"'{variant.name}' is '{variant.system}'")
    manifest.check_protocol_hash(str(manifest_path))
    if manifest.protocol_hash != protocol.hash:
        raise ConfigError(f"{where}: it ran under protocol '{manifest.protocol.name}' ({manifest.protocol_hash[:12]}), "
                          f"but variant '{variant.name}' runs under '{protocol.name}' ({protocol.short_hash}) on "
                          f"this data: its questions would not pair with the other cells'")
    recorded_sha = (manifest.files_sha256 or {}).get("predictions.jsonl")
    actual_sha = predictions_sha256(path)
    if recorded_sha != actual_sha:
        raise ConfigError(f"{where}: the predictions hash to {actual_sha[:12]}, but {manifest_path} records "
                          f"{str(recorded_sha)[:12]} (field 'files_sha256.predictions.jsonl'): not the run it describes")
    report = score(path, evaluated_split(benchmark, protocol), task=protocol.task, video_rank=protocol.video_rank,
                   bootstrap=protocol.bootstrap, seed=protocol.bootstrap_seed,
                   corpus=benchmark.corpus(protocol.split, protocol.corpus_setting),
                   meta={"data_fingerprint": benchmark.fingerprint, "protocol_hash": protocol.hash,
                         "system": manifest.system})
    _check_published_scores(Path(f"{stem}.scores.json"), report.metrics)
    deviations = [*manifest.deviations, *setting_differences(variant.config, manifest.config)]
    return RunResult(manifest.system, dict(manifest.config), protocol, manifest.seed, path.parent,
                     dict(report.metrics), dict(report.ci), report.n_questions, report.per_query,
                     manifest.wall_time_s, dict(manifest.timings_s), deviations, None, imported_from=path)


def published_stem(path: Path) -> str:
    """``path`` without its predictions suffix (``.jsonl.gz`` or ``.jsonl``)."""
    for suffix in PREDICTIONS_SUFFIXES:
        if path.name.endswith(suffix):
            return str(path)[:-len(suffix)]
    raise ConfigError(f"imported run {path}: not a predictions file (expected a name ending in "
                      f"{' or '.join(PREDICTIONS_SUFFIXES)})")


def predictions_sha256(path: Path) -> str:
    """sha256 of the predictions as ``vcval run`` wrote them (a ``.gz`` file is hashed uncompressed)."""
    digest = hashlib.sha256()
    try:
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")) as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError) as error:
        raise ConfigError(f"imported run {path}: cannot read it: {getattr(error, 'strerror', None) or error}") from error
    return digest.hexdigest()


def setting_differences(wanted: Mapping[str, Any], recorded: Mapping[str, Any]) -> list[str]:
    """Each setting of the variant (``wanted``) that the imported run's manifest (``recorded``) does not
    record with the same value, in words."""
    differences = []
    for key, value in wanted.items():
        if key not in recorded:
            differences.append(f"imported run: setting '{key}' not recorded (the variant sets {value!r})")
        elif _plain(recorded[key]) != _plain(value):
            differences.append(f"imported run: setting '{key}' = {recorded[key]!r} (the variant sets {value!r})")
    return differences


def _read_manifest(path: Path) -> RunManifest:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the imported run's manifest (a published run keeps "
                          f"<stem>.manifest.json beside <stem>.jsonl.gz): {error.strerror or error}") from error
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from error
    return RunManifest.from_mapping(value, str(path))


def _check_published_scores(path: Path, metrics: Mapping[str, float]) -> None:
    """Refuse an import whose published scores (``<stem>.scores.json``, when there) differ from its scores here."""
    if not path.exists():
        return
    try:
        published = json.loads(path.read_text(encoding="utf-8")).get("metrics", {})
    except (OSError, json.JSONDecodeError, AttributeError) as error:
        raise ConfigError(f"{path}: cannot read the imported run's published scores: {error}") from error
    differing = [key for key, value in published.items() if key in metrics and isinstance(value, (int, float))
                 and abs(value - metrics[key]) > SCORE_TOLERANCE]
    if differing:
        key = differing[0]
        raise ConfigError(f"{path}: the imported run scores {metrics[key]!r} here on '{key}' but {published[key]!r} "
                          f"was published ({len(differing)} metric(s) differ): re-score it with vcval score before "
                          "importing it")


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(value, default=str))
