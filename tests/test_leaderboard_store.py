"""The submissions store: accepted entries are complete folders, invalid files leave no trace, the same
content is one entry, concurrent ``vcval submit`` processes all land."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
from dataclasses import replace

import numpy as np
import pytest

from benchmark.errors import DataError, InputError
from benchmark.predictions import PredictionsError
from benchmark.scoring import score
from leaderboard.entry import ENTRY_FILES, SubmissionInfo, read_entry
from leaderboard.store import SubmissionStore, submit_predictions
from tests.leaderboard_helpers import DEMO_SYSTEMS, populate_store, write_simulated
from vcval.main import build_parser, main


def _invalid_file(path, split, corpus):
    """A file with an unknown video, an end before its start and a question missing."""
    lines = []
    for index, annotation in enumerate(split.annotations[:-1]):
        candidate = {"video_id": annotation.video_id, "start": annotation.start, "end": annotation.end}
        if index == 0:
            candidate["video_id"] = "no-such-video"
        if index == 1:
            candidate["end"] = candidate["start"] - 1.0
        lines.append(json.dumps({"qid": annotation.qid, "candidates": [candidate]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_three_valid_one_invalid(tiny_benchmark, tmp_path):
    store_root = tmp_path / "store"
    results = populate_store(store_root, tiny_benchmark, tmp_path)
    assert [r.created for r in results] == [True, True, True]
    split = tiny_benchmark.split("test")
    bad = _invalid_file(tmp_path / "bad.jsonl", split, tiny_benchmark.corpus("test"))
    with pytest.raises(PredictionsError) as caught:
        submit_predictions(SubmissionStore(store_root), bad, tiny_benchmark, "test", SubmissionInfo("bad"))
    problems = {(p.line, p.field) for p in caught.value.problems}
    assert (1, "candidates[0].video_id") in problems
    assert (2, "candidates[0].end") in problems
    assert any(p.field == "qid" and "no line" in p.message for p in caught.value.problems)

    assert sorted(os.listdir(store_root)) == sorted(r.entry.meta.entry_id for r in results)
    entries = SubmissionStore(store_root).entries()
    assert {e.meta.name for e in entries} == {name for name, *_ in DEMO_SYSTEMS}
    for entry in entries:
        assert sorted(os.listdir(entry.path)) == sorted(ENTRY_FILES)
        assert entry.meta.data_fingerprint == tiny_benchmark.fingerprint
        assert entry.meta.split == "test" and entry.meta.task == "corpus"
        assert entry.n_questions == len(split.annotations) == len(entry.per_query.qids)
        # the stored scores are the scorer's numbers for the stored predictions
        direct = score(entry.path / "predictions.jsonl.gz", split, corpus=tiny_benchmark.corpus("test"), bootstrap=0)
        assert entry.metrics == pytest.approx(direct.metrics)
        assert np.allclose(entry.per_query.values["R1_IoU0.5"], direct.values("R1_IoU0.5"))
        low, high = entry.ci["video_R1"]
        assert low <= entry.metrics["video_R1"] <= high


def test_same_content_twice_is_one_entry(tiny_benchmark, tmp_path):
    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    plain = write_simulated(tmp_path / "p.jsonl", split, corpus, first_rate=0.5, jitter=0.3, seed=7)
    gzipped = tmp_path / "p.jsonl.gz"
    gzipped.write_bytes(gzip.compress(plain.read_bytes()))
    store = SubmissionStore(tmp_path / "store")
    first = submit_predictions(store, plain, tiny_benchmark, "test", SubmissionInfo("one"))
    second = submit_predictions(store, plain, tiny_benchmark, "test", SubmissionInfo("renamed"))
    third = submit_predictions(store, gzipped, tiny_benchmark, "test", SubmissionInfo("gzipped"))
    assert first.created and not second.created and not third.created
    assert second.entry.meta.entry_id == third.entry.meta.entry_id == first.entry.meta.entry_id
    assert second.entry.meta.name == "one"
    assert len(store.entries()) == 1
    # the same content on another split or under another protocol is a different entry
    validation = write_simulated(tmp_path / "v.jsonl", tiny_benchmark.split("val"), tiny_benchmark.corpus("val"),
                                 first_rate=0.5, jitter=0.3, seed=7)
    assert submit_predictions(store, validation, tiny_benchmark, "val", SubmissionInfo("val")).created
    assert submit_predictions(store, plain, tiny_benchmark, "test", SubmissionInfo("full"),
                              protocol="medvidcqa-full-corpus").created
    assert len(store.entries()) == 3


def test_losing_a_rename_race_keeps_the_winner(tiny_benchmark, tmp_path, monkeypatch):
    """Two writers of the same entry: the second rename fails on the existing folder and reports it."""
    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    path = write_simulated(tmp_path / "p.jsonl", split, corpus, first_rate=0.5, jitter=0.3, seed=8)
    store = SubmissionStore(tmp_path / "store")
    winner = submit_predictions(store, path, tiny_benchmark, "test", SubmissionInfo("winner"))
    monkeypatch.setattr(SubmissionStore, "get", lambda self, entry_id: None)  # both saw no entry
    loser = submit_predictions(store, path, tiny_benchmark, "test", SubmissionInfo("loser"))
    assert not loser.created and loser.entry.meta.name == "winner"
    assert os.listdir(store.root) == [winner.entry.meta.entry_id]  # no staging folder left behind


def test_name_and_entry_errors(tiny_benchmark, tmp_path):
    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    path = write_simulated(tmp_path / "p.jsonl", split, corpus, first_rate=0.5, jitter=0.3, seed=9)
    store = SubmissionStore(tmp_path / "store")
    with pytest.raises(InputError, match="non-empty name"):
        submit_predictions(store, path, tiny_benchmark, "test", SubmissionInfo("  "))
    with pytest.raises(InputError, match="no such file"):
        submit_predictions(store, tmp_path / "absent.jsonl", tiny_benchmark, "test", SubmissionInfo("x"))
    assert store.entries() == []
    entry = submit_predictions(store, path, tiny_benchmark, "test", SubmissionInfo("ok")).entry
    meta = json.loads((entry.path / "meta.json").read_text())
    meta["split"] = 3
    (entry.path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"meta\.json, field 'split': expected a string"):
        read_entry(entry.path)


def test_an_entry_scored_by_an_unknown_scorer_version_is_refused_naming_it(tiny_benchmark, tmp_path):
    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    path = write_simulated(tmp_path / "p.jsonl", split, corpus, first_rate=0.5, jitter=0.3, seed=9)
    entry = submit_predictions(SubmissionStore(tmp_path / "store"), path, tiny_benchmark, "test",
                               SubmissionInfo("ok")).entry
    scores = json.loads((entry.path / "scores.json").read_text())
    scores["meta"]["scorer_version"] = "9"
    (entry.path / "scores.json").write_text(json.dumps(scores))
    with pytest.raises(DataError, match=r"scores\.json: score report of scorer_version 9 cannot be read"):
        read_entry(entry.path)
    scores["meta"]["scorer_version"], scores["n_questions"] = "1", "12"
    (entry.path / "scores.json").write_text(json.dumps(scores))
    with pytest.raises(DataError, match=r"scores\.json: field 'n_questions' = '12': expected an integer"):
        read_entry(entry.path)


def test_meta_json_is_versioned_and_an_unknown_version_is_refused_naming_it(tiny_benchmark, tmp_path):
    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    path = write_simulated(tmp_path / "p.jsonl", split, corpus, first_rate=0.5, jitter=0.3, seed=9)
    entry = submit_predictions(SubmissionStore(tmp_path / "store"), path, tiny_benchmark, "test",
                               SubmissionInfo("ok")).entry
    meta_path = entry.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["schema_version"] == 1
    del meta["schema_version"]  # an entry written before the version existed reads as version 1
    meta_path.write_text(json.dumps(meta))
    assert read_entry(entry.path).meta.name == "ok"
    meta["schema_version"] = 2
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"meta\.json, field 'schema_version': meta\.json schema_version 2 cannot be read"):
        read_entry(entry.path)


def _submit_in_child(barrier, argv, results) -> None:
    """A forked process that waits for its siblings, then runs ``vcval submit`` (the CLI's main)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    barrier.wait(timeout=60)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results.put((argv[argv.index("--name") + 1], code, out.getvalue(), err.getvalue()))


def test_eight_concurrent_submit_processes(tiny_data_dir, tiny_benchmark, tmp_path):
    """Eight processes (forked, so the suite's imports are paid once) start ``vcval submit`` at the same
    instant on different files; all land, nothing is half-written, every entry reads back whole."""
    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    files = [write_simulated(tmp_path / f"p{i}.jsonl", split, corpus, first_rate=0.1 * i, jitter=0.2, seed=100 + i)
             for i in range(8)]
    store_root = tmp_path / "store"
    build_parser()  # import every command module once, before forking
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(len(files)), context.Queue()
    processes = [context.Process(target=_submit_in_child, args=(barrier, [
        "submit", str(path), "--data-dir", str(tiny_data_dir), "--split", "test", "--name", f"system {i}",
        "--store", str(store_root)], results)) for i, path in enumerate(files)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=240) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    for name, code, out, err in reports:
        assert code == 0, f"{name}: {err}"
        assert "stored entry" in out
    entries = SubmissionStore(store_root).entries()
    assert sorted(e.meta.name for e in entries) == [f"system {i}" for i in range(8)]
    assert not [name for name in os.listdir(store_root) if name.startswith(".")]
    for entry in entries:
        assert len(entry.per_query.qids) == entry.n_questions == len(split.annotations)


def test_cli_rejects_invalid_file_and_leaves_store_untouched(tiny_data_dir, tiny_benchmark, tmp_path, capsys):
    bad = _invalid_file(tmp_path / "bad.jsonl", tiny_benchmark.split("test"), tiny_benchmark.corpus("test"))
    store_root = tmp_path / "store"
    code = main(["submit", str(bad), "--data-dir", str(tiny_data_dir), "--split", "test", "--name", "bad",
                 "--store", str(store_root)])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 1, qid" in err and "candidates[0].video_id" in err and "unknown video 'no-such-video'" in err
    assert not store_root.exists() or os.listdir(store_root) == []


def test_stale_staging_folders_are_removed_at_the_next_submit(tiny_benchmark, tmp_path):
    """A submit killed after writing its staging folder leaves it behind; the next submit removes it once
    it is an hour old, unless a running submit holds its lock."""
    import fcntl
    import time

    root = tmp_path / "store"
    root.mkdir()
    old = time.time() - 2 * 3600
    folders = {}
    for name in ("killed", "still-writing", "recent"):
        folder = root / f".staging-{name}-x1"
        folder.mkdir()
        (folder / "meta.json").write_text("{}")
        if name != "recent":
            os.utime(folder, (old, old))
        folders[name] = folder
    lock = os.open(folders["still-writing"], os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        split = tiny_benchmark.split("test")
        path = write_simulated(tmp_path / "p.jsonl", split, tiny_benchmark.corpus("test"), first_rate=0.5,
                               jitter=0.5, seed=0)
        assert submit_predictions(SubmissionStore(root), path, tiny_benchmark, "test", SubmissionInfo("x")).created
    finally:
        os.close(lock)
    assert not folders["killed"].exists()
    assert folders["still-writing"].exists() and folders["recent"].exists()


def test_a_junk_folder_is_skipped_with_a_warning_unless_strict(tiny_benchmark, tmp_path, capsys):
    root = tmp_path / "store"
    populate_store(root, tiny_benchmark, tmp_path)
    (root / "junk").mkdir()
    (root / "junk" / "notes.txt").write_text("not an entry")
    out = tmp_path / "site"
    assert main(["leaderboard", "--store", str(root), "--out", str(out), "--no-plots"]) == 0
    captured = capsys.readouterr()
    assert f"WARNING: skipping {root / 'junk'}, which is not a readable entry: {root / 'junk' / 'meta.json'}: missing" \
        in captured.err
    assert captured.out.startswith(f"{len(DEMO_SYSTEMS)} entries in 1 comparable group(s)")
    assert main(["leaderboard", "--store", str(root), "--out", str(out), "--no-plots", "--strict"]) == 2
    assert f"vcval leaderboard: error: {root / 'junk' / 'meta.json'}: missing" in capsys.readouterr().err


def test_an_entry_whose_predictions_were_edited_is_not_published(tiny_benchmark, tmp_path, capsys):
    root = tmp_path / "store"
    results = populate_store(root, tiny_benchmark, tmp_path)
    edited = results[0].entry.path / "predictions.jsonl.gz"
    other = results[1].entry.path / "predictions.jsonl.gz"
    edited.write_bytes(other.read_bytes())  # the numbers in scores.json are no longer those of the file
    with pytest.raises(DataError, match="predictions.jsonl.gz: does not match the entry's meta.json"):
        SubmissionStore(root).entries()
    assert len(SubmissionStore(root).entries(strict=False)) == len(DEMO_SYSTEMS) - 1
    assert f"skipping {results[0].entry.path}" in capsys.readouterr().err


# ------------------------------------------------------------------ refusals, exactly (docs/mutation.md)


def _one_entry(tiny_benchmark, tmp_path):
    split = tiny_benchmark.split("test")
    path = write_simulated(tmp_path / "p.jsonl", split, tiny_benchmark.corpus("test"), first_rate=0.5, jitter=0.5,
                           seed=0)
    return submit_predictions(SubmissionStore(tmp_path / "store"), path, tiny_benchmark, "test",
                              SubmissionInfo("x")).entry


@pytest.mark.parametrize("meta", [{"scorer_version": "1"}, "not an object"])
def test_an_entry_without_scoring_options_cannot_be_rescored_naming_the_field(tiny_benchmark, tmp_path, meta):
    from leaderboard.store import rescore_check

    entry = _one_entry(tiny_benchmark, tmp_path)
    scores_path = entry.path / "scores.json"
    edited = replace(entry, scores=entry.scores | {"meta": meta})  # read_entry itself refuses a meta not an object
    with pytest.raises(DataError) as error:
        rescore_check(edited, tiny_benchmark)
    assert (error.value.path, error.value.field) == (str(scores_path), "meta.options")
    assert error.value.message == "no scoring options recorded, so the entry cannot be re-scored"


def test_a_store_error_names_the_file_only_when_there_is_one(tmp_path):
    from leaderboard.store import StoreError

    with_file = StoreError(tmp_path, PermissionError(13, "Permission denied", "/store/x"))
    assert str(with_file) == f"cannot write to the submissions store {tmp_path}: Permission denied (/store/x); " \
                             "nothing was stored"
    without = StoreError(tmp_path, OSError(28, "No space left on device"))
    assert str(without) == f"cannot write to the submissions store {tmp_path}: No space left on device; nothing was stored"
