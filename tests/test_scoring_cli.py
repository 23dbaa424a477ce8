"""``vcval validate / score / compare / convert`` end to end on the synthetic tiny data."""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest

from benchmark.predictions import write_predictions
from benchmark.records import Candidate, Prediction
from vcval.main import main


@pytest.fixture(scope="module")
def files(tiny_benchmark, tmp_path_factory):
    split = tiny_benchmark.split("test")
    folder = tmp_path_factory.mktemp("cli")
    oracle = [Prediction(a.qid, (Candidate(a.video_id, a.start, a.end),)) for a in split.annotations]
    shifted = [Prediction(a.qid, (Candidate(a.video_id, a.start, a.start + (a.end - a.start) / 4),))
               for a in split.annotations]
    return {"oracle": write_predictions(folder / "oracle.jsonl", oracle, {"system": "oracle", "split": "test"}),
            "shifted": write_predictions(folder / "shifted.jsonl.gz", shifted),
            "partial": write_predictions(folder / "partial.jsonl", oracle[:-1])}


def data(tiny_data_dir):
    return ["--data-dir", str(tiny_data_dir), "--split", "test"]


def test_help_of_every_scoring_command(capsys):
    for argv in (["--help"], ["validate", "--help"], ["score", "--help"], ["compare", "--help"], ["convert", "--help"]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 0
    printed = capsys.readouterr().out
    assert "95% bootstrap" in printed and "--video-rank" in printed and "--from" in printed


def test_validate_exit_codes(files, tiny_data_dir, capsys):
    assert main(["validate", str(files["oracle"]), *data(tiny_data_dir)]) == 0
    assert main(["validate", str(files["partial"]), *data(tiny_data_dir)]) == 1
    assert "have no line" in capsys.readouterr().err
    assert main(["validate", str(files["partial"]), *data(tiny_data_dir), "--allow-missing"]) == 0


def test_score_writes_json_and_per_query(files, tiny_data_dir, tmp_path, capsys):
    out, per_query = tmp_path / "score.json", tmp_path / "pq.jsonl"
    assert main(["score", str(files["shifted"]), *data(tiny_data_dir), "--bootstrap", "100", "--json", str(out),
                 "--per-query", str(per_query)]) == 0
    printed = capsys.readouterr().out
    assert "loc_mIoU" in printed and "by video length" in printed
    result = json.loads(out.read_text())
    assert result["metrics"]["loc_mIoU"] == pytest.approx(25.0) and result["metrics"]["video_R1"] == 100.0
    assert result["n_questions"] == 12 and len(result["meta"]["data_fingerprint"]) == 64
    assert len(per_query.read_text().splitlines()) == 12


class _ClosedPipe(io.StringIO):
    """Standard output read by a reader that has gone (`vcval compare ... | head -5`)."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("command", ["score", "compare"])
def test_output_files_are_written_before_the_text_a_closed_pipe_stops(command, files, tiny_data_dir, tmp_path,
                                                                      monkeypatch):
    out = tmp_path / f"{command}.json"
    inputs = [str(files["shifted"])] if command == "score" else [str(files["oracle"]), str(files["shifted"])]
    options = ["--bootstrap", "10"] if command == "score" else ["--resamples", "100"]
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    with contextlib.suppress(BrokenPipeError):  # the text after the files may or may not get that far
        main([command, *inputs, *data(tiny_data_dir), *options, "--json", str(out)])
    assert json.loads(out.read_text())["metrics"]["loc_mIoU"]


def test_score_of_an_invalid_file_is_an_error_without_traceback(files, tiny_data_dir, capsys):
    assert main(["score", str(files["partial"]), *data(tiny_data_dir)]) == 2
    err = capsys.readouterr().err
    assert "vcval score: error:" in err and "have no line" in err and "Traceback" not in err


def test_compare_prints_a_paired_table(files, tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "cmp.json"
    assert main(["compare", str(files["oracle"]), str(files["shifted"]), *data(tiny_data_dir), "--resamples", "500",
                 "--metrics", "loc_mIoU,R1_IoU0.5", "--json", str(out)]) == 0
    assert "p_holm" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["metrics"]["loc_mIoU"]["wins"] == 12 and result["metrics"]["loc_mIoU"]["p_holm"] < 0.01
    assert main(["compare", str(files["oracle"]), str(files["shifted"]), *data(tiny_data_dir), "--metrics", "nope"]) == 2


def test_convert_from_cmivqa(tmp_path, capsys):
    source = tmp_path / "run.json"
    source.write_text(json.dumps([{"id": "1", "output": [["v", 1, 2]]}]))
    assert main(["convert", "--from", "cmivqa", str(source), str(tmp_path / "out.jsonl")]) == 0
    assert "1 questions, 1 candidates, task corpus" in capsys.readouterr().out
