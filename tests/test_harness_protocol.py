"""Protocols: shipped files, hashing, binding to data, and errors that name the field."""

from __future__ import annotations

import pytest

from benchmark.errors import ConfigError, DataError
from benchmark.protocol import Protocol, load_protocol, named_protocols, protocol_from_mapping


def test_shipped_protocols_load_with_the_paper_settings():
    assert named_protocols() == ["medvidcqa-full-corpus", "medvidcqa-paper"]
    paper = load_protocol("medvidcqa-paper")
    assert (paper.corpus, paper.max_candidates, paper.max_tokens, paper.feature_clips, paper.seeds) == (
        "split", 100, 1300, 768, (42,))
    assert paper.iou_thresholds == (0.3, 0.5, 0.7) and paper.recall_at == (1, 5, 10, 50, 100)
    full = load_protocol("medvidcqa-full-corpus")
    assert full.corpus == "full" and full.corpus_setting.kind == "full"
    assert load_protocol() == paper  # the default
    assert full.hash != paper.hash


def test_hash_covers_what_is_measured_and_ignores_names():
    paper = load_protocol("medvidcqa-paper")
    assert paper.hash == load_protocol("medvidcqa-paper").hash and len(paper.hash) == 64
    assert paper.replace(name="renamed", description="other words").hash == paper.hash
    for change in ({"max_candidates": 10}, {"corpus": "split+20"}, {"seeds": [1]}, {"bootstrap": 0},
                   {"selection_metric": "R1_IoU0.5"}, {"task": "localization"}, {"max_questions": 60}):
        assert paper.replace(**change).hash != paper.hash, change
    # max_questions came later: unset, it leaves the hash that runs already recorded as it was
    assert paper.hash.startswith("884cb929e354")


def test_bind_pins_data_and_split_and_val_means_validation():
    paper = load_protocol("medvidcqa-paper")
    bound = paper.bind("tiny", "ab" * 32, "val")
    assert (bound.dataset, bound.data_fingerprint, bound.split, bound.is_bound) == ("tiny", "ab" * 32, "validation", True)
    assert bound.hash == paper.bind("tiny", "ab" * 32, "validation").hash
    assert bound.hash != paper.bind("tiny", "cd" * 32, "validation").hash
    assert bound.bind("tiny", "ab" * 32).split == "validation"  # re-binding the same data keeps it
    with pytest.raises(DataError, match="pinned to data fingerprint abababababab.*not comparable"):
        bound.bind("other", "cd" * 32)


def test_a_protocol_file_round_trips(tmp_path):
    bound = load_protocol("medvidcqa-paper").bind("tiny", "ab" * 32)
    path = tmp_path / "p.yaml"
    import yaml

    path.write_text(yaml.safe_dump(bound.to_dict()))
    assert load_protocol(path) == bound and load_protocol(path).hash == bound.hash


@pytest.mark.parametrize(("mapping", "message"), [
    ({"name": "x", "maximum": 3}, "^my.yaml has no field 'maximum'; its fields are: bootstrap,"),
    ({1: "x", "name": "x"}, "^my.yaml has no field '1'"),
    ({"description": "no name"}, "^my.yaml: field 'name' is missing"),
    ({"name": "x", "max_candidates": "100"}, "^my.yaml: field 'max_candidates' = '100': expected an integer"),
    ({"name": "x", "max_tokens": True}, "field 'max_tokens' = True: expected an integer"),
    ({"name": "x", "seeds": [1, "2"]}, "field 'seeds' = \\[1, '2'\\]: expected a list of integers"),
    ({"name": "x", "iou_thresholds": [float("nan")]}, "field 'iou_thresholds' = \\[nan\\]: expected a finite number"),
    ({"name": "x", "max_candidates": 101}, "^my.yaml: field 'max_candidates' must be between 1 and 100"),
    ({"name": "x", "seeds": []}, "field 'seeds' must be a non-empty list"),
    ({"name": "x", "seeds": [1, 1]}, "repeats a seed"),
    ({"name": "x", "iou_thresholds": [0.4]}, "'iou_thresholds' must be drawn from"),
    ({"name": "x", "recall_at": [3]}, "'recall_at' must be drawn from"),
    ({"name": "x", "split": "train"}, "systems train on train"),
    ({"name": "x", "split": "holdout"}, "unknown split 'holdout'"),
    ({"name": "x", "selection_split": "test"}, "would leak them"),
    ({"name": "x", "corpus": "everything"}, "unknown corpus setting 'everything'"),
    ({"name": "x", "task": "ranking"}, "field 'task' must be one of corpus, localization"),
    ({"name": "x", "video_rank": "best"}, "field 'video_rank' must be one of distinct, rows"),
    ({"name": "x", "max_questions": 0}, "field 'max_questions' must be positive or null"),
    ({"name": "x", "max_questions": "all"}, "field 'max_questions' = 'all': expected an integer or null"),
    ([1, 2], "must be a mapping"),
])
def test_bad_protocols_name_the_field(mapping, message):
    with pytest.raises(ConfigError, match=message):
        protocol_from_mapping(mapping, "my.yaml")


def test_unknown_protocol_name_lists_the_shipped_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown protocol 'nope'.*medvidcqa-paper"):
        load_protocol("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_protocol(bad)


def test_replace_rejects_unknown_fields():
    with pytest.raises(ConfigError, match="^protocol 'x' has no field 'colour'; its fields are: "):
        Protocol(name="x").replace(colour="red")
    with pytest.raises(ConfigError, match="^protocol 'x': field 'max_candidates' = '5': expected an integer"):
        Protocol(name="x").replace(max_candidates="5")
