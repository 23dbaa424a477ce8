"""Ablation grids: parsing, the comparison table, paired tests with Holm correction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.ablation import grid_from_mapping, load_grid, run_grid
from benchmark.ablation.publish import relative_paths
from benchmark.errors import ConfigError
from benchmark.harness.run_folder import RunFolderError
from benchmark.harness.runner import load_run
from vcval.main import main

GRID = """
name: overlap-windows
protocol: medvidcqa-paper
seeds: [1, 2]
systems:
  overlap: {jitter_s: 4.0}
settings:
  wide: {window_s: 40.0}
  narrow: {window_s: 8.0}
  jitterless: {window_s: 40.0, jitter_s: 0.0}
base: wide
metrics: [video_R1, R1_IoU0.3, R1_mIoU]
"""


pytestmark = pytest.mark.usefixtures("overlap_system")


def test_grid_file_expands_systems_times_settings(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text(GRID)
    grid = load_grid(path)
    assert grid.name == "overlap-windows" and grid.seeds == (1, 2) and grid.base == "overlap/wide"
    assert [(v.name, v.config) for v in grid.variants] == [
        ("overlap/wide", {"jitter_s": 4.0, "window_s": 40.0}),
        ("overlap/narrow", {"jitter_s": 4.0, "window_s": 8.0}),
        ("overlap/jitterless", {"jitter_s": 0.0, "window_s": 40.0})]
    plain = grid_from_mapping({"systems": {"a": None, "b": {"k": 1}}})
    assert [v.name for v in plain.variants] == ["a", "b"] and plain.base == "a" and plain.seeds == (42,)


@pytest.mark.parametrize(("mapping", "message"), [
    ({"systems": {}}, "field 'systems' must be a non-empty mapping"),
    ({"systems": {"a": {}}, "colour": 1}, "unknown field.*colour"),
    ({"systems": {"a": {}}, "seeds": [1, 1]}, "field 'seeds' must be a non-empty list of distinct"),
    ({"systems": {"a": {}}, "base": "b"}, "field 'base' must be one of the variants \\(a\\)"),
    ({"systems": {"a": {}}, "settings": {"x": 3}}, "field 'settings.x' must be a mapping"),
    ({"systems": {"a": {}}, "metrics": "R1_mIoU"}, "field 'metrics' must be a list"),
    ({"systems": {"a": {}}, "protocol": {"name": "p", "max_candidates": 0}}, "max_candidates"),
])
def test_bad_grids_name_the_field(mapping, message):
    with pytest.raises(ConfigError, match=message):
        grid_from_mapping(mapping, source="g.yaml")


def test_grid_runs_every_cell_and_tests_against_the_base(tiny_benchmark, tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text(GRID)
    result = run_grid(path, tiny_benchmark, tmp_path / "out", track=False, echo=False)
    assert len(result.runs) == 6 and {run.seed for run in result.runs} == {1, 2}
    assert {run.protocol.hash for run in result.runs} == {result.protocol.hash}  # one protocol for all
    rows = {row.variant.name: row for row in result.rows}
    wide_runs = [run for run in result.runs if run.config["window_s"] == 40.0 and run.config["jitter_s"] == 4.0]
    mean = sum(run.metrics["R1_mIoU"] for run in wide_runs) / 2
    assert rows["overlap/wide"].mean["R1_mIoU"] == pytest.approx(mean)
    assert rows["overlap/wide"].comparisons == {}
    narrow = rows["overlap/narrow"].comparisons["R1_mIoU"]
    assert narrow.difference == pytest.approx(rows["overlap/narrow"].mean["R1_mIoU"] - mean)
    p_values = [c.p_value for row in result.rows for c in row.comparisons.values()]
    p_holm = [c.p_holm for row in result.rows for c in row.comparisons.values()]
    assert len(p_values) == 6 and all(h >= p for h, p in zip(p_holm, p_values, strict=True))
    # video retrieval does not depend on the window: identical per question, so no difference at all
    assert rows["overlap/narrow"].comparisons["video_R1"].difference == 0
    assert rows["overlap/narrow"].comparisons["video_R1"].p_holm == 1.0
    table = (tmp_path / "out" / "ablation.md").read_text()
    assert "| overlap/wide (base) |" in table and "±" in table and "Holm" in table
    saved = json.loads((tmp_path / "out" / "ablation.json").read_text())
    assert saved["protocol_hash"] == result.protocol.hash and len(saved["runs"]) == 6
    assert (tmp_path / "out" / "overlap_narrow" / "seed-2" / "predictions.jsonl").is_file()
    assert (tmp_path / "out" / "ablation.png").read_bytes()[:4] == b"\x89PNG"


def test_resumed_grid_keeps_finished_cells_and_reruns_the_rest(tiny_benchmark, tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text(GRID)
    first = run_grid(path, tiny_benchmark, tmp_path / "out", track=False, echo=False)
    kept = tmp_path / "out" / "overlap_narrow" / "seed-1"
    stamp = (kept / "manifest.json").stat().st_mtime_ns
    broken = tmp_path / "out" / "overlap_wide" / "seed-2" / "scores.json"
    broken.write_text(broken.read_text().replace('"R1_mIoU": ', '"R1_mIoU": 1'))  # no longer its manifest's
    with pytest.raises(RunFolderError, match="--resume"):
        run_grid(path, tiny_benchmark, tmp_path / "out", track=False, echo=False)
    path.write_text(GRID.replace("jitterless: {window_s: 40.0, jitter_s: 0.0}", "jitterless: {window_s: 40.0, jitter_s: 1.0}"))
    second = run_grid(path, tiny_benchmark, tmp_path / "out", track=False, echo=False, resume=True)
    assert (kept / "manifest.json").stat().st_mtime_ns == stamp  # reused, not run again
    rows = {row.variant.name: row for row in second.rows}
    assert rows["overlap/narrow"].mean == {row.variant.name: row for row in first.rows}["overlap/narrow"].mean
    rerun = load_run(broken.parent)  # checks out against its manifest again: the cell was run again
    assert rerun.metrics == next(run for run in first.runs if run.out_dir == broken.parent).metrics
    assert {run.config["jitter_s"] for run in second.runs if run.config["window_s"] == 40.0} == {4.0, 1.0}


def test_vcval_ablate_cli(tiny_data_dir, tmp_path, capsys):
    path = tmp_path / "grid.yaml"
    path.write_text("systems: {overlap: {}}\nsettings: {a: {window_s: 10.0}, b: {window_s: 30.0}}\nseeds: [3]\n"
                    "metrics: [R1_mIoU]\n")
    assert main(["ablate", str(path), "--data-dir", str(tiny_data_dir), "--out", str(tmp_path / "out"),
                 "--no-track"]) == 0
    out = capsys.readouterr().out
    assert "| overlap/a (base) |" in out and "| overlap/b |" in out
    assert main(["ablate", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.yaml: cannot read the grid file" in capsys.readouterr().err


@pytest.mark.slow
def test_ccgs_grid_three_variants_two_seeds(tiny_data_dir, tiny_benchmark, tmp_path):
    from tests.ccgs_support import tiny_encoder

    grid = grid_from_mapping({
        "name": "ccgs-tiny",
        "seeds": [1, 2],
        # The smallest CCGS that trains: one epoch on 8 questions, short windows.
        "systems": {"ccgs": {"preset": "tiny", "encoder": str(tiny_encoder(tiny_data_dir)), "epochs": 1,
                             "max_train_examples": 8, "max_val_questions": 2, "max_len": 96,
                             "max_question_tokens": 24}},
        "settings": {"full": {}, "no-visual": {"visual": False}, "no-contrastive": {"contrastive": False}},
        "base": "full",
        "metrics": ["video_R1", "R1_IoU0.3", "R1_mIoU"],
    })
    result = run_grid(grid, tiny_benchmark, tmp_path / "out", track=False, echo=False)
    assert [row.variant.name for row in result.rows] == ["ccgs/full", "ccgs/no-visual", "ccgs/no-contrastive"]
    assert len(result.runs) == 6 and all(run.system == "ccgs" for run in result.runs)
    assert [run.config["seed"] for run in result.runs] == [1, 2] * 3  # the protocol's seed key reaches CCGS
    assert all(run.deviations == ["config 'max_len' = 96 where the protocol's max_tokens is 1300"]
               for run in result.runs)
    assert result.runs[0].predictions_path.read_bytes() != result.runs[1].predictions_path.read_bytes()
    table = (tmp_path / "out" / "ablation.md").read_text()
    assert table.count("\n| ccgs/") == 3 and "| ccgs/full (base) |" in table


def test_only_runs_some_cells_and_leaves_the_others_for_the_whole_grid(tiny_benchmark, tiny_data_dir, tmp_path,
                                                                       capsys):
    from benchmark.ablation import run_cells

    path = tmp_path / "grid.yaml"
    path.write_text(GRID)
    out = tmp_path / "out"
    first = run_cells(path, tiny_benchmark, out, ["overlap/narrow"], track=False, echo=False)
    assert [run.seed for run in first] == [1, 2] and not (out / "ablation.json").exists()
    # a second process's share: the narrow cells are neither run again nor removed
    run_cells(path, tiny_benchmark, out, ["overlap/wide", "overlap/jitterless"], track=False, echo=False, resume=True)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("manifest.json")}
    assert len(stamps) == 6
    result = run_grid(path, tiny_benchmark, out, track=False, echo=False, resume=True)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("manifest.json")} == stamps  # every cell kept
    whole = run_grid(path, tiny_benchmark, tmp_path / "whole", track=False, echo=False)
    assert [row.mean for row in result.rows] == [row.mean for row in whole.rows]

    with pytest.raises(ConfigError, match=r"--only names overlap/none; its variants are overlap/wide, overlap/narrow"):
        run_cells(path, tiny_benchmark, out, ["overlap/none"], track=False, echo=False, resume=True)
    assert main(["ablate", str(path), "--data-dir", str(tiny_data_dir), "--out", str(out), "--only", "overlap/wide",
                 "--publish", "--no-track"]) == 2
    assert "--only writes no table, so there is nothing to --publish" in capsys.readouterr().err
    assert main(["ablate", str(path), "--data-dir", str(tiny_data_dir), "--out", str(out), "--only", "overlap/wide",
                 "--resume", "--no-track"]) == 0
    assert "2 of the grid's 6 cells done (run now or kept); no table was written" in capsys.readouterr().out


def test_published_manifests_name_no_path_of_the_machine():
    roots = {"<data>": Path("/data/tvqa"), "<runs>": Path("/scratch/runs")}
    recorded = {"data_dir": "/data/tvqa", "out": ["/scratch/runs/cell/seed-42", "relative/stays"],
                "config": {"out_dir": "/home/someone/models/curve-1024", "encoder": "all-MiniLM-L6-v2", "n": 3}}
    assert relative_paths(recorded, roots) == {
        "data_dir": "<data>", "out": ["<runs>/cell/seed-42", "relative/stays"],
        "config": {"out_dir": "<local>/curve-1024", "encoder": "all-MiniLM-L6-v2", "n": 3}}
