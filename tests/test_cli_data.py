"""``vcval data`` from the command line: output, JSON, and errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmark.cli.main import main


def test_help_of_every_command(capsys):
    for argv in (["--help"], ["data", "--help"], ["data", "describe", "--help"], ["data", "synth", "--help"],
                 ["demo", "--help"]):
        try:
            main(argv)
        except SystemExit as stop:
            assert stop.code == 0
    assert "describe" in capsys.readouterr().out


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
    result = subprocess.run([sys.executable, "-m", "benchmark.cli.main", "data", "describe", "--data-dir",
                             str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "train.json, line 1: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_synth_command(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path / "s"), "--size", "tiny", "--seed", "3"]) == 0
    assert (tmp_path / "s" / "text" / "test.json").exists()
    assert "seed 3" in capsys.readouterr().out
