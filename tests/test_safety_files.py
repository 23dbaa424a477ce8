"""Issue 19, files and folders: nothing a user types can destroy a file. One test per numbered case of the
issue (test_case_NN_...), property tests of the safe-output path, and the tests the issue found missing
(zero-length spans, the IoU tolerance, a pinned p-value)."""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.ablation import grid_from_mapping
from benchmark.data.subtitles import read_subtitle_file
from benchmark.errors import ConfigError, DataError, InputError
from benchmark.harness import run_system
from benchmark.metrics import per_question_metrics
from benchmark.outputs import OutputError, check_output, open_output, write_text
from benchmark.ownership import MARKER_FILE, owned_by
from benchmark.predictions import validate_predictions
from benchmark.protocol import protocol_from_mapping
from benchmark.stats import paired_test
from tests.scoring_helpers import good_lines, small_split, write_lines
from vcval.main import main

OVERLAP = "tests.harness_systems:make_overlap"
REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("overlap_system")


@pytest.fixture
def predictions(tiny_benchmark, tmp_path) -> Path:
    """A valid predictions file of the tiny test split (the overlap system's)."""
    run = run_system("overlap", tiny_benchmark, tmp_path / "made", split="test", seed=1, track=False, echo=False)
    path = tmp_path / "a.jsonl"
    shutil.copy(run.predictions_path, path)
    return path


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def _grid(tmp_path: Path, settings_yaml: str = "  a: {window_s: 10}\n  b: {window_s: 30}\n", base: str = "a") -> Path:
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"systems:\n  {OVERLAP}: {{}}\nsettings:\n{settings_yaml}base: {base}\nseeds: [1]\nsplit: test\n")
    return grid


# ------------------------------------------------------------------------------------------- data loss


def test_case_01_ablate_overwrite_never_deletes_folders_it_does_not_own(tiny_benchmark, tiny_data_dir, tmp_path,
                                                                        capsys):
    out = tmp_path / "R"
    mine = out / "mine"
    run_system("overlap", tiny_benchmark, mine, split="test", seed=1, track=False, echo=False)
    argv = ["ablate", str(_grid(tmp_path)), "--data-dir", str(tiny_data_dir), "--out", str(out), "--no-track"]
    for extra in ([], ["--overwrite"], ["--resume"]):
        assert main([*argv, *extra]) == 2
        err = _error(capsys)
        assert "was not made by vcval ablate" in err and "--overwrite" not in err  # no destructive advice
    assert (mine / "predictions.jsonl").is_file()

    grid_out = tmp_path / "G"
    argv = [*argv[:-3], "--out", str(grid_out), "--no-track"]
    assert main(argv) == 0
    assert owned_by(grid_out, "grid") and len(list(grid_out.rglob("manifest.json"))) == 2
    run_system("overlap", tiny_benchmark, grid_out / "mine", split="test", seed=1, track=False, echo=False)
    assert main([*argv, "--overwrite"]) == 2
    assert "did not write" in _error(capsys) and (grid_out / "mine" / "predictions.jsonl").is_file()
    shutil.rmtree(grid_out / "mine")
    assert main([*argv, "--overwrite"]) == 0  # the grid's own cells are replaced


def test_case_02_output_equal_to_input_is_refused(predictions, tiny_data_dir, tmp_path, capsys):
    data = ["--data-dir", str(tiny_data_dir), "--split", "test"]
    original = predictions.read_bytes()
    (tmp_path / "hard.jsonl").hardlink_to(predictions)
    (tmp_path / "soft.jsonl").symlink_to(predictions)
    other = tmp_path / "c.jsonl"
    shutil.copy(predictions, other)
    medvid = tmp_path / "x.json"
    medvid.write_text('[{"question_id": "1", "relevant_videos": []}]')
    test_json = tiny_data_dir / "text" / "test.json"
    data_bytes = test_json.read_bytes()
    for argv in (["score", str(predictions), *data, "--json", str(predictions)],
                 ["score", str(predictions), *data, "--per-query", str(predictions)],
                 ["score", str(predictions), *data, "--json", str(tmp_path / "hard.jsonl")],
                 ["score", str(predictions), *data, "--json", str(tmp_path / "soft.jsonl")],
                 ["score", str(predictions), *data, "--json", str(tmp_path / "." / "a.jsonl")],
                 ["compare", str(other), str(predictions), *data, "--json", str(other)],
                 ["convert", "--from", "medvidqa2024", str(medvid), str(medvid)],
                 ["data", "describe", "--data-dir", str(tiny_data_dir), "--json", str(test_json)]):
        assert main(argv) == 2, argv
        err = _error(capsys)
        assert "writing it would destroy the input" in err or "lies inside the data folder" in err, err
    assert predictions.read_bytes() == original and other.read_bytes() == original
    assert json.loads(medvid.read_text()) == [{"question_id": "1", "relevant_videos": []}]
    assert test_json.read_bytes() == data_bytes


def test_case_03_synth_refuses_a_data_folder_it_did_not_make(tmp_path, capsys):
    real = tmp_path / "real"
    (real / "text").mkdir(parents=True)
    (real / "text" / "test.json").write_text("[]")
    assert main(["data", "synth", "--out", str(real)]) == 2
    assert "not made by vcval data synth" in _error(capsys)
    assert sorted(p.name for p in real.rglob("*")) == ["test.json", "text"]
    assert (real / "text" / "test.json").read_text() == "[]"
    synthetic = tmp_path / "synthetic"
    assert main(["data", "synth", "--out", str(synthetic), "--seed", "1"]) == 0
    assert main(["data", "synth", "--out", str(synthetic), "--seed", "2", "--no-features"]) == 0  # its own: replaced
    assert not (synthetic / "features").exists() and owned_by(synthetic, "synthetic-data")
    (synthetic / "notes.md").write_text("mine")
    assert main(["data", "synth", "--out", str(synthetic)]) == 2
    assert "did not write" in _error(capsys) and (synthetic / "notes.md").read_text() == "mine"


def test_case_04_run_overwrite_keeps_files_it_did_not_write_and_variants_never_share_a_folder(
        tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", OVERLAP, "--data-dir", str(tiny_data_dir), "--split", "test", "--out", str(out), "--no-track",
            "--quiet"]
    assert main(argv) == 0
    (out / "analysis.ipynb").write_text("{}")
    assert main([*argv, "--overwrite"]) == 2
    assert "analysis.ipynb" in _error(capsys) and (out / "analysis.ipynb").read_text() == "{}"
    (out / "analysis.ipynb").unlink()
    assert main([*argv, "--overwrite"]) == 0
    assert json.loads((out / MARKER_FILE).read_text())["kind"] == "run"

    grid = _grid(tmp_path, '  "a b": {window_s: 10}\n  "a_b": {window_s: 30}\n', base='"a b"')
    assert main(["ablate", str(grid), "--data-dir", str(tiny_data_dir), "--out", str(tmp_path / "g"),
                 "--no-track"]) == 2
    assert "would share the run folder" in _error(capsys)
    assert not (tmp_path / "g").exists()  # refused before the first run


# ------------------------------------------------------------------------ hangs and tracebacks


def test_case_12_submit_refuses_a_fifo_at_once(tiny_data_dir, tmp_path):
    fifo = tmp_path / "p.jsonl"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "vcval", "submit", str(fifo), "--data-dir",
                           str(tiny_data_dir), "--split", "test", "--name", "x", "--store", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "not a regular file" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [
    ["score", "P", "--seed", "-1"], ["score", "P", "--max-questions", "-1"], ["score", "P", "--bootstrap", "-1"],
    ["score", "P", "--bootstrap", "100000000000"], ["score", "P", "--sample-seed", "-1"],
    ["compare", "P", "P", "--seed", "-1"], ["compare", "P", "P", "--resamples", "-1"],
    ["run", "bm25", "--seed", "-1", "--out", "o"], ["data", "synth", "--out", "o", "--seed", "-1"],
], ids=lambda argv: " ".join(argv[:1] + argv[-2:]))
def test_case_13_negative_or_absurd_numbers_are_usage_errors(argv, tmp_path, capsys):
    data = [] if argv[0] == "data" else ["--data-dir", str(tmp_path)] + (["--split", "test"] if argv[0] != "run" else [])
    with pytest.raises(SystemExit) as stop:
        main([*argv, *data])
    assert stop.value.code == 2 and "must be from 0 to" in _error(capsys)


def test_case_13_protocol_grid_and_float_settings_are_checked(tiny_data_dir, tmp_path, capsys):
    with pytest.raises(ConfigError, match="field 'bootstrap_seed' must be from 0"):
        protocol_from_mapping({"name": "p", "bootstrap_seed": -1})
    with pytest.raises(ConfigError, match="field 'bootstrap' must be from 0"):
        protocol_from_mapping({"name": "p", "bootstrap": 10**11})
    with pytest.raises(ConfigError, match="field 'seeds' must be a non-empty list of distinct integers from 0"):
        grid_from_mapping({"systems": {"a": {}}, "seeds": [-3]})
    for value in (".nan", ".inf", "-.inf", "1e999"):
        assert main(["run", "bm25", "--data-dir", str(tiny_data_dir), "--out", str(tmp_path / "o"), "--no-track",
                     "--set", f"bm25.k1={value}"]) == 2
        assert "option 'bm25.k1'" in _error(capsys)
    assert not (tmp_path / "o").exists()


def test_case_14_outputs_that_cannot_be_written_are_one_line_errors(predictions, tiny_data_dir, tmp_path, capsys):
    data = ["--data-dir", str(tiny_data_dir), "--split", "test", "--bootstrap", "10"]
    targets = [tmp_path, predictions / "x.json"] + ([Path("/dev/full")] if Path("/dev/full").exists() else [])
    for target in targets:
        assert main(["score", str(predictions), *data, "--json", str(target)]) == 2
        assert main(["data", "describe", "--data-dir", str(tiny_data_dir), "--json", str(target)]) == 2
        err = _error(capsys)
        assert err.count("\n") == 2 and err.count("error:") == 2, err
    assert main(["data", "synth", "--out", str(predictions / "s")]) == 2
    assert "which is a file, not a folder" in _error(capsys)
    assert not list(tmp_path.glob(".partial-*"))

    capsys.readouterr()
    assert main(["score", str(predictions), *data, "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert "video_R1" in json.loads(captured.out)["metrics"] and "R1_mIoU" in captured.err
    assert not Path("-").exists()
    assert main(["data", "describe", "--data-dir", str(tiny_data_dir), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "ccgs"


MALFORMED = [
    ("tvr", {"video2idx": {"a": "x"}, "VCMR": []}, "video2idx.a"),
    ("tvr", {"video2idx": {"a": 0}, "VCMR": [{"desc_id": 1, "predictions": 5}]}, "predictions"),
    ("tvr", {"video2idx": {"a": 0}, "VCMR": [{"desc_id": 1, "predictions": [[[0], 1, 2, 3]]}]}, "not in video2idx"),
    ("tvr", {"video2idx": {"a": 0}, "VCMR": [{"desc_id": {}, "predictions": []}]}, "desc_id"),
    ("medvidqa2024", [{"question_id": 1, "relevant_videos": None}], "relevant_videos"),
    ("medvidqa2024", [{"question_id": 1, "relevant_videos": [{"video_id": "v", "answer_start_second": "nan",
                                                              "answer_end_second": 3}]}], "finite"),
    ("medvidqa2024", [{"question_id": 1, "relevant_videos": [{"video_id": "v", "answer_start_second": 1,
                                                              "answer_end_second": "1e999"}]}], "finite"),
    ("medvidqa2024", [{"question_id": 1, "relevant_videos": [{"video_id": "v", "answer_start_second": 1,
                                                              "answer_end_second": 3, "relevant_score": "x"}]}],
     "relevant_score"),
    ("cmivqa", "[" * 100000 + "]" * 100000, "nested too deeply"),
    ("cmivqa", '[{"id": ' + "9" * 5000 + ', "output": []}]', "not valid JSON"),
    ("cmivqa", '[{"id": 1, "output": [["v", ' + "9" * 400 + ", 3]]}]", "400 digits"),
    ("cmivqa", [{"id": 1, "output": {"a": 1}}], "output"),
]


@pytest.mark.parametrize(("source", "content", "message"), MALFORMED, ids=[m[2] + str(i) for i, m in
                                                                         enumerate(MALFORMED)])
def test_case_15_convert_malformed_inputs_are_one_line_errors(source, content, message, tmp_path, capsys):
    path = tmp_path / "in.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert main(["convert", "--from", source, str(path), str(tmp_path / "out.jsonl")]) == 2
    err = _error(capsys)
    assert err.count("\n") == 1 and message in err and str(path) in err
    assert not (tmp_path / "out.jsonl").exists()
    assert main(["convert", "--from", "cmivqa", str(path), str(tmp_path)]) == 2  # an output that is a folder
    assert "is a folder" in _error(capsys)


@pytest.mark.parametrize("digits", [7, 400, 5000])
def test_case_16_webvtt_huge_hours_are_refused(tmp_path, digits):
    path = tmp_path / "v.vtt"
    hours = "1" * digits
    path.write_text(f"WEBVTT\n\n{hours}:00:00.000 --> {hours}:00:01.000\nhello\n")
    with pytest.raises(DataError, match="hour digits"):
        read_subtitle_file(path)


def test_case_17_minor_items(predictions, tiny_data_dir, tmp_path, capsys, monkeypatch):
    for header, field in (({"format": "vcval-predictions", "version": 1, "split": ["val"]}, "split"),
                          ({"format": "vcval-predictions", "version": True}, "version")):
        path = write_lines(tmp_path / "h.jsonl", good_lines(), header)
        assert [p.field for p in validate_predictions(path, small_split(), small_split().videos)] == [field]

    assert main(["score", str(predictions), "--data-dir", str(tiny_data_dir), "--split", "test",
                 "--max-questions", "5"]) == 2
    assert "not in the seeded sample of 5 of the 12 questions" in _error(capsys)

    with pytest.raises(ConfigError, match="unknown: R1_nope"):
        grid_from_mapping({"systems": {"a": {}}, "metrics": ["R1_nope"]})

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["submit", "--from-run", "no-such-run", "--data-dir", str(tiny_data_dir)]) == 2
    assert "no MLflow store" in _error(capsys) and not (tmp_path / "mlflow.db").exists()

    assert main([]) == 2
    assert "usage: vcval" in capsys.readouterr().err


# --------------------------------------------------------------- the safe-output path, as properties

_names = st.text(st.characters(codec="utf-8", exclude_characters="/\\\x00"), min_size=1, max_size=20).filter(
    lambda name: name not in (".", "..", "-") and not name.startswith((".partial-",)))
_texts = st.text(max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_names, old=st.none() | _texts, new=_texts)
def test_a_write_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path, name, old, new):
    folder = tmp_path / "w"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    target = folder / name
    if old is not None:
        target.write_text(old, encoding="utf-8", newline="")
    write_text(target, new)
    assert target.read_bytes().decode("utf-8") == new
    assert [p.name for p in folder.iterdir()] == [name]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=_texts, partial=_texts)
def test_a_failed_write_leaves_the_old_file(tmp_path, old, partial):
    target = tmp_path / "out.json"
    target.write_text(old, encoding="utf-8", newline="")
    with pytest.raises(RuntimeError), open_output(target) as handle:
        handle.write(partial)
        raise RuntimeError("interrupted")
    assert target.read_bytes().decode("utf-8") == old
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spelling=st.lists(st.sampled_from([".", "sub/..", "sub/../."]), max_size=3),
       via=st.sampled_from(["path", "symlink", "hardlink"]))
def test_an_output_that_reaches_an_input_is_always_refused(tmp_path, spelling, via):
    (tmp_path / "sub").mkdir(exist_ok=True)
    source = tmp_path / "input.jsonl"
    source.write_text("x")
    name = {"path": "input.jsonl", "symlink": "link.jsonl", "hardlink": "hard.jsonl"}[via]
    for link in ("link.jsonl", "hard.jsonl"):
        (tmp_path / link).unlink(missing_ok=True)
    if via == "symlink":
        (tmp_path / name).symlink_to(source)
    elif via == "hardlink":
        (tmp_path / name).hardlink_to(source)
    output = tmp_path.joinpath(*spelling, name)
    with pytest.raises(OutputError, match="is the input"):
        check_output(output, [source])
    with pytest.raises(OutputError, match="inside the data folder"):
        check_output(tmp_path.joinpath(*spelling, "sub", "new.json"), [tmp_path / "sub"])
    assert source.read_text() == "x"


def test_a_write_keeps_the_permissions_and_follows_a_symlink(tmp_path):
    target = tmp_path / "t.json"
    target.write_text("old")
    target.chmod(0o640)
    (tmp_path / "link.json").symlink_to(target)
    write_text(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


# ---------------------------------------------------- tests that could not see these classes of bug


def test_a_zero_length_span_is_valid_and_a_reversed_one_is_not(tmp_path):
    split = small_split()
    lines = good_lines()
    lines[0]["candidates"][0].update(start=12.0, end=12.0)  # legal: the CMIVQA converter writes these
    assert validate_predictions(write_lines(tmp_path / "z.jsonl", lines), split, split.videos) == []
    lines[0]["candidates"][0].update(start=12.0, end=11.5)  # half a second backwards: no slack is allowed
    problems = validate_predictions(write_lines(tmp_path / "r.jsonl", lines), split, split.videos)
    assert [(p.qid, p.field) for p in problems] == [("q1", "candidates[0].end")]


def test_an_iou_a_few_ulps_below_a_threshold_reaches_it():
    """[0.1, 1.4] against [0.1, 2.7] is 1.3 / 2.6 = 0.5 in real numbers, 0.4999999999999999 in floats; the
    documented 1e-9 tolerance (docs/predictions.md) counts it as IoU >= 0.5."""
    assert (1.4 - 0.1) / (2.7 - 0.1) < 0.5
    metrics, _ = per_question_metrics(np.array([[0]]), np.array([[0.1]]), np.array([[1.4]]), np.array([0]),
                                      np.array([0.1]), np.array([2.7]), task="corpus")
    assert metrics["R1_IoU0.5"][0] == 100.0 and metrics["R1_IoU0.7"][0] == 0.0


def test_the_randomization_p_value_counts_the_observed_difference():
    """p = (1 + k) / (1 + n): with 40 questions all won, no resample of 999 reaches the observed mean (all
    signs equal has probability 2^-39), so k = 0 and p = 1 / 1000 exactly, never 0."""
    result = paired_test(np.ones(40), np.zeros(40), method="randomization", n_resamples=999, seed=0)
    assert result.p_value == 1 / 1000 and result.difference == 1.0
    ties = paired_test(np.zeros(10), np.zeros(10), method="randomization", n_resamples=99, seed=0)
    assert ties.p_value == 1.0  # every resample is as extreme as a zero difference: (1 + 99) / (1 + 99)
    assert math.isclose(paired_test(np.ones(40), np.zeros(40), n_resamples=9, seed=3).p_value, 0.1)


def test_convert_never_writes_nan_or_infinity(tmp_path):
    from benchmark.convert import convert

    for value in ("nan", "NaN", "1e999", "-inf", float("nan")):
        path = tmp_path / "in.json"
        path.write_text(json.dumps([{"question_id": "q", "relevant_videos": [
            {"video_id": "v", "answer_start_second": 0, "answer_end_second": 1, "relevant_score": value}]}]))
        with pytest.raises(InputError, match="finite"):
            convert("medvidqa2024", path, tmp_path / "out.jsonl")
        assert not (tmp_path / "out.jsonl").exists()


def test_train_overwrite_removes_only_what_a_training_wrote(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "ccgs"
    (out / "checkpoints").mkdir(parents=True)
    (out / "training_summary.json").write_text("{}")
    (out / "notes.md").write_text("mine")
    argv = ["train", "ccgs", "--data-dir", str(tiny_data_dir), "--encoder", "no-such-encoder", "--out", str(out),
            "--overwrite"]
    assert main(argv) == 2
    assert "notes.md" in _error(capsys) and (out / "notes.md").read_text() == "mine"
    assert (out / "training_summary.json").exists()
