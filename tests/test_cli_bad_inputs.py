"""Inputs that once ended in a traceback: each now gives one clear message and exit status 2, with
nothing written (issue 13, part 5). ``vcval validate`` reports an unreadable line as a problem of the file
and keeps its own status for an invalid file (1)."""

from __future__ import annotations

import builtins
import errno
import json
import shutil
from pathlib import Path

import pytest

from vcval.main import main

DEEP_LINE = '{"qid": "1", "candidates": ' + "[" * 100_000 + "]" * 100_000 + "}\n"


def _data(tiny_data_dir) -> list[str]:
    return ["--data-dir", str(tiny_data_dir), "--split", "test"]


def _good_lines(tiny_benchmark) -> list[str]:
    split = tiny_benchmark.split("test")
    return [json.dumps({"qid": a.qid, "candidates": [{"video_id": a.video_id, "start": 0.0, "end": 5.0}]})
            for a in split.annotations]


def _fails_cleanly(capsys, argv, message, status=2) -> str:
    assert main(argv) == status
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err + captured.out
    return captured.err


@pytest.mark.parametrize("case", ["deep", "long-integer"])
def test_unreadable_prediction_lines(tiny_data_dir, tiny_benchmark, tmp_path, capsys, case):
    lines = _good_lines(tiny_benchmark)
    if case == "deep":
        lines[0], message = DEEP_LINE.strip(), "line 1: nested too deeply to be read"
    else:
        lines[0] = lines[0].replace('"end": 5.0', '"end": ' + "9" * 5000)
        message = "line 1: not readable JSON (Exceeds the limit (4300 digits) for integer string conversion"
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n")
    store = tmp_path / "store"
    _fails_cleanly(capsys, ["validate", str(path), *_data(tiny_data_dir)], message, status=1)
    _fails_cleanly(capsys, ["score", str(path), *_data(tiny_data_dir)], message)
    _fails_cleanly(capsys, ["submit", str(path), *_data(tiny_data_dir), "--name", "x", "--store", str(store)], message)
    assert not store.exists()


def test_a_folder_or_an_unreadable_file_as_predictions(tiny_data_dir, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "p.jsonl"
    folder.mkdir()
    store = tmp_path / "store"
    for command in (["validate"], ["score"], ["submit", "--name", "x", "--store", str(store)]):
        _fails_cleanly(capsys, [command[0], str(folder), *_data(tiny_data_dir), *command[1:]],
                       f"{folder}: a folder, not a predictions file")
    locked = tmp_path / "locked.jsonl"
    locked.write_text("{}\n")
    real_open = builtins.open

    def no_permission(file, *args, **kwargs):  # what a non-root user meets on a file without read permission
        if str(file) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_permission)
    for command in (["validate"], ["score"], ["submit", "--name", "x", "--store", str(store)]):
        _fails_cleanly(capsys, [command[0], str(locked), *_data(tiny_data_dir), *command[1:]],
                       f"{locked}: cannot be read: Permission denied")
    assert not store.exists()


@pytest.mark.parametrize("content, message", [
    ("[]", "text/test.json: holds no question records (an empty list): every split needs at least one question"),
    ("[" * 100_000 + "]" * 100_000, "text/test.json: nested too deeply to be read"),
    (None, "text/test.json, record 0: holds a lone UTF-16 surrogate"),
], ids=["empty", "deep", "surrogate"])
def test_data_files_that_cannot_be_read(tiny_data_dir, tmp_path, capsys, content, message):
    folder = tmp_path / "data"
    shutil.copytree(tiny_data_dir, folder)
    test_file = folder / "text" / "test.json"
    if content is None:
        content = test_file.read_text().replace('"question": "', '"question": "\\ud800', 1)
    test_file.write_text(content)
    _fails_cleanly(capsys, ["data", "describe", "--data-dir", str(folder)], message)


@pytest.mark.parametrize("failure", ["read-only", "full"])
def test_a_store_that_cannot_be_written(tiny_data_dir, tiny_benchmark, tmp_path, capsys, monkeypatch, failure):
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(_good_lines(tiny_benchmark)) + "\n")
    store = tmp_path / "store"
    if failure == "read-only":  # permissions do not stop root, so a store whose folder cannot be made
        store = tmp_path / "a-file" / "store"
        store.parent.write_text("")
        message = f"cannot write to the submissions store {store}: "
    else:
        def disk_full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr("leaderboard.store.write_per_query", disk_full)
        message = f"cannot write to the submissions store {store}: No space left on device; nothing was stored"
    _fails_cleanly(capsys, ["submit", str(path), *_data(tiny_data_dir), "--name", "x", "--store", str(store)], message)
    assert not store.exists() or list(Path(store).iterdir()) == []  # no entry and no staging folder left
