"""The data layer: readers, the HF builder, corpora, fingerprints, and every bad-input case."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmark.data import CorpusSetting, load_benchmark
from benchmark.data.builder import MedVidCQABuilder
from benchmark.data.features import load_clip_features, resample_clips
from benchmark.data.subtitles import read_subtitle_file
from benchmark.errors import ConfigError, DataError


def _piece(text, start, duration):
    return {"text": text, "start": start, "duration": duration}


def _record(sample_id, video_id="v1", start=2.0, end=8.0, length=20.0, pieces=None):
    return {
        "sample_id": sample_id,
        "question": f"how to do thing {sample_id}?",
        "video_id": video_id,
        "video_length": length,
        "answer_start_second": start,
        "answer_end_second": end,
        "video_sub_title": pieces if pieces is not None else [_piece("hello there", 0.0, 5.0), _piece("do it", 5.0, 5.0)],
    }


def write_ccgs(folder: Path, train=None, val=None, test=None) -> Path:
    (folder / "text").mkdir(parents=True, exist_ok=True)
    splits = {"train": train or [_record(1, "a")], "val": val or [_record(2, "b")], "test": test or [_record(3, "c")]}
    for name, records in splits.items():
        (folder / "text" / f"{name}.json").write_text(json.dumps(records))
    return folder


def load(folder: Path, tmp_path: Path, **kwargs):
    return load_benchmark(folder, cache_dir=tmp_path / "cache", **kwargs)


def test_ccgs_layout_loads_typed_splits(tmp_path):
    bench = load(write_ccgs(tmp_path / "d"), tmp_path)
    assert [a.qid for a in bench.split("train").annotations] == ["1"]
    test = bench.split("test")
    assert test.by_qid["3"].video_id == "c" and test.by_qid["3"].start == 2.0 and test.by_qid["3"].end == 8.0
    video = test.videos["c"]
    assert video.duration == 20.0 and video.pieces[1].start == 5.0 and video.pieces[1].end == 10.0
    assert bench.split("val") is bench.split("validation")


def test_qid_falls_back_to_split_and_index(tmp_path):
    record = _record(1, "a")
    del record["sample_id"]
    bench = load(write_ccgs(tmp_path / "d", train=[record]), tmp_path)
    assert bench.split("train").annotations[0].qid == "train-0"


def test_corpus_json_adds_videos_to_every_split(tmp_path):
    folder = write_ccgs(tmp_path / "d")
    (folder / "corpus.json").write_text(json.dumps([
        {"video_id": "x", "video_length": 30, "video_sub_title": [_piece("distractor words", 1.0, 2.0)]}]))
    bench = load(folder, tmp_path)
    assert set(bench.corpus("test")) == {"c", "x"}
    assert set(bench.corpus("train")) == {"a", "x"}
    assert set(bench.corpus("test", "full")) == {"a", "b", "c", "x"}


def test_corpus_settings(tiny_benchmark):
    split_corpus = tiny_benchmark.corpus("test")
    assert len(split_corpus) == 4
    with_distractors = tiny_benchmark.corpus("test", "split+5")
    assert len(with_distractors) == 9 and set(split_corpus) <= set(with_distractors)
    assert with_distractors == tiny_benchmark.corpus("test", CorpusSetting.parse("+5"))
    assert len(tiny_benchmark.corpus("test", "full")) == 20
    with pytest.raises(ConfigError, match="unknown corpus setting"):
        CorpusSetting.parse("everything")


def test_fingerprint_changes_with_content(tmp_path):
    first = load(write_ccgs(tmp_path / "a"), tmp_path).fingerprint
    again = load(write_ccgs(tmp_path / "b"), tmp_path).fingerprint
    changed = load(write_ccgs(tmp_path / "c", test=[_record(3, "c", end=9.0)]), tmp_path).fingerprint
    assert first == again != changed


def test_builder_is_a_datasets_builder(tiny_data_dir, tmp_path):
    builder = MedVidCQABuilder(config_name="videos", data_dir=str(tiny_data_dir), cache_dir=str(tmp_path))
    builder.download_and_prepare()
    videos = builder.as_dataset()
    assert set(videos) == {"train", "validation", "test"}
    assert videos["test"].num_rows == 4
    row = videos["test"][0]
    assert row["subtitles"][0].keys() == {"start", "end", "text"} and row["feature_path"].endswith(".npy")


# --- bad input: each names the file, the record and the field -------------------------------------------

def test_missing_split_file(tmp_path):
    folder = write_ccgs(tmp_path / "d")
    (folder / "text" / "val.json").unlink()
    with pytest.raises(DataError, match=r"val\.json: file not found"):
        load(folder, tmp_path)


def test_missing_data_folder(tmp_path):
    with pytest.raises(DataError, match="data folder not found"):
        load_benchmark(tmp_path / "nowhere", data_format="ccgs")


def test_malformed_json_names_line(tmp_path):
    folder = write_ccgs(tmp_path / "d")
    (folder / "text" / "test.json").write_text('[\n{"question": "x",\n')
    with pytest.raises(DataError, match=r"test\.json, line 3: not valid JSON"):
        load(folder, tmp_path)


def test_record_without_field(tmp_path):
    record = _record(3, "c")
    del record["answer_end_second"]
    with pytest.raises(DataError, match=r"test\.json, record 0 \(sample_id 3\), field 'answer_end_second': missing"):
        load(write_ccgs(tmp_path / "d", test=[record]), tmp_path)


@pytest.mark.parametrize(("start", "end", "field", "message"), [
    (-1.0, 5.0, "answer_start_second", "starts before the video"),
    (5.0, 25.0, "answer_end_second", "after the end of the video"),
    (8.0, 8.0, "answer_end_second", "at or before its start"),
    (float("nan"), 5.0, "answer_start_second", "finite number"),
])
def test_answer_outside_video(tmp_path, start, end, field, message):
    record = _record(3, "c", start=start, end=end)
    with pytest.raises(DataError, match=rf"field '{field}': .*{message}"):
        load(write_ccgs(tmp_path / "d", test=[record]), tmp_path)


def test_answer_as_string_is_rejected(tmp_path):
    record = _record(3, "c")
    record["answer_start_second"] = "00:02"
    with pytest.raises(DataError, match=r"field 'answer_start_second': expected a number, got '00:02'"):
        load(write_ccgs(tmp_path / "d", test=[record]), tmp_path)


def test_unsorted_subtitles(tmp_path):
    record = _record(3, "c", pieces=[_piece("b", 5.0, 1.0), _piece("a", 1.0, 1.0)])
    with pytest.raises(DataError, match=r"record 0 \(sample_id 3\), piece 1, field 'start': pieces are not sorted"):
        load(write_ccgs(tmp_path / "d", test=[record]), tmp_path)


def test_negative_subtitle_time(tmp_path):
    record = _record(3, "c", pieces=[_piece("a", -2.0, 1.0)])
    with pytest.raises(DataError, match=r"piece 0, field 'start': negative start time"):
        load(write_ccgs(tmp_path / "d", test=[record]), tmp_path)


def test_duplicate_sample_id(tmp_path):
    with pytest.raises(DataError, match=r"field 'sample_id': duplicate question id 1"):
        load(write_ccgs(tmp_path / "d", train=[_record(1, "a")], test=[_record(1, "c")]), tmp_path)


def test_inconsistent_video_length(tmp_path):
    with pytest.raises(DataError, match=r"field 'video_length': video a has length 30.0 here but 20.0"):
        load(write_ccgs(tmp_path / "d", train=[_record(1, "a"), _record(4, "a", length=30.0)]), tmp_path)


def test_feature_file_of_wrong_shape(tiny_data_dir, tmp_path):
    folder = tmp_path / "d"
    shutil.copytree(tiny_data_dir, folder)
    victim = sorted((folder / "features" / "I3D").glob("*.npy"))[0]
    np.save(victim, np.zeros((10, 512), dtype=np.float32))
    with pytest.raises(DataError, match=rf"{victim.name}, field 'shape': expected video features of shape \(clips, 1024\)"):
        load(folder, tmp_path)


def test_feature_file_that_is_not_npy(tiny_data_dir, tmp_path):
    folder = tmp_path / "d"
    shutil.copytree(tiny_data_dir, folder)
    victim = sorted((folder / "features" / "I3D").glob("*.npy"))[0]
    victim.write_text("not numpy")
    with pytest.raises(DataError, match="not a readable .npy array"):
        load(folder, tmp_path)


# --- MedVidQA official JSON plus subtitle files --------------------------------------------------------

def _write_medvidqa(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, sample_id, video in (("train", 1, "aaa"), ("val", 2, "bbb"), ("test", 3, "ccc")):
        (folder / f"{name}.json").write_text(json.dumps([{
            "sample_id": sample_id, "question": "How to?", "answer_start": "00:01", "answer_end": "00:05",
            "answer_start_second": 1, "answer_end_second": 5, "video_length": 60, "video_id": video,
            "video_url": f"https://www.youtube.com/watch?v={video}"}]))
    return folder


def test_medvidqa_with_subtitle_files_of_every_kind(tmp_path):
    folder = _write_medvidqa(tmp_path / "m")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "aaa.json").write_text(json.dumps([_piece("first", 0.5, 2.0), _piece("second", 2.5, 3.0)]))
    (subs / "bbb.en.vtt").write_text("WEBVTT\n\n00:00:01.000 --> 00:00:03.500\n<c>hello</c> world\n\n"
                                     "00:00:04.000 --> 00:00:06.000 align:start\nsecond line\nwraps\n")
    (subs / "ccc.srt").write_text("1\n00:00:00,000 --> 00:00:02,000\nsrt one\n\n2\n00:00:50,250 --> 00:00:52,000\n"
                                  "srt two\n")
    bench = load(folder, tmp_path, data_format="medvidqa", subtitles_dir=subs)
    assert [p.text for p in bench.split("train").videos["aaa"].pieces] == ["first", "second"]
    vtt = bench.split("val").videos["bbb"].pieces
    assert [(p.start, p.end, p.text) for p in vtt] == [(1.0, 3.5, "hello world"), (4.0, 6.0, "second line wraps")]
    srt = bench.split("test").videos["ccc"].pieces
    assert [(p.start, p.end) for p in srt] == [(0.0, 2.0), (50.25, 52.0)]
    assert bench.videos_without_subtitles == ()


def test_medvidqa_without_subtitles_reports_them(medvidqa_dir, tmp_path):
    from benchmark.data.describe import describe

    bench = load(medvidqa_dir, tmp_path, data_format="medvidqa")
    counts = [(len(bench.splits[s].annotations), len(bench.splits[s].videos)) for s in ("train", "validation", "test")]
    assert counts == [(2710, 800), (145, 49), (155, 50)]
    description = describe(bench)
    assert description["videos_without_subtitles"] == 899
    assert description["questions_without_subtitles"] == 3010


def test_bad_vtt_timing_names_line(tmp_path):
    path = tmp_path / "x.vtt"
    path.write_text("WEBVTT\n\n00:00:05.000 --> 00:00:01.000\ntext\n")
    with pytest.raises(DataError, match=r"x\.vtt, line 3, field 'end': cue ends before it starts"):
        read_subtitle_file(path)


def test_unknown_subtitle_suffix(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello")
    with pytest.raises(DataError, match="unknown subtitle format"):
        read_subtitle_file(path)


# --- features ------------------------------------------------------------------------------------------

def test_resample_averages_bins():
    features = np.arange(10, dtype=np.float32)[:, None].repeat(3, axis=1)
    out = resample_clips(features, 5)
    np.testing.assert_allclose(out[:, 0], [0.5, 2.5, 4.5, 6.5, 8.5])
    assert resample_clips(features, 20).shape == (10, 3)


def test_load_clip_features_is_capped(tiny_benchmark):
    video = next(iter(tiny_benchmark.split("test").videos.values()))
    assert load_clip_features(video.feature_path, 8).shape == (8, 1024)


def test_an_edit_that_keeps_size_and_mtime_is_not_served_from_the_cache(tiny_data_dir, tmp_path):
    """The issue's reproduction: same size, mtime restored (rsync -t, git checkout, archives do this)."""
    folder = tmp_path / "stale"
    shutil.copytree(tiny_data_dir, folder)
    test_file = folder / "text" / "test.json"
    before = load_benchmark(folder, cache_dir=tmp_path / "cache")
    records = json.loads(test_file.read_text())
    end = records[0]["answer_end_second"]
    assert end >= 10  # one digit less keeps the size: 39 -> 19 as in the issue
    stat = test_file.stat()
    edited = test_file.read_text().replace(f'"answer_end_second": {json.dumps(end)}',
                                           f'"answer_end_second": {json.dumps(end - 10)}', 1)
    test_file.write_text(edited)
    os.utime(test_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert test_file.stat().st_size == stat.st_size and test_file.stat().st_mtime_ns == stat.st_mtime_ns
    after = load_benchmark(folder, cache_dir=tmp_path / "cache")
    assert after.split("test").annotations[0].end == end - 10
    assert after.fingerprint != before.fingerprint
