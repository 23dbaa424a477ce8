"""``vcval ablate --publish``: an experiment's table, figure and every cell's predictions, copied to the
grid's ``results`` folder (the files committed under benchmarks/results/); an imported cell's files are
published already, and ``ablation.json`` names them.

What is written depends only on the run folders: predictions are gzipped without a timestamp, and every
absolute path in a copied manifest is rewritten relative to the experiment's roots (``<data>/...`` under
the data folder, ``<runs>/...`` under the grid's run folder, and ``<local>/NAME`` for a path under neither,
such as a cell's ``out_dir`` set elsewhere: only its last component is kept), so publishing the same runs
again gives the same bytes, and nothing names the machine it ran on. ``vcval score`` reads each ``.jsonl.gz``
as it is.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark.ablation.figures import write_figure
from benchmark.ablation.spec import slug
from benchmark.ablation.table import GridResult
from benchmark.outputs import write_json, write_text
from benchmark.ownership import built_aside

TABLE_FILES = ("ablation.md", "ablation.json", "ablation.png")


def write_tables(result: GridResult, folder: Path) -> tuple[Path, ...]:
    """``ablation.md``, ``ablation.json`` and ``ablation.png`` of ``result`` in ``folder``."""
    content = result.to_dict()
    write_text(folder / "ablation.md", result.render() + "\n")
    write_json(folder / "ablation.json", content)
    write_figure(folder / "ablation.png", content)
    return tuple(folder / name for name in TABLE_FILES)


def publish(result: GridResult, results_dir: Path, data_dir: Path) -> Path:
    """Replace ``results_dir`` (a folder an earlier publish of this grid made, or a new one) with the
    tables, figure, predictions and relative manifests of ``result``; returns it."""
    roots = {"<data>": Path(data_dir).resolve(), "<runs>": result.out_dir.resolve()}
    with built_aside(results_dir, "results", what="vcval ablate --publish", made_by=f"vcval ablate {result.grid.name}",
                     legacy=_published_name) as staging:
        write_tables(result, staging)
        for variant, run in result.cells():
            if run.imported_from is not None:  # published already: ablation.json names its file
                continue
            stem = f"{slug(variant.name)}-seed{run.seed}"
            with run.predictions_path.open("rb") as source, (staging / f"{stem}.jsonl.gz").open("wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as sink:
                shutil.copyfileobj(source, sink)
            for name in ("manifest", "scores"):
                recorded = json.loads((run.out_dir / f"{name}.json").read_text(encoding="utf-8"))
                write_json(staging / f"{stem}.{name}.json", relative_paths(recorded, roots))
    return results_dir


LOCAL_ROOT = "<local>"


def relative_paths(value: Any, roots: Mapping[str, Path]) -> Any:
    """``value`` with every string that is an absolute path under one of ``roots`` written as
    ``<root name>/relative/path``, and every other absolute path as ``<local>/<its last component>``."""
    if isinstance(value, Mapping):
        return {key: relative_paths(item, roots) for key, item in value.items()}
    if isinstance(value, list):
        return [relative_paths(item, roots) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        for name, root in roots.items():
            path = Path(value)
            if path == root or root in path.parents:
                relative = path.relative_to(root).as_posix()
                return name if relative == "." else f"{name}/{relative}"
        return f"{LOCAL_ROOT}/{Path(value).name}"
    return value


def _published_name(name: str) -> bool:
    """Files of a results folder published before folders were marked."""
    return name in TABLE_FILES or name.endswith((".jsonl.gz", ".manifest.json", ".scores.json"))
