"""Agreement with the field's evaluators, pinned by their own outputs (tests/golden/agreement.json).

The golden file holds a case written in TVR's and CMIVQA's formats and the numbers the original,
unmodified evaluators printed for it (see its ``evaluators`` field for repository and commit;
``benchmarks/agreement.py --write-golden`` regenerates it). Here the same files go through
``vcval convert`` and ``score``.
"""

from __future__ import annotations

import json

import pytest

from benchmark.convert import convert
from benchmark.records import Annotation, SplitData, Video
from benchmark.scoring import score
from tests.scoring_helpers import GOLDEN

AGREEMENT = json.loads((GOLDEN / "agreement.json").read_text())


@pytest.fixture(scope="module")
def split() -> SplitData:
    videos = {video_id: Video(video_id, duration) for video_id, duration in AGREEMENT["videos"].items()}
    return SplitData("test", tuple(Annotation(g["qid"], "", g["video_id"], g["start"], g["end"], g["video_duration"])
                                   for g in AGREEMENT["gold"]), videos)


def test_golden_names_the_evaluators_and_commits():
    assert AGREEMENT["evaluators"]["tvr"]["repo"] == "jayleicn/TVRetrieval"
    assert AGREEMENT["evaluators"]["cmivqa"]["repo"] == "WENGSYX/CMIVQA_Baseline"
    assert all(len(e["commit"]) == 40 for e in AGREEMENT["evaluators"].values())


def test_tvr_vr_and_vcmr_numbers(tmp_path, split):
    submission = AGREEMENT["tvr_submission"]
    qid_of = {index: g["qid"] for index, g in enumerate(AGREEMENT["gold"])}
    for entry in submission["VCMR"]:
        entry["desc_id"] = qid_of[entry["desc_id"]]
    source = tmp_path / "tvr.json"
    source.write_text(json.dumps(submission))
    report = score(convert("tvr", source, tmp_path / "p.jsonl").path, split, bootstrap=0)
    for ours, theirs in AGREEMENT["tvr_pairs"]:
        # TVR rounds to two decimals
        assert round(report.metrics[ours], 2) == AGREEMENT["tvr_results"][theirs], (ours, theirs)
    # the case is not trivial: every level of the ranking is exercised
    assert 0 < report.metrics["R1_IoU0.7"] < report.metrics["R100_IoU0.5"] < report.metrics["video_R100"] < 100


def test_cmivqa_retrieval_joint_and_single_video_numbers(tmp_path, split):
    source = tmp_path / "task23.json"
    source.write_text(json.dumps(AGREEMENT["cmivqa_output"]))
    report = score(convert("cmivqa", source, tmp_path / "p.jsonl").path, split, bootstrap=0)
    single = tmp_path / "task1.json"
    single.write_text(json.dumps(AGREEMENT["cmivqa_single_output"]))
    located = score(convert("cmivqa", single, tmp_path / "s.jsonl", split=split).path, split, bootstrap=0,
                    allow_missing=True)
    for ours, theirs in AGREEMENT["cmivqa_pairs"]:
        mine = (located if ours.startswith("loc_") else report).metrics[ours]
        assert mine == pytest.approx(AGREEMENT["cmivqa_results"][theirs], abs=1e-9), (ours, theirs)
