"""Run folders: an existing run is never overwritten by accident, a run is moved into place only when
complete, and every reader refuses a folder whose files are not the run's (issue 13, part 1)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient

from benchmark.harness import run_system
from benchmark.harness.run_folder import RunFolderError, read_verified_manifest
from vcval.main import main

OVERLAP = "tests.harness_systems:make_overlap"


pytestmark = pytest.mark.usefixtures("overlap_system")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(benchmark, out: Path, seed: int, **options):
    return run_system("overlap", benchmark, out, split="test", seed=seed, track=False, echo=False, **options)


def test_an_out_holding_a_run_is_refused_unless_overwrite(tiny_benchmark, tmp_path):
    out = tmp_path / "base"
    _run(tiny_benchmark, out, seed=1)
    (out / "tracking.json").write_text('{"run_id": "x"}')  # a file the next run (untracked) does not write
    before = _sha(out / "predictions.jsonl")
    with pytest.raises(RunFolderError, match=r"already holds a run \(system 'overlap', split test\); give --overwrite"):
        _run(tiny_benchmark, out, seed=2)
    assert _sha(out / "predictions.jsonl") == before and (out / "tracking.json").exists()
    _run(tiny_benchmark, out, seed=2, overwrite=True)
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert not (out / "tracking.json").exists()  # nothing of the old run is left beside the new one
    assert [path.name for path in tmp_path.iterdir()] == ["base"]  # no staging folder left behind


def test_cli_refuses_an_out_holding_a_run(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "base"
    common = ["--data-dir", str(tiny_data_dir), "--split", "test", "--out", str(out), "--no-track"]
    assert main(["run", OVERLAP, *common]) == 0
    before = _sha(out / "predictions.jsonl")
    capsys.readouterr()
    assert main(["run", OVERLAP, *common, "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert f"vcval run: error: {out} already holds a run" in err and "--overwrite" in err and "Traceback" not in err
    assert _sha(out / "predictions.jsonl") == before
    assert main(["run", OVERLAP, *common, "--seed", "5", "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5


def test_an_interrupted_run_leaves_the_old_folder_as_it_was(tiny_benchmark, tmp_path, monkeypatch):
    out = tmp_path / "base"
    _run(tiny_benchmark, out, seed=1)
    files = {path.name: _sha(path) for path in out.iterdir() if path.is_file()}

    def interrupted(*args, **kwargs):  # SIGINT after the new predictions and scores were written
        raise KeyboardInterrupt

    monkeypatch.setattr("benchmark.harness.runner.write_plots", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_benchmark, out, seed=2, overwrite=True)
    assert {path.name: _sha(path) for path in out.iterdir() if path.is_file()} == files
    assert [path.name for path in tmp_path.iterdir()] == ["base"]


def test_the_manifest_records_the_hashes_and_readers_refuse_a_mixed_folder(tiny_benchmark, tiny_data_dir, tmp_path,
                                                                          capsys):
    mixed, other = tmp_path / "mixed", tmp_path / "other"
    _run(tiny_benchmark, mixed, seed=1)
    _run(tiny_benchmark, other, seed=2)
    manifest = json.loads((mixed / "manifest.json").read_text())
    assert manifest["files_sha256"] == {name: _sha(mixed / name) for name in ("predictions.jsonl", "scores.json")}
    assert read_verified_manifest(mixed).seed == 1

    shutil.copy(other / "predictions.jsonl", mixed / "predictions.jsonl")  # new predictions beside old scores
    store = tmp_path / "store"
    commands = {
        "submit": ["submit", "--from-run", str(mixed), "--data-dir", str(tiny_data_dir), "--store", str(store)],
        "runs": ["runs", "--log", str(mixed), "--tracking-uri", f"sqlite:///{tmp_path / 'never.db'}"],
        "paper": ["paper", "--runs", str(mixed), "--out", str(tmp_path / "paper"), "--no-plots"],
    }
    for command, argv in commands.items():
        assert main(argv) == 2, command
        err = capsys.readouterr().err
        assert f"vcval {command}: error: {mixed / 'predictions.jsonl'} does not match the run's manifest" in err
        assert "Traceback" not in err
    assert not store.exists() and not (tmp_path / "never.db").exists() and not (tmp_path / "paper").exists()

    # A folder written before the manifest recorded hashes is checked through what scores.json scored.
    del manifest["files_sha256"]
    (mixed / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFolderError, match="predictions.jsonl is not the file that .*scores.json scored"):
        read_verified_manifest(mixed)
    shutil.copy(other / "scores.json", mixed / "scores.json")  # both new, the manifest old: still one run's files
    assert read_verified_manifest(mixed).seed == 1
    _run(tiny_benchmark, mixed, seed=1, overwrite=True)
    shutil.copy(other / "scores.json", mixed / "scores.json")
    with pytest.raises(RunFolderError, match="scores.json does not match the run's manifest"):
        read_verified_manifest(mixed)


def test_ablate_refuses_an_out_holding_a_grid(tiny_data_dir, tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"systems:\n  {OVERLAP}: {{}}\nsettings:\n  a: {{window_s: 10}}\n  b: {{window_s: 30}}\n"
                    f"base: {OVERLAP}/a\nseeds: [1]\nsplit: test\n")
    out = tmp_path / "ablation"
    argv = ["ablate", str(grid), "--data-dir", str(tiny_data_dir), "--out", str(out), "--no-track"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    assert "already holds an ablation grid (2 run folders); give --resume" in capsys.readouterr().err
    grid.write_text(grid.read_text().replace("  b: {window_s: 30}\n", "").replace("a: {window_s: 10}", "c: {}")
                    .replace("/a", "/c"))
    assert main([*argv, "--overwrite"]) == 0
    runs = sorted(path.parent.relative_to(out).parent.name for path in out.rglob("manifest.json"))
    assert len(runs) == 1 and runs[0].endswith("_c")  # the old grid's cells are gone


@pytest.mark.slow
def test_submit_from_an_mlflow_id_uses_the_run_not_what_the_folder_holds_now(tiny_benchmark, tiny_data_dir,
                                                                            tmp_path, monkeypatch, capsys):
    """The issue's reproduction: run X tracked, another run written over its folder, X submitted by id."""
    monkeypatch.chdir(tmp_path)  # MLflow puts the artifacts of a SQLite store under ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "runs" / "base"
    tracked = run_system("overlap", tiny_benchmark, out, split="test", seed=1, tracking_uri=uri, echo=False)
    run_id = tracked.tracking.run_id
    tracked_sha = _sha(out / "predictions.jsonl")
    _run(tiny_benchmark, out, seed=2, overwrite=True)
    assert _sha(out / "predictions.jsonl") != tracked_sha
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert main(["submit", "--from-run", run_id, "--data-dir", str(tiny_data_dir), "--store", "s"]) == 0
    stored = json.loads(next(Path("s").glob("*/meta.json")).read_text())
    # The stored predictions are those of run X (its logged artifacts), not the folder's new ones.
    assert stored["predictions_sha256"] == tracked_sha
    assert stored["source"].startswith("run:") and str(out.resolve()) not in stored["source"]
    # With the folder holding X again (its tracking record names X), the folder itself is used.
    MlflowClient(uri).set_tag(run_id, "vcval.run_dir", str(out.resolve()))
    _run(tiny_benchmark, out, seed=1, overwrite=True)
    (out / "tracking.json").write_text(json.dumps({"run_id": run_id}))
    from leaderboard.runs import resolve_run

    assert resolve_run(run_id, uri) == out.resolve()


def test_train_ccgs_refuses_an_out_holding_another_training(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "ccgs"
    (out / "checkpoints").mkdir(parents=True)
    (out / "training_summary.json").write_text("{}")
    argv = ["train", "ccgs", "--data-dir", str(tiny_data_dir), "--encoder", "no-such-encoder", "--out", str(out)]
    assert main(argv) == 2
    assert "already holds a training; give --resume to continue it, --overwrite" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 2  # no record of the settings it was trained with
    assert "cannot resume, train_settings.json is missing" in capsys.readouterr().err
    (out / "train_settings.json").write_text(json.dumps({"encoder": "another", "preset": None,
                                                         "data_fingerprint": "x", "config": {}}))
    assert main([*argv, "--resume"]) == 2
    assert "trained with other settings (data_fingerprint, encoder differ" in capsys.readouterr().err
    assert (out / "training_summary.json").exists()


def test_a_folder_that_holds_something_else_is_never_replaced(tiny_benchmark, tmp_path):
    out = tmp_path / "runs"
    (out / "bm25").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(RunFolderError, match="is not made by vcval run .*, so vcval run does not replace it"):
            _run(tiny_benchmark, out, seed=1, overwrite=overwrite)
    assert (out / "notes.txt").read_text() == "mine" and (out / "bm25").is_dir()
    (tmp_path / "empty").mkdir()
    _run(tiny_benchmark, tmp_path / "empty", seed=1)  # an empty folder is free
    assert (tmp_path / "empty" / "manifest.json").is_file()
