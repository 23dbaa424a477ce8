"""ScoreReport: schema, per-query values and slices, comparison, and the evaluate module."""

from __future__ import annotations

import json

import evaluate
import numpy as np
import pytest

from benchmark.comparison import compare, compare_per_query
from benchmark.errors import InputError
from benchmark.evaluate_metric import METRIC_PATH
from benchmark.records import Candidate, Prediction
from benchmark.scoring import (
    SCORER_VERSION,
    ScoreFile,
    ScoreFileError,
    aligned_values,
    read_per_query,
    read_score_file,
    score,
    write_per_query,
)
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
