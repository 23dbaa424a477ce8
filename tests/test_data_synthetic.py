"""The synthetic generator: determinism, layout, statistics against the real MedVidQA."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from benchmark.data import load_benchmark
from benchmark.data.describe import describe
from benchmark.data.synthetic import generate
from benchmark.errors import ConfigError


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_and_fingerprint(tmp_path):
    first = generate(tmp_path / "a", "tiny", seed=7)
    second = generate(tmp_path / "b", "tiny", seed=7)
    other = generate(tmp_path / "c", "tiny", seed=8)
    assert _tree_digest(first) == _tree_digest(second)
    assert _tree_digest(first) != _tree_digest(other)
    fingerprints = [load_benchmark(p, cache_dir=tmp_path / "cache").fingerprint for p in (first, second, other)]
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]


def test_tiny_layout(tiny_benchmark):
    sizes = {s: (len(d.annotations), len(d.videos)) for s, d in tiny_benchmark.splits.items()}
    assert sizes == {"train": (48, 12), "validation": (12, 4), "test": (12, 4)}
    for split in tiny_benchmark.splits.values():
        for annotation in split.annotations:
            assert 0 <= annotation.start < annotation.end <= annotation.video_duration
            video = split.videos[annotation.video_id]
            assert video.feature_path and video.pieces


def test_questions_share_words_with_their_answer_region(tiny_benchmark):
    """Lexical retrieval must be informative: answer-region pieces say the question's words more often."""
    inside = outside = inside_total = outside_total = 0
    for annotation in tiny_benchmark.split("train").annotations:
        words = set(annotation.text.lower().rstrip("?").split()) - {"how", "to", "the", "with"}
        for piece in tiny_benchmark.split("train").videos[annotation.video_id].pieces:
            hit = bool(words & set(piece.text.split()))
            if annotation.start <= (piece.start + piece.end) / 2 <= annotation.end:
                inside, inside_total = inside + hit, inside_total + 1
            else:
                outside, outside_total = outside + hit, outside_total + 1
    assert inside / inside_total > 2 * outside / outside_total > 0


def test_unknown_size():
    with pytest.raises(ConfigError, match="unknown synthetic size 'huge'"):
        generate("/nonexistent", "huge")


@pytest.mark.slow
def test_full_statistics_follow_medvidqa(medvidqa_dir, tmp_path):
    real = {row["split"]: row for row in describe(load_benchmark(medvidqa_dir, "medvidqa",
                                                                 cache_dir=tmp_path / "cache"))["splits"]}
    folder = generate(tmp_path / "full", "full", seed=0, features=False)
    synthetic = {row["split"]: row for row in describe(load_benchmark(folder, cache_dir=tmp_path / "cache"))["splits"]}
    for split in ("train", "validation", "test", "all"):
        assert synthetic[split]["questions"] == real[split]["questions"]
        assert synthetic[split]["videos"] == real[split]["videos"]
        for key in ("mean_video_length_s", "mean_answer_length_s", "hours"):
            assert synthetic[split][key] == pytest.approx(real[split][key], rel=0.10), (split, key)


def test_text_does_not_depend_on_features(tmp_path):
    with_features = generate(tmp_path / "a", "tiny", seed=1)
    without = generate(tmp_path / "b", "tiny", seed=1, features=False)
    for name in ("train.json", "val.json", "test.json"):
        assert (with_features / "text" / name).read_bytes() == (without / "text" / name).read_bytes()
    assert not (without / "features").exists()
