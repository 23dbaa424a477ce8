"""End to end: ``vcval demo`` generates data, runs systems under one protocol, tracks them, publishes
them and renders the leaderboard (a subset of the systems on 'tiny', to keep the suite fast)."""

from __future__ import annotations

import json

from vcval.main import main


def test_demo_runs_tracks_publishes_and_renders(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "tiny", "--systems", "random,bm25+window,oracle+window"]) == 0
    printed = capsys.readouterr().out
    assert "Synthetic numbers are not MedVidCQA results" in printed
    for system in ("random", "bm25-window", "oracle-window"):
        scores = json.loads((out / "runs" / system / "scores.json").read_text())
        assert 0.0 <= scores["metrics"]["loc_mIoU"] <= 100.0
    board = (out / "leaderboard" / "leaderboard.md").read_text()
    assert "| random |" in board and "bm25\\+window" in board and "oracle\\+window" in board  # Markdown-escaped
    assert "synthetic-tiny test" in board
    assert list((out / "leaderboard").rglob("*.png")) and (out / "leaderboard" / "leaderboard.html").exists()
    assert (out / "mlflow.db").exists() and list((out / "mlruns").rglob("scores.json"))
    assert [path.name for path in tmp_path.iterdir()] == ["demo"]  # nothing outside --out, MLflow's artifacts included
    assert len([p for p in (out / "submissions").iterdir() if p.is_dir()]) == 3


def test_demo_refuses_unknown_systems(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--size", "tiny", "--systems", "nonsense"]) == 2
    assert "nonsense not in the demo" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()
