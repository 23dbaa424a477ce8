"""ScoreReport: schema, per-query values and slices, comparison, and the evaluate module."""

from __future__ import annotations

import hashlib
import json
import math

import evaluate
import numpy as np
import pytest

from benchmark.comparison import compare, compare_per_query
from benchmark.errors import InputError
from benchmark.evaluate_metric import METRIC_PATH
from benchmark.metrics.suite import metric_keys
from benchmark.predictions import CandidateArrays, PredictionsError, arrays_from_predictions
from benchmark.records import Annotation, Candidate, Prediction, SplitData, Video
from benchmark.scoring import (
    SCORER_VERSION,
    ScoreFile,
    ScoreFileError,
    aligned_values,
    read_per_query,
    read_score_file,
    score,
    split_fingerprint,
    write_per_query,
)
from benchmark.stats import bootstrap_ci
from tests.scoring_helpers import good_lines, small_split, write_lines


@pytest.fixture()
def report(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", good_lines(), {"format": "vcval-predictions", "version": 1})
    return score(path, small_split(), bootstrap=200, seed=1, meta={"data_fingerprint": "abc"})


def test_to_dict_has_exactly_the_contract_keys(report):
    result = report.to_dict()
    assert list(result) == ["metrics", "ci", "n_questions", "meta"]
    assert result["n_questions"] == 3 and set(result["ci"]) == set(result["metrics"])
    assert all(0 <= v <= 100 for v in result["metrics"].values())
    assert all(low <= report.metrics[k] + 1e-9 and report.metrics[k] <= high + 1e-9
               for k, (low, high) in result["ci"].items())
    meta = result["meta"]
    assert meta["data_fingerprint"] == "abc" and len(meta["predictions_sha256"]) == 64
    assert meta["scorer_version"] and meta["options"] == {"task": "corpus", "video_rank": "distinct",
                                                          "bootstrap": 200, "seed": 1, "confidence": 0.95,
                                                          "allow_missing": False}
    json.dumps(result)  # serialisable as it is


def test_hand_values_of_the_small_file(report):
    # q1: g1 first, [10,20] in [10,30] -> 0.5; q2: g2 second, exact span; q3: no candidates
    assert report.metrics["video_R1"] == pytest.approx(100 / 3)
    assert report.metrics["video_MRR"] == pytest.approx(150 / 3)
    assert report.metrics["R1_IoU0.5"] == pytest.approx(100 / 3)
    assert report.metrics["R5_IoU0.7"] == pytest.approx(100 / 3)
    assert report.metrics["loc_mIoU"] == pytest.approx(150 / 3)
    rows = {row["qid"]: row for row in report.per_query}
    assert rows["q2"]["gold_video_rank"] == 2 and rows["q3"]["gold_video_rank"] is None
    assert rows["q1"]["answer_length_bucket"] == "15-30s" and rows["q2"]["video_length_bucket"] == "3-7min"


def test_slices_partition_the_questions(report):
    for buckets in report.slices.values():
        assert sum(values["n"] for values in buckets.values()) == 3
    assert report.slices["answer_length"]["<15s"]["loc_mIoU"] == 0.0  # q3 (10 s) has no candidates
    table = report.render()
    assert "video_MRR" in table and "by answer length" in table and "95% interval" in table


def test_per_query_round_trip(report, tmp_path):
    path = write_per_query(tmp_path / "pq.jsonl", report)
    assert read_per_query(path) == report.per_query
    path.write_text("{oops\n")
    with pytest.raises(InputError, match="line 1"):
        read_per_query(path)


def test_video_rank_rows_changes_only_video_metrics():
    split = small_split()
    repeated = [Prediction("q1", (Candidate("x", 0, 1), Candidate("x", 2, 3), Candidate("g1", 10, 30)))]
    distinct = score(repeated, split, bootstrap=0, allow_missing=True)
    rows = score(repeated, split, bootstrap=0, video_rank="rows", allow_missing=True)
    assert distinct.metrics["video_MRR"] == pytest.approx(50 / 3) and rows.metrics["video_MRR"] == pytest.approx(100 / 9)
    assert {k: v for k, v in distinct.metrics.items() if not k.startswith("video_")} == \
        {k: v for k, v in rows.metrics.items() if not k.startswith("video_")}


def test_compare_is_paired_and_holm_adjusted():
    split = small_split()
    a = score([Prediction(an.qid, (Candidate(an.video_id, an.start, an.end),)) for an in split.annotations],
              split, bootstrap=0)
    b = score([Prediction("q1", (Candidate("g1", 10, 30),))], split, bootstrap=0, allow_missing=True)
    comparison = compare(a, b, keys=["video_R1", "loc_mIoU"], n_resamples=500)
    first = comparison.rows[0].result
    assert (first.wins, first.ties, first.losses) == (2, 1, 0)
    assert comparison.rows[0].p_holm >= first.p_value
    assert "win/tie/loss" in comparison.render()
    assert set(comparison.to_dict()["metrics"]) == {"video_R1", "loc_mIoU"}
    with pytest.raises(InputError, match="different questions"):
        compare_per_query(a.per_query, a.per_query[:2], ["video_R1"])


def test_evaluate_module_gives_the_scorer_numbers(report):
    split = small_split()
    metric = evaluate.load(str(METRIC_PATH))
    predictions = [[{k: c[k] for k in ("video_id", "start", "end")} for c in line["candidates"]]
                   for line in good_lines()]
    references = [{"video_id": a.video_id, "start": a.start, "end": a.end} for a in split.annotations]
    result = metric.compute(predictions=predictions, references=references)
    assert result == pytest.approx(report.metrics)
    rows = metric.compute(predictions=predictions, references=references, video_rank="rows")
    assert rows["video_MRR"] == pytest.approx(report.metrics["video_MRR"])


def test_the_score_file_round_trips_and_reads_typed(report, tmp_path):
    path = tmp_path / "scores.json"
    path.write_text(json.dumps(report.to_dict()))
    recorded = read_score_file(path)
    assert recorded.to_dict() == report.to_dict() and recorded.scorer_version == SCORER_VERSION
    assert recorded == ScoreFile.from_mapping(recorded.to_dict(), "x")


@pytest.mark.parametrize(("change", "message"), [
    ({"meta": {"scorer_version": "2"}}, "s.json: score report of scorer_version 2 cannot be read"),
    ({"meta": {}}, "s.json: field 'meta.scorer_version' is missing"),
    ({"n_questions": "three"}, "s.json: field 'n_questions' = 'three': expected an integer"),
    ({"metrics": {"video_R1": "high"}}, "s.json: field 'metrics.video_R1' = 'high'"),
])
def test_a_score_file_of_another_version_or_malformed_is_refused_naming_it(report, change, message):
    with pytest.raises(ScoreFileError) as error:
        ScoreFile.from_mapping(report.to_dict() | change, "s.json")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_per_query_reader_skips_blank_lines_and_names_file_line_and_field(tmp_path):
    path = tmp_path / "pq.jsonl"
    path.write_text('\n{"qid": "a", "m": 1}\n\n{"qid": "b", "m": 2}\n', encoding="utf-8")
    assert read_per_query(path) == [{"qid": "a", "m": 1}, {"qid": "b", "m": 2}]
    for content, line, message, field in (('{"qid": "a"}\n\n{oops\n', 3, "not valid JSON (", None),
                                          ('{"qid": "a"}\n{"qid": 5}\n', 2, "expected an object with a string qid", "qid"),
                                          ('[1]\n', 1, "expected an object with a string qid", "qid")):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(InputError) as error:
            read_per_query(path)
        assert (error.value.path, error.value.line, error.value.field) == (str(path), line, field)
        assert error.value.message.startswith(message)


def test_aligned_values_follow_the_first_set_as_floats_and_refuse_other_questions():
    a = [{"qid": "x", "m": 1}, {"qid": "y", "m": 0}]
    b = [{"qid": "y", "m": 3}, {"qid": "x", "m": 2}]
    first, second = aligned_values(a, b, "m")
    assert first.tolist() == [1.0, 0.0] and second.tolist() == [2.0, 3.0]
    assert first.dtype == np.float64 and second.dtype == np.float64
    with pytest.raises(InputError, match=r"different questions \(2 and 1, 1 shared\)") as error:
        aligned_values(a, b[:1], "m")
    assert error.value.field == "qid"


def test_a_score_file_that_cannot_be_read_is_one_error_naming_it(tmp_path):
    missing = tmp_path / ("x" * 240 + ".json")  # the error text names the path: longer than the 200 shown
    with pytest.raises(ScoreFileError) as error:
        read_score_file(missing)
    text = str(error.value)
    assert text.startswith(f"{missing}: cannot be read as JSON (No such file or directory: ") or \
        text.startswith(f"{missing}: cannot be read as JSON ([Errno 2] No such file or directory: ")
    shown = text[len(f"{missing}: cannot be read as JSON ("):-1]
    assert len(shown) == 200 and text.endswith(")")
    not_a_report = tmp_path / "list.json"
    not_a_report.write_text("[]", encoding="utf-8")
    with pytest.raises(ScoreFileError, match=rf"^{tmp_path}/list.json: not a score report"):
        read_score_file(not_a_report)


def test_buckets_are_half_open_at_every_edge_and_slices_average_their_members():
    from benchmark.records import Annotation, SplitData, Video

    lengths = (14.5, 15.0, 30.0, 60.0, 29.0)  # answer lengths: <15s, 15-30s, 30-60s, >=60s, 15-30s
    durations = (179.0, 180.0, 420.0, 900.0, 901.0)  # video lengths: <3min, 3-7min, 7-15min, >=15min, >=15min
    videos = {f"v{i}": Video(f"v{i}", d) for i, d in enumerate(durations)}
    annotations = tuple(Annotation(f"q{i}", "", f"v{i}", 100.0, 100.0 + length, durations[i])
                        for i, length in enumerate(lengths))
    split = SplitData("test", annotations, videos)
    # q0 and q1 found exactly at rank 1, the others not found
    predictions = [Prediction(f"q{i}", (Candidate(f"v{i}", 100.0, 100.0 + lengths[i]),) if i < 2 else ())
                   for i in range(5)]
    report = score(predictions, split, bootstrap=0, allow_missing=True)
    rows = [(row["answer_length_bucket"], row["video_length_bucket"], row["gold_video_rank"]) for row in report.per_query]
    assert rows == [("<15s", "<3min", 1), ("15-30s", "3-7min", 1), ("30-60s", "7-15min", None),
                    (">=60s", ">=15min", None), ("15-30s", ">=15min", None)]
    assert report.slices["answer_length"] == {
        "<15s": {"n": 1.0, **{key: report.per_query[0][key] for key in report.metrics}},
        "15-30s": {"n": 2.0, **{key: (report.per_query[1][key] + report.per_query[4][key]) / 2
                                for key in report.metrics}},
        "30-60s": {"n": 1.0, **{key: 0.0 for key in report.metrics}},
        ">=60s": {"n": 1.0, **{key: 0.0 for key in report.metrics}}}
    assert list(report.slices["video_length"]) == ["<3min", "3-7min", "7-15min", ">=15min"]
    assert report.slices["video_length"][">=15min"]["n"] == 2.0
    assert report.metrics["video_R1"] == 40.0 and report.metrics["loc_mIoU"] == 40.0
    assert all(math.isnan(low) and math.isnan(high) for low, high in report.ci.values())
    assert report.meta["missing_questions"] == 0 and report.meta["predictions_sha256"] is None
    assert report.meta["options"] == {"task": "corpus", "video_rank": "distinct", "bootstrap": 0, "seed": 0,
                                      "confidence": 0.95, "allow_missing": True}
    assert report.values("loc_mIoU").tolist() == [100.0, 100.0, 0.0, 0.0, 0.0] and report.qids == [f"q{i}" for i in range(5)]


def test_a_report_states_its_provenance_and_refuses_what_it_cannot_score(tmp_path):
    split = small_split()
    path = write_lines(tmp_path / "p.jsonl", good_lines()[:2], {"format": "vcval-predictions", "version": 1,
                                                               "task": "corpus"})
    report = score(path, split, bootstrap=20, seed=3, allow_missing=True, meta={"system": "s", "split": "mine"})
    assert report.meta["missing_questions"] == 1 and report.meta["split"] == "mine" and report.meta["system"] == "s"
    assert report.meta["predictions_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report.meta["split_fingerprint"] == split_fingerprint(split) and len(split_fingerprint(split)) == 64
    assert report.meta["scorer_version"] == SCORER_VERSION and report.meta["vcval_version"]
    assert report.meta["options"]["seed"] == 3 and report.meta["options"]["bootstrap"] == 20
    assert report.n_questions == 3 and list(report.ci) == list(report.metrics)
    assert split_fingerprint(small_split("other")) == split_fingerprint(split)  # the gold, not the name
    with pytest.raises(InputError) as error:
        score(path, split, video_rank="ranked", allow_missing=True)
    assert error.value.field == "video_rank" and "unknown video ranking 'ranked'" in error.value.message
    arrays = arrays_from_predictions([], split, allow_missing=True)
    shuffled = CandidateArrays(arrays.qids[::-1], arrays.codes, arrays.starts, arrays.ends, arrays.video_ids, ())
    with pytest.raises(InputError) as error:
        score(shuffled, split)
    assert error.value.field == "qid" and "not those of split 'test' in its order" in error.value.message


def test_the_rendered_table_shows_each_metric_its_interval_and_the_slices(report):
    lines = report.render().splitlines()
    width = max(len(key) for key in report.metrics)
    assert lines[0] == "3 questions, task corpus, video ranking by distinct"
    assert lines[1] == f"{'metric':<{width}}   value  95% interval"
    low, high = report.ci["video_R1"]
    assert lines[2] == f"{'video_R1':<{width}}  {report.metrics['video_R1']:6.2f}  [{low:6.2f}, {high:6.2f}]"
    assert lines[2 + len(report.metrics)] == "" and lines[3 + len(report.metrics)] == "by answer length"
    assert lines[4 + len(report.metrics)].split() == ["bucket", "n", "video_R1", "video_MRR", "R1_IoU0.5",
                                                      "R10_IoU0.5", "R1_mIoU", "loc_mIoU"]
    bucket = report.slices["answer_length"]["<15s"]
    assert f"{'<15s':<9} {1:>5}  " + "  ".join(f"{bucket[k]:9.2f}" for k in
                                                ("video_R1", "video_MRR", "R1_IoU0.5", "R10_IoU0.5", "R1_mIoU",
                                                 "loc_mIoU")) in lines
    assert "by video length" in lines
    plain = score(good_lines_predictions(), small_split(), bootstrap=0, allow_missing=True).render().splitlines()
    plain_report = score(good_lines_predictions(), small_split(), bootstrap=0, allow_missing=True)
    assert plain[1] == f"{'metric':<{width}}   value"
    assert plain[2] == f"{'video_R1':<{width}}  {plain_report.metrics['video_R1']:6.2f}"


def good_lines_predictions():
    return [Prediction(line["qid"], tuple(Candidate(c["video_id"], c["start"], c["end"]) for c in line["candidates"]))
            for line in good_lines()]


def test_a_score_file_that_is_not_an_object_or_has_no_meta_object_is_named():
    with pytest.raises(ScoreFileError, match=r"^s.json: not a score report \(a JSON object\), got list$"):
        ScoreFile.from_mapping([], "s.json")
    with pytest.raises(ScoreFileError, match=r"^s.json: field 'meta.scorer_version' is missing$"):
        ScoreFile.from_mapping({"meta": "1"}, "s.json")


def localization_lines() -> list[dict]:
    return [{"qid": "q1", "candidates": [{"video_id": "g1", "start": 0, "end": 5}, {"video_id": "g1", "start": 10, "end": 30}]},
            {"qid": "q2", "candidates": [{"video_id": "g2", "start": 0, "end": 50}]},
            {"qid": "q3", "candidates": []}]


def test_score_takes_the_task_from_the_header_and_scores_it(tmp_path):
    header = {"format": "vcval-predictions", "version": 1, "task": "localization"}
    report = score(write_lines(tmp_path / "p.jsonl", localization_lines(), header), small_split(), bootstrap=0)
    assert report.meta["options"]["task"] == "localization" and tuple(report.metrics) == metric_keys("localization")
    assert report.metrics["loc_mIoU"] == pytest.approx(100 / 3)  # the first span only: 0, 1, 0
    as_corpus = score(write_lines(tmp_path / "c.jsonl", localization_lines()), small_split(), bootstrap=0)
    assert as_corpus.meta["options"]["task"] == "corpus" and tuple(as_corpus.metrics) == metric_keys("corpus")
    assert as_corpus.metrics["loc_mIoU"] == report.metrics["loc_mIoU"]


def test_score_passes_its_corpus_and_task_to_the_file_check(tmp_path):
    split = small_split()
    lines = good_lines()
    lines[0]["candidates"].append({"video_id": "y", "start": 0.0, "end": 1.0})
    path = write_lines(tmp_path / "p.jsonl", lines)
    corpus = {**split.videos, "y": Video("y", 10.0)}
    assert score(path, split, corpus=corpus, bootstrap=0).metrics["video_R1"] == pytest.approx(100 / 3)
    with pytest.raises(PredictionsError, match="unknown video 'y'"):
        score(path, split, bootstrap=0)
    with pytest.raises(PredictionsError, match="outside the question's gold video"):
        score(path, split, corpus=corpus, task="localization", bootstrap=0)


def test_score_defaults_and_its_seeded_intervals(tmp_path):
    values = [Prediction("q1", (Candidate("g1", 10, 20),)), Prediction("q2", (Candidate("x", 0, 5),)),
              Prediction("q3", (Candidate("g1", 60, 65),))]
    default = score(values, small_split())
    assert default.meta["options"] == {"task": "corpus", "video_rank": "distinct", "bootstrap": 1000, "seed": 0,
                                       "confidence": 0.95, "allow_missing": False}
    assert default.meta["split"] == "test" and default.meta["predictions_sha256"] is None
    seeded = score(values, small_split(), bootstrap=50, seed=5)
    keys = list(seeded.metrics)
    intervals = bootstrap_ci(np.column_stack([seeded.values(key) for key in keys]), 50, 5)
    assert seeded.ci == {key: [intervals[0, c], intervals[1, c]] for c, key in enumerate(keys)}
    assert seeded.ci != score(values, small_split(), bootstrap=50, seed=6).ci


def test_per_query_rows_name_the_gold_then_every_metric(report):
    row = report.per_query[0]
    assert list(row)[:7] == ["qid", "gold_video", "gold_start", "gold_end", "gold_video_rank",
                             "answer_length_bucket", "video_length_bucket"]
    assert list(row)[7:] == list(metric_keys("corpus"))
    assert (row["qid"], row["gold_video"], row["gold_start"], row["gold_end"]) == ("q1", "g1", 10.0, 30.0)


def test_an_empty_split_scores_zero_without_intervals():
    report = score([], SplitData("test", (), {}), bootstrap=20)
    assert report.n_questions == 0 and report.per_query == []
    assert all(value == 0.0 for value in report.metrics.values())
    assert all(math.isnan(low) and math.isnan(high) for low, high in report.ci.values())
    assert report.slices == {"answer_length": {}, "video_length": {}}


def test_a_score_file_keeps_a_missing_interval_as_null():
    assert ScoreFile(metrics={"a": 1.0}, ci={"a": None}, n_questions=1, meta={}).to_dict()["ci"] == {"a": None}


def test_the_split_fingerprint_hashes_each_question_as_a_json_line():
    split = small_split()
    expected = hashlib.sha256()
    for a in split.annotations:
        expected.update((json.dumps([a.qid, a.video_id, a.start, a.end, a.video_duration]) + "\n").encode())
    assert split_fingerprint(split) == expected.hexdigest()
    moved = SplitData("test", (Annotation("q1", "how to one", "g1", 11.0, 30.0, 100.0), *split.annotations[1:]),
                      split.videos)
    assert split_fingerprint(moved) != split_fingerprint(split)


def test_per_query_files_are_plain_json_lines_whatever_their_name(report, tmp_path):
    path = write_per_query(tmp_path / "per_query.jsonl.gz", report)
    assert [json.loads(line)["qid"] for line in path.read_text().splitlines()] == ["q1", "q2", "q3"]
