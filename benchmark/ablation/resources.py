"""What an experiment builds before its runs: synthetic data and random-init encoders, under the run root.

Both are deterministic (the same size and seed give byte-identical data; the same data, shape, vocabulary
size and seed the same tokenizer and weights), so an experiment file names them instead of shipping them,
and a resumed experiment reuses what an earlier run of it built.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.ablation.spec import RESOURCE_PREFIX, EncoderSpec, Grid, Variant
from benchmark.data import Benchmark, load_benchmark
from benchmark.data.synthetic import generate
from benchmark.errors import ConfigError
from benchmark.ownership import built_aside, owned_by
from benchmark.random_encoder import build_random_encoder

RESOURCES_FOLDER = "resources"


def experiment_data(grid: Grid, data: Benchmark | str | Path | None, out_dir: Path) -> Benchmark:
    """The data the experiment runs on: ``data`` when given, else the grid's ``data_dir``, else its synthetic
    ``data`` generated under ``out_dir/resources`` (once)."""
    if data is None and grid.data is not None:
        folder = out_dir / RESOURCES_FOLDER / grid.data.folder_name
        if not owned_by(folder, "synthetic-data"):
            generate(folder, grid.data.size, seed=grid.data.seed)
        data = folder
    data = data if data is not None else grid.data_dir
    if data is None:
        raise ConfigError(f"grid '{grid.name}' names no data_dir and no synthetic data: give the data folder")
    return data if isinstance(data, Benchmark) else load_benchmark(data)


def experiment_encoders(grid: Grid, benchmark: Benchmark, out_dir: Path) -> dict[str, Path]:
    """Each of the grid's ``encoders`` built (once) under ``out_dir/resources``, by name."""
    return {spec.name: _encoder(spec, benchmark, out_dir / RESOURCES_FOLDER / spec.folder_name)
            for spec in grid.encoders}


def resolved_config(variant: Variant, encoders: Mapping[str, Path]) -> dict[str, Any]:
    """The variant's configuration with every ``@NAME`` replaced by the folder of encoder NAME."""
    return _substituted(variant.config, encoders)


def _substituted(config: Mapping[str, Any], encoders: Mapping[str, Path]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            resolved[key] = _substituted(value, encoders)
        elif isinstance(value, str) and value.startswith(RESOURCE_PREFIX):
            resolved[key] = str(encoders[value[len(RESOURCE_PREFIX):]])
        else:
            resolved[key] = value
    return resolved


def _encoder(spec: EncoderSpec, benchmark: Benchmark, folder: Path) -> Path:
    if owned_by(folder, "encoder") and (folder / "config.json").is_file():
        return folder.resolve()
    videos = benchmark.videos if spec.texts == "all" else benchmark.split("train").videos
    texts = [piece.text for video in videos.values() for piece in video.pieces]
    texts += [annotation.text for annotation in benchmark.split("train").annotations]
    with built_aside(folder, "encoder", what="vcval ablate") as staging:
        build_random_encoder(staging, texts, spec.shape, vocab_size=spec.vocab_size, seed=spec.seed, **dict(spec.sizes))
    return folder.resolve()
