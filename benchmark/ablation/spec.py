"""The experiment file (a grid, YAML): what to run, on what, what to compare and what to draw.

Every field, with its meaning, is in docs/harness.md "Experiments"; :func:`load_grid` reads a file and
:func:`grid_from_mapping` a mapping, and every problem names the file and the field before anything runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.data.synthetic import SIZES as SYNTHETIC_SIZES
from benchmark.errors import ConfigError
from benchmark.harness.settings import merge_config
from benchmark.metrics import metric_keys
from benchmark.options import load_yaml
from benchmark.protocol import MAX_SEED, Protocol, load_protocol, protocol_from_mapping
from benchmark.random_encoder import SHAPES as ENCODER_SHAPES

GRID_FIELDS = ("name", "description", "protocol", "split", "seeds", "data_dir", "data", "encoders", "systems",
               "settings", "variants", "sweep", "base", "comparisons", "metrics", "figure", "results", "imports")
VARIANT_FIELDS = ("system", "config", "protocol")
SWEEP_FIELDS = ("setting", "values", "variants")
FIGURE_KINDS = ("bars", "curve")
ENCODER_TEXTS = ("all", "train")
# A config value "@NAME" stands for the folder of the experiment's encoder NAME (built under the run root).
RESOURCE_PREFIX = "@"


@dataclass(frozen=True)
class Variant:
    """One row of the table: a system with its settings, run once per seed."""

    name: str
    system: str
    config: dict[str, Any]
    protocol: Protocol | None = None
    """The variant's own protocol (another task, a sampled corpus); None: the grid's."""
    sweep_value: Any = None
    """The swept setting's value for a variant made by ``sweep`` (None otherwise)."""
    swept_from: str | None = None
    """The variant the sweep made this one from (its name without ``@value``)."""


@dataclass(frozen=True)
class SyntheticData:
    """``data: {synthetic: SIZE, seed: S}``: a synthetic data set generated under the run root."""

    size: str
    seed: int

    @property
    def folder_name(self) -> str:
        return f"synthetic-{self.size}-seed{self.seed}"


@dataclass(frozen=True)
class EncoderSpec:
    """``encoders: {NAME: {shape: tiny, vocab_size: 1000}}``: a random-init encoder whose sentencepiece
    tokenizer is trained on the data's text, built under the run root."""

    name: str
    shape: str = "tiny"
    vocab_size: int = 1000
    seed: int = 0
    texts: str = "all"
    """The tokenizer's text: ``all`` (every video's subtitles) or ``train`` (the train split's videos), each
    with the training questions."""
    sizes: tuple[tuple[str, int], ...] = ()
    """Fields of the shape overridden (``position_buckets: 32``)."""

    @property
    def folder_name(self) -> str:
        return f"encoder-{self.name}"


@dataclass(frozen=True)
class Sweep:
    """``sweep``: one setting over several values (a learning curve over training sizes)."""

    setting: str
    values: tuple[Any, ...]
    variants: tuple[str, ...]
    """The variants swept (their names before the sweep)."""


@dataclass(frozen=True)
class Figure:
    kind: str = "bars"
    """``bars``: every variant's mean per metric; ``curve``: the sweep's metric against its values."""
    metric: str | None = None
    """The metric a curve draws (default: the first table column)."""
    references: tuple[str, ...] | None = None
    """The variants a curve draws as horizontal lines (default: every variant outside the sweep)."""


@dataclass(frozen=True)
class Grid:
    """A validated experiment file."""

    name: str
    protocol: Protocol
    split: str | None
    seeds: tuple[int, ...]
    variants: tuple[Variant, ...]
    base: str
    metrics: tuple[str, ...] | None
    data_dir: Path | None = None
    description: str = ""
    data: SyntheticData | None = None
    encoders: tuple[EncoderSpec, ...] = ()
    sweep: Sweep | None = None
    comparisons: tuple[tuple[str, str], ...] = ()
    """Pairs (variant, reference) tested beside every variant against the base."""
    figure: Figure = Figure()
    results: Path | None = None
    """Where ``vcval ablate --publish`` copies the table, figure and gzipped predictions."""
    imports: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    """Variants taken from published runs instead of run (``imports``): each one's predictions files (with
    ``<stem>.manifest.json`` beside each), one per seed of the grid (:mod:`benchmark.ablation.imports`)."""

    def protocol_of(self, variant: Variant) -> Protocol:
        return variant.protocol or self.protocol

    def variant(self, name: str) -> Variant:
        return next(variant for variant in self.variants if variant.name == name)


def load_grid(path: str | Path) -> Grid:
    """Read and validate an experiment file; every problem names the file and the field."""
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
    protocol = _protocol(mapping.get("protocol"), "protocol", base_dir, source, fail)

    systems = mapping.get("systems") or {}
    if not isinstance(systems, Mapping) or not systems and not mapping.get("variants"):
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
    variants += _explicit_variants(mapping.get("variants"), base_dir, source, fail)
    sweep = _sweep(mapping.get("sweep"), [variant.name for variant in variants], fail)
    if sweep is not None:
        variants = _swept(variants, sweep)

    seeds = mapping.get("seeds", list(protocol.seeds))
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds)):
        raise fail("seeds", f"a non-empty list of distinct integers from 0 to {MAX_SEED}, got {seeds!r}")

    names = [variant.name for variant in variants]
    folders: dict[str, str] = {}
    for name in names:  # every variant gets its own folder: names that slug alike are refused now, not after a run
        other = folders.setdefault(slug(name).casefold(), name)
        if other != name:
            raise ConfigError(f"{source}: variants '{other}' and '{name}' would share the run folder "
                              f"'{slug(name)}'; rename one of them")
    base = _variant_name(mapping.get("base", names[0]), names, "base", fail)
    comparisons = _comparisons(mapping.get("comparisons"), names, fail)
    by_name = {variant.name: variant for variant in variants}
    for first, second in comparisons:
        if (by_name[first].protocol or protocol).hash != (by_name[second].protocol or protocol).hash:
            raise fail("comparisons", f"pairs of variants under the same protocol ('{first}' and '{second}' are "
                                      "run under different protocols, so their questions cannot be paired)")

    metrics = mapping.get("metrics")
    if metrics is not None and (not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics)):
        raise fail("metrics", "a list of metric keys")
    base_task = (by_name[base].protocol or protocol).task
    unknown_metrics = [key for key in metrics or () if key not in metric_keys(base_task)]
    if unknown_metrics:
        raise fail("metrics", f"metric keys the scorer reports for task '{base_task}' (unknown: "
                              f"{', '.join(unknown_metrics)}; known: {', '.join(metric_keys(base_task))})")
    split = mapping.get("split")
    if split is not None and not isinstance(split, str):
        raise fail("split", "a split name")
    data_dir, data = _data(mapping, base_dir, fail)
    encoders = _encoders(mapping.get("encoders"), fail)
    _check_resource_references(variants, {encoder.name for encoder in encoders}, source)
    figure = _figure(mapping.get("figure"), sweep, names, fail)
    if figure.metric is not None and metrics and figure.metric not in metrics:
        raise fail("figure.metric", f"one of the table's metrics ({', '.join(metrics)})")
    results = mapping.get("results")
    if results is not None and not isinstance(results, str):
        raise fail("results", "a folder path (relative to the grid file)")
    description = mapping.get("description") or ""
    if not isinstance(description, str):
        raise fail("description", "text")
    imports = _imports(mapping.get("imports"), names, len(seeds), base_dir, fail)
    return Grid(str(mapping.get("name") or default_name), protocol, split, tuple(seeds), tuple(variants), base,
                tuple(metrics) if metrics else None, data_dir, description, data, encoders, sweep, comparisons,
                figure, Path(os.path.normpath(base_dir / results)) if results else None, imports)


def slug(name: str) -> str:
    """The folder (and file) name of a variant."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "variant"


def _protocol(value: Any, field_name: str, base_dir: Path, source: str, fail) -> Protocol:
    if isinstance(value, Mapping):
        return protocol_from_mapping(value, f"{source}: {field_name}")
    if value is None or isinstance(value, str):
        local = base_dir / value if isinstance(value, str) else None
        return load_protocol(local if local is not None and local.is_file() else value)
    raise fail(field_name, "a protocol name, a protocol file or a mapping of protocol fields")


def _explicit_variants(value: Any, base_dir: Path, source: str, fail) -> list[Variant]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise fail("variants", "a mapping of variant name -> {system, config, protocol}")
    variants = []
    for name, spec in value.items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("system"), str):
            raise fail(f"variants.{name}", "a mapping with a 'system' name (and optional 'config', 'protocol')")
        unknown = sorted(set(spec) - set(VARIANT_FIELDS))
        if unknown:
            raise fail(f"variants.{name}", f"a mapping of {', '.join(VARIANT_FIELDS)} (unknown: {', '.join(unknown)})")
        config = spec.get("config") or {}
        if not isinstance(config, Mapping):
            raise fail(f"variants.{name}.config", "a mapping of options (or empty)")
        protocol = (_protocol(spec["protocol"], f"variants.{name}.protocol", base_dir, source, fail)
                    if spec.get("protocol") is not None else None)
        variants.append(Variant(str(name), spec["system"], merge_config({}, config), protocol))
    return variants


def _sweep(value: Any, names: list[str], fail) -> Sweep | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - set(SWEEP_FIELDS) or not isinstance(value.get("setting"), str):
        raise fail("sweep", f"a mapping of {', '.join(SWEEP_FIELDS)} with a 'setting' name")
    values = value.get("values")
    if not isinstance(values, list) or not values or len({repr(v) for v in values}) != len(values):
        raise fail("sweep.values", "a non-empty list of distinct values")
    swept = value.get("variants", names)
    if not isinstance(swept, list) or not swept:
        raise fail("sweep.variants", f"a non-empty list of variants ({', '.join(names)})")
    return Sweep(value["setting"], tuple(values),
                 tuple(_variant_name(name, names, "sweep.variants", fail) for name in swept))


def _swept(variants: list[Variant], sweep: Sweep) -> list[Variant]:
    """Each swept variant replaced by one variant per value, named ``variant@value``."""
    result = []
    for variant in variants:
        if variant.name not in sweep.variants:
            result.append(variant)
            continue
        for value in sweep.values:
            config = merge_config(merge_config({}, variant.config), {sweep.setting: value})
            result.append(Variant(f"{variant.name}@{value}", variant.system, config, variant.protocol, value,
                                  variant.name))
    return result


def _variant_name(value: Any, names: list[str], field_name: str, fail) -> str:
    """A variant's full name from ``value`` (the name, or a setting name that only one variant has)."""
    if value in names:
        return value
    matches = [name for name in names if name.split("/")[-1] == value]
    if len(matches) != 1:
        raise fail(field_name, f"one of the variants ({', '.join(names)})")
    return matches[0]


def _comparisons(value: Any, names: list[str], fail) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in value):
        raise fail("comparisons", "a list of [variant, reference] pairs")
    pairs = tuple((_variant_name(a, names, "comparisons", fail), _variant_name(b, names, "comparisons", fail))
                  for a, b in value)
    if any(a == b for a, b in pairs):
        raise fail("comparisons", "pairs of two different variants")
    return pairs


def _imports(value: Any, names: list[str], n_seeds: int, base_dir: Path, fail) -> dict[str, tuple[Path, ...]]:
    """``imports: {VARIANT: FILE or [FILE, ...]}``: published predictions files (relative to the grid file), one
    per seed of the grid."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail("imports", "a mapping of variant name -> published predictions file (or one file per seed)")
    imports = {}
    for name, files in value.items():
        variant = _variant_name(name, names, f"imports.{name}", fail)
        listed = [files] if isinstance(files, str) else files
        if not isinstance(listed, list) or not all(isinstance(f, str) and f for f in listed):
            raise fail(f"imports.{name}", "a predictions file path (relative to the grid file) or a list of them")
        if len(listed) != n_seeds:
            raise fail(f"imports.{name}", f"one published run per seed of the grid ({n_seeds}), got {len(listed)}")
        paths = tuple(Path(os.path.normpath(base_dir / f)) for f in listed)
        missing = [path for path in paths if not path.is_file()]
        if missing:
            raise fail(f"imports.{name}", f"published predictions files (relative to the grid file); not found: "
                                          f"{', '.join(map(str, missing))}")
        imports[variant] = paths
    return imports


def _data(mapping: Mapping[str, Any], base_dir: Path, fail) -> tuple[Path | None, SyntheticData | None]:
    data_dir, data = mapping.get("data_dir"), mapping.get("data")
    if data_dir is not None and data is not None:
        raise fail("data", "left out when 'data_dir' is given (one source of data)")
    if data_dir is not None and not isinstance(data_dir, str):
        raise fail("data_dir", "a folder path")
    if data is None:
        return (base_dir / data_dir if data_dir else None), None
    if (not isinstance(data, Mapping) or set(data) != {"synthetic", "seed"} or data["synthetic"] not in SYNTHETIC_SIZES
            or isinstance(data["seed"], bool) or not isinstance(data["seed"], int) or data["seed"] < 0):
        raise fail("data", f"{{synthetic: SIZE, seed: S}} with SIZE one of {', '.join(SYNTHETIC_SIZES)} and S >= 0")
    return None, SyntheticData(data["synthetic"], data["seed"])


def _encoders(value: Any, fail) -> tuple[EncoderSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise fail("encoders", "a mapping of encoder name -> {shape, vocab_size, seed, texts, size fields}")
    encoders = []
    for name, spec in value.items():
        spec = dict(spec or {})
        shape = spec.pop("shape", "tiny")
        texts = spec.pop("texts", "all")
        if not isinstance(spec, Mapping) or shape not in ENCODER_SHAPES or texts not in ENCODER_TEXTS:
            raise fail(f"encoders.{name}", f"a mapping with shape one of {', '.join(ENCODER_SHAPES)} and texts one "
                                           f"of {', '.join(ENCODER_TEXTS)}")
        known = {"vocab_size", "seed", *ENCODER_SHAPES[shape]}
        if set(spec) - known or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in spec.values()):
            raise fail(f"encoders.{name}", f"integers among {', '.join(sorted(known))} (beside shape and texts)")
        vocab_size, seed = spec.pop("vocab_size", 1000), spec.pop("seed", 0)
        encoders.append(EncoderSpec(str(name), shape, vocab_size, seed, texts, tuple(sorted(spec.items()))))
    return tuple(encoders)


def resource_references(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Every ``(dotted setting, encoder name)`` whose value is ``@NAME``, nested mappings included."""
    found = []
    for key, value in config.items():
        if isinstance(value, Mapping):
            found += resource_references(value, f"{prefix}{key}.")
        elif isinstance(value, str) and value.startswith(RESOURCE_PREFIX):
            found.append((f"{prefix}{key}", value[len(RESOURCE_PREFIX):]))
    return found


def _check_resource_references(variants: list[Variant], encoders: set[str], source: str) -> None:
    for variant in variants:
        for key, name in resource_references(variant.config):
            if name not in encoders:
                known = ", ".join(sorted(encoders)) or "none"
                raise ConfigError(f"{source}: variant '{variant.name}' setting '{key}' = '{RESOURCE_PREFIX}{name}' "
                                  f"names no encoder of field 'encoders' (declared: {known})")


def _figure(value: Any, sweep: Sweep | None, names: list[str], fail) -> Figure:
    if value is None:
        return Figure()
    if (not isinstance(value, Mapping) or set(value) - {"kind", "metric", "references"}
            or value.get("kind", "bars") not in FIGURE_KINDS or not isinstance(value.get("metric", ""), str)):
        raise fail("figure", f"a mapping of kind ({', '.join(FIGURE_KINDS)}), metric and references")
    references = value.get("references")
    if references is not None:
        if not isinstance(references, list):
            raise fail("figure.references", "a list of variants")
        references = tuple(_variant_name(name, names, "figure.references", fail) for name in references)
    figure = Figure(value.get("kind", "bars"), value.get("metric"), references)
    if figure.kind == "curve" and sweep is None:
        raise fail("figure", "'bars' unless the grid has a 'sweep' (a curve draws the swept setting)")
    return figure
