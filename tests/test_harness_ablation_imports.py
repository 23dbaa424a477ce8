"""A grid's ``imports``: cells taken from published runs (a run too long for the grid's machine), checked
against their manifests and the grid's protocol before any cell runs, and scored like the others."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from benchmark.ablation import load_grid, run_grid
from benchmark.errors import ConfigError

SOURCE = """
name: source
protocol: medvidcqa-paper
seeds: [1]
systems:
  overlap: {jitter_s: 4.0}
settings:
  wide: {window_s: 40.0}
  narrow: {window_s: 8.0}
metrics: [R1_IoU0.3, R1_mIoU]
results: published-source
"""

IMPORTING = """
name: importing
protocol: medvidcqa-paper
seeds: [1]
systems:
  overlap: {}
settings:
  wide: {window_s: 40.0, jitter_s: 3.0}
  narrow: {window_s: 8.0, jitter_s: 4.0}
imports:
  wide: published-source/overlap_wide-seed1.jsonl.gz
metrics: [R1_IoU0.3, R1_mIoU]
results: published-importing
"""

PUBLISHED = "published-source/overlap_wide-seed1"


@pytest.fixture(scope="module")
def published(tiny_benchmark, tmp_path_factory, overlap_system_module):
    """A folder holding the source grid's published results and its table."""
    root = tmp_path_factory.mktemp("imports")
    (root / "source.yaml").write_text(SOURCE)
    result = run_grid(root / "source.yaml", tiny_benchmark, root / "runs-source", track=False, echo=False,
                      publish_results=True)
    return root, result


@pytest.fixture(scope="module")
def overlap_system_module():
    from benchmark.registry import register_system, unregister_system
    from tests.harness_systems import make_overlap

    register_system("overlap", make_overlap, replace=True)
    yield
    unregister_system("overlap")


def _workspace(published, tmp_path, grid_text=IMPORTING):
    root, _ = published
    shutil.copytree(root / "published-source", tmp_path / "published-source")
    (tmp_path / "grid.yaml").write_text(grid_text)
    return tmp_path / "grid.yaml"


def test_imported_cell_is_scored_like_a_run_and_published_by_reference(published, tiny_benchmark, tmp_path):
    source = published[1]
    path = _workspace(published, tmp_path)
    result = run_grid(path, tiny_benchmark, tmp_path / "runs", track=False, echo=False, publish_results=True)

    wide, narrow = (result.row("overlap/wide"), result.row("overlap/narrow"))
    assert wide.mean == source.row("overlap/wide").mean  # the published run, scored here
    assert narrow.mean == source.row("overlap/narrow").mean  # the cell this grid ran
    comparison, reference = narrow.comparisons["R1_mIoU"], source.row("overlap/narrow").comparisons["R1_mIoU"]
    assert (comparison.difference, comparison.p_value) == (reference.difference, reference.p_value)
    assert not (tmp_path / "runs" / "overlap_wide").exists()  # not run
    assert (tmp_path / "runs" / "overlap_narrow" / "seed-1" / "predictions.jsonl").is_file()

    run = next(run for variant, run in result.cells() if variant.name == "overlap/wide")
    assert run.imported_from == tmp_path / f"{PUBLISHED}.jsonl.gz"
    assert run.deviations == ["imported run: setting 'jitter_s' = 4.0 (the variant sets 3.0)"]
    table = json.loads((tmp_path / "published-importing" / "ablation.json").read_text())
    entry = next(v for v in table["variants"] if v["name"] == "overlap/wide")
    assert entry["imported"] == {"files": [f"../{PUBLISHED}.jsonl.gz"], "deviations": run.deviations}
    assert table["runs"][0] == f"../{PUBLISHED}.jsonl.gz"
    published_files = sorted(p.name for p in (tmp_path / "published-importing").iterdir())
    assert "overlap_wide-seed1.jsonl.gz" not in published_files and "overlap_narrow-seed1.jsonl.gz" in published_files
    rendered = (tmp_path / "published-importing" / "ablation.md").read_text()
    assert f"overlap/wide: not run by this grid, imported from ../{PUBLISHED}.jsonl.gz" in rendered
    assert "'jitter_s' = 4.0 (the variant sets 3.0)" in rendered


def _tamper_predictions(stem):
    path = stem.with_name(stem.name + ".jsonl.gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    row = json.loads(lines[1])
    row["candidates"][0]["start"] += 1.0
    lines[1] = json.dumps(row)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def _edit_json(path, edit):
    value = json.loads(path.read_text())
    edit(value)
    path.write_text(json.dumps(value))


@pytest.mark.parametrize(("damage", "grid_text", "message"), [
    (_tamper_predictions, IMPORTING, r"the predictions hash to \w+, but .*manifest.json records .*files_sha256"),
    (lambda stem: stem.with_name(stem.name + ".manifest.json").unlink(), IMPORTING,
     r"overlap_wide-seed1.manifest.json: cannot read the imported run's manifest"),
    (lambda stem: _edit_json(stem.with_name(stem.name + ".scores.json"),
                             lambda v: v["metrics"].update(R1_mIoU=v["metrics"]["R1_mIoU"] + 1)), IMPORTING,
     r"scores.json: the imported run scores .* on 'R1_mIoU' but .* was published"),
    (lambda stem: _edit_json(stem.with_name(stem.name + ".manifest.json"), lambda v: v.update(protocol_hash="0" * 64)),
     IMPORTING, r"overlap_wide-seed1.manifest.json: the recorded protocol hashes to \w+, not the recorded 000000000000"),
    (None, IMPORTING.replace("protocol: medvidcqa-paper", "protocol: {name: medvidcqa-paper, bootstrap: 10}"),
     r"it ran under protocol 'medvidcqa-paper' \(\w+\), but variant 'overlap/wide' runs under 'medvidcqa-paper' "
     r"\(\w+\) on this data: its questions would not pair"),
    (None, IMPORTING.replace("seeds: [1]", "seeds: [2]"),
     r"the runs imported as 'overlap/wide' have seeds 1; the grid's are 2"),
    (None, IMPORTING.replace("systems:\n  overlap: {}", "systems:\n  random: {}").replace("wide: published", "x: published")
     .replace("imports:\n  x:", "imports:\n  random/wide:"),
     r"its manifest records system 'overlap', but variant 'random/wide' is 'random'"),
])
def test_imports_that_do_not_check_out_are_refused_before_any_cell_runs(published, tiny_benchmark, tmp_path,
                                                                        damage, grid_text, message):
    path = _workspace(published, tmp_path, grid_text)
    if damage is not None:
        damage(tmp_path / PUBLISHED)
    with pytest.raises(ConfigError, match=message):
        run_grid(path, tiny_benchmark, tmp_path / "runs", track=False, echo=False)
    assert not list((tmp_path / "runs").rglob("manifest.json"))  # no cell ran


@pytest.mark.parametrize(("imports", "message"), [
    ("{wide: [a.jsonl.gz, b.jsonl.gz]}", r"field 'imports.wide' must be one published run per seed of the grid \(1\), got 2"),
    ("{missing: a.jsonl.gz}", r"field 'imports.missing' must be one of the variants"),
    ("{wide: 3}", r"field 'imports.wide' must be a predictions file path"),
    ("[a.jsonl.gz]", r"field 'imports' must be a mapping of variant name"),
    ("{wide: gone.jsonl.gz}", r"field 'imports.wide' must be published predictions files .*; not found: .*gone.jsonl.gz"),
])
def test_bad_imports_name_the_field(tmp_path, imports, message):
    path = tmp_path / "grid.yaml"
    path.write_text(IMPORTING.replace("imports:\n  wide: published-source/overlap_wide-seed1.jsonl.gz",
                                      f"imports: {imports}"))
    with pytest.raises(ConfigError, match=message):
        load_grid(path)


def test_imported_file_must_be_a_predictions_file(published, tiny_benchmark, tmp_path):
    path = _workspace(published, tmp_path, IMPORTING.replace(".jsonl.gz", ".manifest.json"))
    with pytest.raises(ConfigError, match=r"not a predictions file \(expected a name ending in .jsonl.gz or .jsonl\)"):
        run_grid(path, tiny_benchmark, tmp_path / "runs", track=False, echo=False)


def _curve_table(imported: bool) -> dict:
    point = {"per_seed": {"1": {"loc_mIoU": 1.0}}, "std": {"loc_mIoU": 0.0}, "vs_base": {}, "swept_from": "ccgs"}
    variants = [{**point, "name": f"ccgs@{n}", "sweep_value": n, "mean": {"loc_mIoU": float(n) / 10}} for n in (8, 64)]
    if imported:
        variants[1]["imported"] = {"files": ["../x/ccgs.jsonl.gz"], "deviations": []}
    return {"grid": "g", "base": "ccgs@8", "alpha": 0.05, "metrics": ["loc_mIoU"], "variants": variants,
            "figure": {"kind": "curve", "metric": "loc_mIoU", "references": []},
            "sweep": {"setting": "n", "values": [8, 64], "variants": ["ccgs"]}}


def test_figures_mark_imported_runs(published, tiny_benchmark, tmp_path):
    from benchmark.ablation.figures import write_figure

    path = _workspace(published, tmp_path)
    run_grid(path, tiny_benchmark, tmp_path / "runs", track=False, echo=False)
    bars = json.loads((tmp_path / "runs" / "ablation.json").read_text())
    plain = {**bars, "variants": [{k: v for k, v in variant.items() if k != "imported"} for variant in bars["variants"]]}
    drawn = {name: write_figure(tmp_path / f"{name}.png", table).read_bytes()
             for name, table in [("bars", bars), ("bars-plain", plain), ("curve", _curve_table(True)),
                                 ("curve-plain", _curve_table(False))]}
    assert drawn["bars"] != drawn["bars-plain"] and drawn["curve"] != drawn["curve-plain"]


def test_only_refuses_an_imported_variant(published, tiny_benchmark, tmp_path):
    from benchmark.ablation import run_cells

    path = _workspace(published, tmp_path)
    with pytest.raises(ConfigError, match=r"overlap/wide is imported from a published run, not run"):
        run_cells(path, tiny_benchmark, tmp_path / "runs", ["overlap/wide"], track=False, echo=False)
