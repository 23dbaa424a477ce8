"""`vcval run` and `vcval systems` on the command line."""

from __future__ import annotations

import json

from benchmark import registry
from tests.harness_systems import make_overlap
from vcval.main import main

OVERLAP = "tests.harness_systems:make_overlap"


def test_vcval_run_with_config_file_and_overrides(tiny_data_dir, tmp_path, capsys):
    config = tmp_path / "overlap.yaml"
    config.write_text("window_s: 12.0\njitter_s: 1.0\n")
    code = main(["run", OVERLAP, "--data-dir", str(tiny_data_dir), "--split", "val", "--config", str(config),
                 "--set", "jitter_s=0", "--seed", "3", "--out", str(tmp_path / "run"), "--no-track"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"{OVERLAP} on tiny validation: 12 questions" in out and "MLflow: not tracked" in out
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"] == {"window_s": 12.0, "jitter_s": 0, "seed": 3}
    assert manifest["split"] == "validation" and manifest["selection"].endswith("held-out train videos")
    assert manifest["deviations"] == []


def test_vcval_run_reports_deviations_and_errors_without_traceback(tiny_data_dir, tmp_path, capsys):
    assert main(["run", OVERLAP, "--data-dir", str(tiny_data_dir), "--set", "seed=9", "--out",
                 str(tmp_path / "run"), "--no-track"]) == 0
    captured = capsys.readouterr()
    assert "deviates from protocol 'medvidcqa-paper': config 'seed' = 9 where the protocol's seed is 42" in captured.err
    assert main(["run", OVERLAP, "--data-dir", str(tiny_data_dir), "--set", "colour=red", "--out",
                 str(tmp_path / "bad"), "--no-track"]) == 2
    assert "has no option colour" in capsys.readouterr().err
    assert main(["run", OVERLAP, "--data-dir", str(tiny_data_dir), "--protocol", "nope", "--out",
                 str(tmp_path / "bad"), "--no-track"]) == 2
    assert "unknown protocol 'nope'" in capsys.readouterr().err


def test_vcval_systems_lists_every_catalog(monkeypatch, capsys):
    monkeypatch.setattr(registry, "catalog_modules", lambda: ("tests.harness_systems",))
    monkeypatch.setattr("tests.harness_systems.SYSTEMS", {"overlap": make_overlap}, raising=False)
    assert main(["systems"]) == 0
    out = capsys.readouterr().out
    assert "overlap" in out and "tests.harness_systems" in out and "Word-overlap retrieval" in out
    monkeypatch.setattr(registry, "catalog_modules", lambda: ("vcval_missing_catalog",))
    assert main(["systems"]) == 2
    assert "catalog 'vcval_missing_catalog' cannot be imported" in capsys.readouterr().err


def test_vcval_runs_without_a_store_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["runs"]) == 0
    assert "no MLflow store at" in capsys.readouterr().out and not (tmp_path / "mlflow.db").exists()


def test_help_of_the_harness_commands_renders():
    from vcval.main import build_parser

    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command").choices
    for name in ("run", "systems", "runs", "ablate"):
        assert commands[name].format_help().startswith(f"usage: vcval {name}")
