"""The submissions store: accepted entries are complete folders, invalid files leave no trace, the same
content is one entry, concurrent ``vcval submit`` processes all land."""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing
import os
from dataclasses import replace

import numpy as np
import pytest

import leaderboard.store
from benchmark.errors import DataError, InputError
from benchmark.hashing import file_sha256
from benchmark.predictions import PredictionsError
from benchmark.scoring import score
from leaderboard.entry import ENTRY_FILES, PerQuery, SubmissionInfo, read_entry
from leaderboard.store import (
    SubmissionStore,
    _content_sha256,
    publish_run,
    read_checked_entry,
    rescore_check,
    submit_predictions,
)
from tests.leaderboard_helpers import DEMO_SYSTEMS, fake_run, populate_store, write_simulated
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
    assert loser.created is False and loser.entry.meta.name == "winner"
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


def _refusal(folder):
    """The (path, field, message) of the DataError that :func:`read_checked_entry` raises for ``folder``."""
    with pytest.raises(DataError) as error:
        read_checked_entry(folder)
    return error.value.path, error.value.field, error.value.message


def _rewrite_meta(folder, **changes):
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps(meta | changes))


def _rewrite_per_query(path, edit):
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    path.write_bytes(gzip.compress("".join(json.dumps(row) + "\n" for row in edit(rows)).encode()))


def test_read_checked_entry_refuses_a_renamed_folder_or_missing_predictions_naming_the_file(tiny_benchmark, tmp_path):
    entry = _one_entry(tiny_benchmark, tmp_path)
    assert read_checked_entry(entry.path).per_query.qids.tolist() == entry.per_query.qids.tolist()
    renamed = entry.path.rename(entry.path.parent / ("0" * 20))
    assert _refusal(renamed) == (str(renamed), None, f"the folder is not named after the entry id "
                                 f"{entry.meta.entry_id!r} that meta.json records")
    folder = renamed.rename(entry.path)
    (folder / "predictions.jsonl.gz").unlink()
    assert _refusal(folder) == (str(folder / "predictions.jsonl.gz"), None, "missing")
    (folder / "predictions.jsonl.gz").mkdir()  # not a file
    assert _refusal(folder) == (str(folder / "predictions.jsonl.gz"), None, "missing")


def test_read_checked_entry_refuses_edited_files_naming_each(tiny_benchmark, tmp_path):
    entry = _one_entry(tiny_benchmark, tmp_path)
    folder, original = entry.path, {name: (entry.path / name).read_bytes() for name in ENTRY_FILES}

    def restore():
        for name, data in original.items():
            (folder / name).write_bytes(data)

    predictions = folder / "predictions.jsonl.gz"
    predictions.write_bytes(gzip.compress(gzip.decompress(original["predictions.jsonl.gz"]) + b"\n"))
    assert _refusal(folder) == (str(predictions), None, "does not match the entry's meta.json (predictions_sha256 "
                                "differs): the entry was edited")
    # the predictions and their hash in meta.json edited together: scores.json was scored for other content
    _rewrite_meta(folder, predictions_sha256=hashlib.sha256(gzip.decompress(predictions.read_bytes())).hexdigest())
    assert _refusal(folder) == (str(folder / "scores.json"), None,
                                "scores.json was computed for other predictions (content_sha256 differs)")
    restore()
    (folder / "scores.json").write_bytes(original["scores.json"] + b" ")
    assert _refusal(folder) == (str(folder / "scores.json"), None, "does not match the entry's meta.json "
                                "(scores_sha256 differs): the scores were edited")
    restore()
    per_query = folder / "per_query.jsonl.gz"
    _rewrite_per_query(per_query, lambda rows: rows[::-1])  # the same rows in another order: other content
    assert _refusal(folder) == (str(per_query), None, "does not match the entry's meta.json (per_query_sha256 "
                                "differs): the values were edited")


def test_an_entry_without_a_content_hash_in_its_scores_is_read(tiny_benchmark, tmp_path):
    """Scores written before ``content_sha256`` was recorded (and before meta.json recorded their hash)."""
    entry = _one_entry(tiny_benchmark, tmp_path)
    scores = json.loads((entry.path / "scores.json").read_text())
    del scores["meta"]["content_sha256"]
    (entry.path / "scores.json").write_text(json.dumps(scores))
    _rewrite_meta(entry.path, scores_sha256="")
    assert read_checked_entry(entry.path).metrics == entry.metrics


def test_read_checked_entry_checks_the_values_of_an_old_entry_naming_file_and_field(tiny_benchmark, tmp_path):
    """An entry written before meta.json recorded the hashes of its scores is still checked for consistency."""
    entry = _one_entry(tiny_benchmark, tmp_path)
    folder, per_query = entry.path, entry.path / "per_query.jsonl.gz"
    _rewrite_meta(folder, scores_sha256="", per_query_sha256="")
    original = per_query.read_bytes()
    _rewrite_per_query(per_query, lambda rows: rows[::-1])  # another order is the same values
    assert read_checked_entry(folder).metrics == entry.metrics
    _rewrite_per_query(per_query, lambda rows: rows[1:])
    assert _refusal(folder) == (str(per_query), None, "11 per-question rows for the 12 questions scores.json reports")

    def set_first(key, value):
        per_query.write_bytes(original)
        _rewrite_per_query(per_query, lambda rows: [rows[0] | {key: value}, *rows[1:]])

    for value in (100.5, -0.5, float("nan")):
        set_first("video_R5", value)
        assert _refusal(folder) == (str(per_query), "video_R5", "expected finite percentages for every question")
    # video_R5 is 91.67 = 11/12: one question more or less moves the mean by 8.33
    set_first("video_R5", 0.0 if entry.per_query.values["video_R5"][0] else 100.0)
    path, field, message = _refusal(folder)
    assert (path, field) == (str(folder / "scores.json"), "metrics.video_R5")
    assert message in ("scores.json reports 91.6667, but the mean of the per-question values is 83.3333",
                       "scores.json reports 91.6667, but the mean of the per-question values is 100")
    # a per-question value off by less than the tolerance, and the boundary values 0 and 100, are accepted
    rows = [json.loads(line) for line in gzip.decompress(original).decode().splitlines()]
    assert {row["R1_IoU0.5"] for row in rows} == {0.0, 100.0}
    set_first("R1_mIoU", rows[0]["R1_mIoU"] + 12 * 5e-7)
    assert read_checked_entry(folder).metrics == entry.metrics


def _with_options(entry, **changes):
    """``entry`` as if its scores.json recorded other scoring options (None removes one)."""
    options = {key: value for key, value in (entry.scores["meta"]["options"] | changes).items() if value is not None}
    return replace(entry, scores=entry.scores | {"meta": entry.scores["meta"] | {"options": options}})


def test_rescore_check_refuses_options_out_of_range_naming_the_field(tiny_benchmark, tmp_path):
    entry = _one_entry(tiny_benchmark, tmp_path)
    scores_path = str(entry.path / "scores.json")
    cases = [("bootstrap", value, "expected an integer from 0 to 100000") for value in (-1, 100_001, True, "10", None)]
    cases += [("seed", value, f"expected an integer from 0 to {2**63 - 1}") for value in (-1, 2**63, False, 1.0)]
    for name, value, message in cases:
        with pytest.raises(DataError) as error:
            rescore_check(_with_options(entry, **{name: value}), tiny_benchmark)
        assert (error.value.path, error.value.field, error.value.message) == (scores_path, f"meta.options.{name}",
                                                                               message), (name, value)
    with pytest.raises(DataError) as error:
        rescore_check(_with_options(entry, task="localization"), tiny_benchmark)
    assert (error.value.path, error.value.field, error.value.message) == (
        scores_path, "meta.options.task", "the scoring task 'localization' is not the entry's task 'corpus'")
    with pytest.raises(DataError) as error:
        rescore_check(_with_options(entry, task=None), tiny_benchmark)
    assert error.value.message == "the scoring task None is not the entry's task 'corpus'"


def test_rescore_check_accepts_the_stored_scores_and_the_bounds_of_its_options(tiny_benchmark, tmp_path):
    entry = _one_entry(tiny_benchmark, tmp_path)
    assert rescore_check(entry, tiny_benchmark) is None
    # no intervals (bootstrap 0) are compared with none; the largest seed; video_rank and allow_missing default
    # to the scorer's ("distinct", False)
    plain = _with_options(entry, bootstrap=0, seed=2**63 - 1, video_rank=None, allow_missing=None)
    assert rescore_check(plain, tiny_benchmark) is None
    with pytest.raises(DataError) as error:
        rescore_check(_with_options(entry, video_rank="dense"), tiny_benchmark)
    assert error.value.path == str(entry.path) and error.value.message.startswith("cannot be re-scored: ")
    # allow_missing is passed on: without it, an entry scored on a file that left questions out cannot be re-scored
    (entry.path / "predictions.jsonl.gz").write_bytes(gzip.compress(b"\n".join(
        gzip.decompress((entry.path / "predictions.jsonl.gz").read_bytes()).splitlines()[:-1]) + b"\n"))
    with pytest.raises(DataError, match="cannot be re-scored: "):
        rescore_check(plain, tiny_benchmark)
    with pytest.raises(DataError, match="re-scored from its predictions, "):
        rescore_check(_with_options(plain, allow_missing=True), tiny_benchmark)


def test_rescore_check_names_the_first_difference(tiny_benchmark, tmp_path):
    """Each edit of the stored numbers that no hash catches (an entry can be hand-made whole) is named."""
    entry = _one_entry(tiny_benchmark, tmp_path)
    scores_path = str(entry.path / "scores.json")

    def difference(edited):
        with pytest.raises(DataError) as error:
            rescore_check(edited, tiny_benchmark)
        assert error.value.path == scores_path
        prefix, suffix = "re-scored from its predictions, ", ": the entry's scores were edited"
        assert error.value.message.startswith(prefix) and error.value.message.endswith(suffix)
        return error.value.message[len(prefix):-len(suffix)]

    metrics = dict(entry.metrics)
    del metrics["loc_mIoU"]
    assert difference(replace(entry, metrics=metrics)) == f"the metrics are {sorted(entry.metrics)}, not those stored"
    assert difference(replace(entry, metrics=entry.metrics | {"R1_IoU0.5": 25.5})) == "R1_IoU0.5 is 25, not the " \
                                                                                       "25.5 stored"
    # within the tolerance (1e-6) is the same number; so is a missing or an unbounded stored interval
    near = entry.metrics | {"R1_IoU0.5": 25.0 + 5e-7}
    assert rescore_check(replace(entry, metrics=near), tiny_benchmark) is None
    ci = {key: value for key, value in entry.ci.items() if key != "R1_IoU0.5"}
    assert rescore_check(replace(entry, ci=ci), tiny_benchmark) is None
    assert difference(replace(entry, ci=entry.ci | {"R1_IoU0.5": (0.0, 51.0)})) == \
        "the interval of R1_IoU0.5 is [0, 50], not the stored [0, 51]"
    assert difference(replace(entry, ci=entry.ci | {"R1_IoU0.5": (1.0, 50.0)})) == \
        "the interval of R1_IoU0.5 is [0, 50], not the stored [1, 50]"
    assert rescore_check(replace(entry, ci=entry.ci | {"R1_IoU0.5": (5e-7, 50.0 - 5e-7)}), tiny_benchmark) is None

    per_query = entry.per_query
    order = np.arange(len(per_query.qids))[::-1]  # the same rows in another order
    reordered = PerQuery(per_query.qids[order], {key: values[order] for key, values in per_query.values.items()})
    assert rescore_check(replace(entry, preloaded=reordered), tiny_benchmark) is None
    renamed = PerQuery(np.array(["other", *per_query.qids[1:]]), per_query.values)
    assert difference(replace(entry, preloaded=renamed)) == "the per-question rows are for other questions"
    values = dict(per_query.values)
    values["R1_IoU0.5"] = 100.0 - values["R1_IoU0.5"]
    assert difference(replace(entry, preloaded=PerQuery(per_query.qids, values))) == \
        "the per-question values of R1_IoU0.5 differ"
    # a metric without stored per-question values is not compared
    values = {key: value for key, value in per_query.values.items() if key != "R1_IoU0.5"}
    assert rescore_check(replace(entry, preloaded=PerQuery(per_query.qids, values)), tiny_benchmark) is None


def test_publish_run_stores_the_run_under_its_own_protocol(tiny_benchmark, tmp_path):
    run_dir = fake_run(tmp_path / "runs" / "bm25-3", tiny_benchmark, system="bm25", seed=3, first_rate=0.5,
                       jitter=0.3, split="val")
    store = SubmissionStore(tmp_path / "store")
    result = publish_run(store, run_dir, tiny_benchmark, SubmissionInfo("BM25 (run)", authors="A. B."))
    assert result.created
    meta = result.entry.meta
    assert (meta.name, meta.authors, meta.split, meta.protocol) == ("BM25 (run)", "A. B.", "validation",
                                                                    "medvidcqa-paper")
    assert meta.source == f"run:{run_dir.resolve()}"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert meta.protocol_hash == manifest["protocol_hash"]
    assert meta.predictions_sha256 == file_sha256(run_dir / "predictions.jsonl")
    run_scores = json.loads((run_dir / "scores.json").read_text())
    assert result.entry.metrics == pytest.approx(run_scores["metrics"])
    with pytest.raises(DataError, match="not a run folder"):
        publish_run(store, tmp_path, tiny_benchmark, SubmissionInfo("x"))


def test_a_gzipped_submission_is_stored_as_sent_and_a_plain_one_gzipped_without_a_timestamp(tiny_benchmark, tmp_path):
    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    plain = write_simulated(tmp_path / "p.jsonl", split, corpus, first_rate=0.5, jitter=0.3, seed=11)
    packed = tmp_path / "q.jsonl.gz"
    packed.write_bytes(gzip.compress(write_simulated(tmp_path / "q.jsonl", split, corpus, first_rate=0.4, jitter=0.3,
                                                     seed=12).read_bytes(), mtime=7))
    store = SubmissionStore(tmp_path / "deep" / "er" / "store")  # its parents are made too
    from_plain = submit_predictions(store, plain, tiny_benchmark, "test", SubmissionInfo("plain")).entry
    from_packed = submit_predictions(store, packed, tiny_benchmark, "test", SubmissionInfo("packed")).entry
    assert (from_packed.path / "predictions.jsonl.gz").read_bytes() == packed.read_bytes()
    stored = (from_plain.path / "predictions.jsonl.gz").read_bytes()
    assert stored[:2] == b"\x1f\x8b" and stored[4:8] == b"\0\0\0\0"  # gzip, modification time 0
    assert gzip.decompress(stored) == plain.read_bytes()
    assert {e.meta.name for e in store.entries()} == {"plain", "packed"}
    for entry in (from_plain, from_packed):
        assert read_checked_entry(entry.path).meta == entry.meta
        assert os.stat(entry.path).st_mode & 0o777 == 0o755


def test_unreadable_stored_predictions_are_damage_to_the_entry(tiny_benchmark, tmp_path):
    entry = _one_entry(tiny_benchmark, tmp_path)
    stored = entry.path / "predictions.jsonl.gz"
    stored.write_bytes(stored.read_bytes()[:40])  # truncated
    path, field, message = _refusal(entry.path)
    assert (path, field) == (str(stored), None) and message.startswith("cannot be read: ")


def test_get_and_add_by_entry_id(tiny_benchmark, tmp_path):
    entry = _one_entry(tiny_benchmark, tmp_path)
    store = SubmissionStore(tmp_path / "store")
    assert store.get(entry.meta.entry_id).meta == entry.meta
    for other in ("0" * 20, "../store", entry.meta.entry_id.upper(), 123, None):
        assert store.get(other) is None
    again = store.add(entry.meta.entry_id, entry.meta, None, None)  # an existing entry wins, unread and unwritten
    assert again.created is False and again.entry.meta == entry.meta and again.entry.path == entry.path
    for entry_id in ("0" * 20, "not-an-id", 7):
        with pytest.raises(InputError) as error:
            store.add(entry_id, entry.meta, None, None)
        assert error.value.field == "entry_id"
        assert error.value.message == f"an entry id is 20 hex digits, the one meta.json records; got {str(entry_id)!r}"


def test_add_writes_into_a_staging_folder_of_the_store(tiny_benchmark, tmp_path, monkeypatch):
    split = tiny_benchmark.split("test")
    path = write_simulated(tmp_path / "p.jsonl", split, tiny_benchmark.corpus("test"), first_rate=0.5, jitter=0.5,
                           seed=13)
    store = SubmissionStore(tmp_path / "store")
    seen, write = [], SubmissionStore._write
    monkeypatch.setattr(SubmissionStore, "_write", staticmethod(lambda staging, *rest: (seen.append(staging),
                                                                                        write(staging, *rest))))
    result = submit_predictions(store, path, tiny_benchmark, "test", SubmissionInfo("Café – ünïcode"))
    (staging,) = seen
    assert staging.parent == store.root and staging.name.startswith(f".staging-{result.entry.meta.entry_id}-")
    assert not staging.exists()
    assert '"name": "Café – ünïcode"' in (result.entry.path / "meta.json").read_text(encoding="utf-8")


def test_a_report_without_intervals_is_stored(tiny_benchmark, tmp_path):
    """bootstrap 0: the intervals are NaN, which scores.json holds (as JSON's NaN)."""
    entry = _one_entry(tiny_benchmark, tmp_path)
    split = tiny_benchmark.split("test")
    report = score(entry.path / "predictions.jsonl.gz", split, bootstrap=0)
    store = SubmissionStore(tmp_path / "other")
    stored = store.add(entry.meta.entry_id, entry.meta, report, entry.path / "predictions.jsonl.gz")
    assert stored.created and "NaN" in (stored.entry.path / "scores.json").read_text()


def test_stale_staging_is_removed_from_exactly_its_age(tmp_path, monkeypatch):
    import types

    root = tmp_path / "store"
    root.mkdir()
    now = 2_000_000_000.0
    folders = {age: root / f".staging-{age}" for age in (3600, 3599)}
    for age, folder in folders.items():
        folder.mkdir()
        os.utime(folder, (now - age, now - age))
    (root / ".staging-a-file").write_text("not a folder")
    monkeypatch.setattr("leaderboard.store.time", types.SimpleNamespace(time=lambda: now))
    assert SubmissionStore(root).remove_stale_staging() == [folders[3600]]
    assert folders[3599].exists() and (root / ".staging-a-file").exists()


def test_entries_skip_files_and_dot_folders_and_re_score_on_their_data(tiny_benchmark, tmp_path):
    entry = _one_entry(tiny_benchmark, tmp_path)
    store = SubmissionStore(tmp_path / "store")
    (store.root / "README").write_text("not an entry")
    (store.root / ".staging-x").mkdir()
    assert [e.meta for e in store.entries()] == [entry.meta]
    # scores.json edited together with its hash in meta.json: only a re-scoring on the entry's data finds it
    scores_path = entry.path / "scores.json"
    scores = json.loads(scores_path.read_text())
    ci = scores["ci"]["R1_IoU0.5"]
    scores["ci"]["R1_IoU0.5"] = [ci[0], ci[1] + 1.0]
    scores_path.write_text(json.dumps(scores))
    _rewrite_meta(entry.path, scores_sha256=file_sha256(scores_path))
    assert [e.meta.entry_id for e in store.entries()] == [entry.meta.entry_id]
    with pytest.raises(DataError, match=r"scores\.json: re-scored from its predictions, the interval of R1_IoU0\.5"):
        store.entries(data=tiny_benchmark)


def test_an_entry_without_score_hashes_needs_the_data_when_strict(tiny_benchmark, tmp_path, capsys):
    entry = _one_entry(tiny_benchmark, tmp_path)
    store = SubmissionStore(tmp_path / "store")
    _rewrite_meta(entry.path, scores_sha256="", per_query_sha256="")
    with pytest.raises(DataError) as error:
        store.entries()
    assert str(error.value) == f"{entry.path}: was written before entries recorded the sha256 of their scores, so " \
                               "its scores cannot be checked without the data: give --data-dir to re-score it"
    assert [e.meta.name for e in store.entries(strict=False)] == ["x"]
    assert capsys.readouterr().err == f"WARNING: entry {entry.path} was written before entries recorded the sha256 " \
                                      "of their scores: shown unverified (`vcval leaderboard --strict --data-dir` " \
                                      "re-scores it)\n"
    assert [e.meta.name for e in store.entries(data=tiny_benchmark)] == ["x"]
    assert capsys.readouterr().err == ""


def test_a_file_validated_by_the_caller_is_stored_with_its_provenance(tiny_benchmark, tmp_path):
    """The server validates before it reserves a quota slot and passes the loaded file on."""
    from benchmark.predictions import check_predictions, load_predictions

    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    path = write_simulated(tmp_path / "p.jsonl", split, corpus, first_rate=0.5, jitter=0.3, seed=14)
    store = SubmissionStore(tmp_path / "store")
    bad = _invalid_file(tmp_path / "bad.jsonl", split, corpus)
    loaded_bad = load_predictions(bad, split, corpus, task="corpus")
    with pytest.raises(PredictionsError) as error:
        submit_predictions(store, bad, tiny_benchmark, "test", SubmissionInfo("bad"), validated=loaded_bad)
    assert error.value.problems == loaded_bad.problems and not store.root.exists()
    loaded = check_predictions(path, split, corpus, task="corpus")
    entry = submit_predictions(store, path, tiny_benchmark, "test", SubmissionInfo("ok"), validated=loaded).entry
    meta = entry.scores["meta"]
    assert (meta["dataset"], meta["data_fingerprint"], meta["protocol"], meta["protocol_hash"]) == (
        tiny_benchmark.name, tiny_benchmark.fingerprint, entry.meta.protocol, entry.meta.protocol_hash)
    assert meta["options"]["task"] == "corpus" and meta["options"]["bootstrap"] == 1000
    assert entry.metrics == pytest.approx(score(path, split, bootstrap=0).metrics)


def test_the_content_hash_refuses_a_folder_and_admits_exactly_its_size_limit(tmp_path):
    with pytest.raises(InputError) as caught:
        _content_sha256(tmp_path)
    assert (caught.value.message, caught.value.path) == ("a folder, not a predictions file", str(tmp_path))
    content = b'{"qid": "q1", "candidates": []}\n'
    plain, packed = tmp_path / "p.jsonl", tmp_path / "p.jsonl.gz"
    plain.write_bytes(content)
    packed.write_bytes(gzip.compress(content))
    for path in (plain, packed):
        assert _content_sha256(path, max_bytes=len(content)) == hashlib.sha256(content).hexdigest()
        with pytest.raises(InputError) as caught:
            _content_sha256(path, max_bytes=len(content) - 1)
        assert (caught.value.message, caught.value.path) == (
            f"larger than {len(content) - 1} bytes (after decompression)", str(path))


def test_the_content_hash_counts_every_block_and_names_what_it_cannot_read(tmp_path, monkeypatch):
    big = tmp_path / "big.jsonl"
    big.write_bytes(b" " * (3 << 19))  # one and a half blocks of 1 MiB
    with pytest.raises(InputError, match=r"^.*larger than 1258291 bytes \(after decompression\)$"):
        _content_sha256(big, max_bytes=1258291)
    absent = tmp_path / "absent.jsonl"
    with pytest.raises(InputError) as caught:
        _content_sha256(absent)
    assert (caught.value.message, caught.value.path) == ("no such file", str(absent))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(b'{"qid": "q1", "candidates": []}\n' * 50)[:30])
    with pytest.raises(InputError) as caught:
        _content_sha256(broken)
    assert (caught.value.message, caught.value.path) == (
        "cannot be read: Compressed file ended before the end-of-stream marker was reached", str(broken))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(leaderboard.store, "open", refuse, raising=False)
    with pytest.raises(InputError) as caught:
        _content_sha256(big)
    assert (caught.value.message, caught.value.path) == ("cannot be read: Permission denied", str(big))
