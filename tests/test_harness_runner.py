"""The runner: outputs, determinism, answer isolation, protocol settings handed to systems."""

from __future__ import annotations

import json

import pytest

from benchmark.harness import run_system
from benchmark.harness.isolation import hold_out_videos, system_inputs
from benchmark.harness.runner import SystemOutputError, system_config, value_sources
from benchmark.predictions import PredictionsError
from benchmark.protocol import load_protocol
from benchmark.records import Candidate, Prediction, Question
from benchmark.registry import register_system, unregister_system
from tests.harness_systems import OverlapSystem, make_answer_peeker, make_overlap


@pytest.fixture(scope="module", autouse=True)
def test_systems():
    register_system("overlap", make_overlap, replace=True)
    register_system("answer-peeker", make_answer_peeker, replace=True)
    yield
    unregister_system("overlap")
    unregister_system("answer-peeker")


def test_a_run_writes_every_output_and_scores_the_split(tiny_benchmark, tmp_path):
    result = run_system("overlap", tiny_benchmark, tmp_path / "run", split="test", track=False, echo=False)
    names = {path.relative_to(tmp_path / "run").as_posix() for path in (tmp_path / "run").rglob("*") if path.is_file()}
    assert names == {"manifest.json", "predictions.jsonl", "scores.json", "slices.json", "per_query.jsonl",
                     "summary.txt", "plots/recall_at_k.png", "plots/iou_distribution.png", ".vcval-owner.json"}
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert set(scores) == {"metrics", "ci", "n_questions", "meta"} and scores["n_questions"] == 12
    assert scores["metrics"] == result.metrics and scores["meta"]["protocol_hash"] == result.protocol.hash
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["protocol_hash"] == result.protocol.hash
    assert manifest["protocol"]["data_fingerprint"] == tiny_benchmark.fingerprint
    assert manifest["seed"] == 42 and manifest["config"] == {"seed": 42}
    assert manifest["environment"]["versions"]["vcval"] and manifest["environment"]["device"]
    header = json.loads((tmp_path / "run" / "predictions.jsonl").read_text().splitlines()[0])
    assert header == {"format": "vcval-predictions", "version": 1, "dataset": tiny_benchmark.name,
                      "split": "test", "system": "overlap", "task": "corpus"}
    per_query = [json.loads(line) for line in (tmp_path / "run" / "per_query.jsonl").read_text().splitlines()]
    assert [row["qid"] for row in per_query] == [a.qid for a in tiny_benchmark.split("test").annotations]
    assert "R1_IoU0.5" in result.summary() and str(tmp_path / "run") in result.summary()


def test_same_system_protocol_and_seed_give_identical_predictions_and_metrics(tiny_benchmark, tmp_path):
    first = run_system("overlap", tiny_benchmark, tmp_path / "a", seed=7, track=False, echo=False)
    second = run_system("overlap", tiny_benchmark, tmp_path / "b", seed=7, track=False, echo=False)
    other = run_system("overlap", tiny_benchmark, tmp_path / "c", seed=8, track=False, echo=False)
    assert first.predictions_path.read_bytes() == second.predictions_path.read_bytes()
    assert first.metrics == second.metrics and first.ci == second.ci
    assert (tmp_path / "a" / "per_query.jsonl").read_bytes() == (tmp_path / "b" / "per_query.jsonl").read_bytes()
    scores = [json.loads((tmp_path / name / "scores.json").read_text()) for name in "ab"]
    assert scores[0] == scores[1]
    assert other.predictions_path.read_bytes() != first.predictions_path.read_bytes()  # the seed reaches the system


def test_a_system_cannot_read_the_answers_it_is_asked_about(tiny_benchmark, tmp_path):
    with pytest.raises(AttributeError, match="video_id"):
        run_system("answer-peeker", tiny_benchmark, tmp_path / "peek", track=False, echo=False)
    assert not (tmp_path / "peek" / "scores.json").exists()
    question = Question("q1", "how?")
    with pytest.raises(AttributeError):
        question.start  # noqa: B018 - reading an answer field must fail
    with pytest.raises((AttributeError, TypeError)):  # frozen and slotted: nothing can be attached either
        question.answer = (0.0, 1.0)  # type: ignore[attr-defined]


@pytest.mark.parametrize("split", ["test", "validation"])
def test_training_data_never_holds_the_evaluated_answers(tiny_benchmark, split):
    protocol = load_protocol().bind(tiny_benchmark.name, tiny_benchmark.fingerprint, split)
    inputs = system_inputs(tiny_benchmark, protocol)
    evaluated = {a.qid for a in tiny_benchmark.split(split).annotations}
    seen = {a.qid for part in (inputs.training.train, inputs.training.validation) for a in part.annotations}
    assert not seen & evaluated
    assert all(type(query) is Question for query in inputs.queries)
    assert {q.qid for q in inputs.queries} == evaluated
    with pytest.raises(TypeError):
        inputs.corpus["extra"] = None  # type: ignore[index] - the corpus is read-only
    if split == "validation":  # selection then happens on held-out train videos
        assert inputs.training.validation.name == "train-holdout" and inputs.training.validation.annotations
        held = {a.video_id for a in inputs.training.validation.annotations}
        assert not held & {a.video_id for a in inputs.training.train.annotations}
    else:
        assert inputs.training.validation is tiny_benchmark.split("validation")


def test_localization_track_hands_the_gold_video_but_no_span(tiny_benchmark, tmp_path):
    protocol = load_protocol().replace(task="localization")
    result = run_system("overlap", tiny_benchmark, tmp_path / "loc", protocol=protocol, track=False, echo=False)
    assert "video_R1" not in result.metrics and "loc_mIoU" in result.metrics
    assert result.protocol.task == "localization"


def test_hold_out_is_by_video_and_seeded(tiny_benchmark):
    train = tiny_benchmark.split("train")
    kept, held = hold_out_videos(train, 0.25, seed=3)
    again = hold_out_videos(train, 0.25, seed=3)[1]
    assert held.annotations == again.annotations
    assert len(held.videos) == 3 and not set(held.videos) & set(kept.videos)
    assert len(kept.annotations) + len(held.annotations) == len(train.annotations)


def test_protocol_settings_fill_declared_keys_and_deviations_are_reported():
    protocol = load_protocol()
    keys = {"seed": "seed", "model.max_len": "max_tokens", "selection_metric": "selection_metric"}
    config, deviations = system_config({"model": {"layers": 2}}, keys, protocol, seed=5)
    assert config == {"model": {"layers": 2, "max_len": 1300}, "seed": 5, "selection_metric": "R1_mIoU"}
    assert deviations == []
    config, deviations = system_config({"model.max_len": 256, "seed": 5}, keys, protocol, seed=5)
    assert config["model.max_len"] == 256
    assert deviations == ["config 'model.max_len' = 256 where the protocol's max_tokens is 1300"]
    with pytest.raises(Exception, match="expected one of seed"):
        system_config({}, {"x": "colour"}, protocol, seed=1)


class _Sloppy(OverlapSystem):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def predict(self, questions, corpus, max_candidates):
        predictions = super().predict(questions, corpus, max_candidates)
        if self.mode == "missing":
            return predictions[1:]
        if self.mode == "twice":
            return predictions + predictions[:1]
        if self.mode == "unknown-video":
            return [Prediction(p.qid, (Candidate("no-such-video", 0.0, 1.0),)) for p in predictions]
        return [tuple(p.candidates) for p in predictions]


@pytest.mark.parametrize(("mode", "error", "message"), [
    ("missing", SystemOutputError, "1 missing"),
    ("twice", SystemOutputError, "twice"),
    ("not-predictions", SystemOutputError, "not a Prediction"),
    ("unknown-video", PredictionsError, "unknown video 'no-such-video': not in the corpus"),
])
def test_bad_system_output_is_reported(tiny_benchmark, tmp_path, mode, error, message):
    register_system("sloppy", lambda config: _Sloppy(mode), replace=True)
    try:
        with pytest.raises(error, match=message):
            run_system("sloppy", tiny_benchmark, tmp_path / mode, track=False, echo=False)
    finally:
        unregister_system("sloppy")


def test_value_sources_name_protocol_settings_that_replace_the_system_defaults():
    protocol = load_protocol()
    keys = {"seed": "seed", "max_len": "max_tokens", "selection_metric": "selection_metric"}
    defaults = ("preset tiny", {"max_len": 256, "seed": 2, "selection_metric": "R1_mIoU"})
    assert value_sources({}, keys, protocol, 42, defaults) == [
        "seed 42 from the run's seed; preset tiny: 2", "max_len 1300 from protocol medvidcqa-paper; preset tiny: 256"]
    assert value_sources({"max_len": 256, "seed": 1}, keys, protocol, 42, defaults) == []  # the user's own
    assert value_sources({}, keys, protocol, 42, ("", {})) == []
