"""``vcval data`` from the command line: output, JSON, and errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vcval.main import main


@pytest.mark.parametrize(("argv", "usage"), [
    (["--help"], "usage: vcval "), (["data", "--help"], "usage: vcval data "),
    (["data", "describe", "--help"], "usage: vcval data describe "), (["data", "synth", "--help"], "usage: vcval data synth "),
    (["demo", "--help"], "usage: vcval demo ")])
def test_help_of_every_command(argv, usage, capsys):
    with pytest.raises(SystemExit) as stop:  # --help prints the usage and exits 0; returning is a bug
        main(argv)
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(usage)


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2 and main(["data"]) == 2
    err = capsys.readouterr().err
    assert "usage: vcval " in err and "usage: vcval data " in err


def test_describe_writes_json(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "stats.json"
    assert main(["data", "describe", "--data-dir", str(tiny_data_dir), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "validation" in printed and "fingerprint" in printed
    stats = json.loads(out.read_text())
    assert [row["questions"] for row in stats["splits"]] == [48, 12, 12, 72]
    assert stats["splits"][0]["features_coverage"] == 1.0


def test_bad_data_prints_error_without_traceback(tmp_path):
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "train.json").write_text("{not json")
    result = subprocess.run([sys.executable, "-m", "vcval", "data", "describe", "--data-dir",
                             str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "train.json, line 1: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_synth_command(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path / "s"), "--size", "tiny", "--seed", "3"]) == 0
    assert (tmp_path / "s" / "text" / "test.json").exists()
    assert "seed 3" in capsys.readouterr().out
