"""Shared fixtures: synthetic data sets generated once per test session, and the real data when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.data import load_benchmark
from benchmark.data.synthetic import generate

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """Synthetic 'tiny' MedVidCQA (48/12/12 questions over 12/4/4 videos) with I3D-like features."""
    return generate(tmp_path_factory.mktemp("synthetic") / "tiny", "tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_benchmark(tiny_data_dir, tmp_path_factory):
    return load_benchmark(tiny_data_dir, cache_dir=tmp_path_factory.mktemp("hf-cache"))


@pytest.fixture(scope="session")
def tutorialvqa_dir() -> Path:
    path = SHARED_DATA / "tutorialvqa"
    if not (path / "text" / "test.json").exists():
        pytest.skip("the real TutorialVQA data (../shared/data/tutorialvqa) is not on this machine")
    return path


@pytest.fixture(scope="session")
def medvidqa_dir() -> Path:
    path = SHARED_DATA / "medvidqa"
    if not (path / "test.json").exists():
        pytest.skip("the official MedVidQA annotations (../shared/data/medvidqa) are not on this machine")
    return path
