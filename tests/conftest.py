"""Shared fixtures: synthetic data sets generated once per test session, and the real data when present."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from benchmark.data import load_benchmark
from benchmark.data.synthetic import generate

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# The suite's own temporary folder: everything that asks Python (or a subprocess, through TMPDIR) for a
# temporary file lands here, so that what a test leaves behind can be seen and named.
_SUITE_TMP: Path | None = None
# Not leaks: pytest's tmp_path folders (it keeps the last few runs by design) and torch's compile cache.
_PYTEST_OWN = ("pytest-of-", "torchinductor_")


_BEFORE: tuple[str | None, str | None] = (None, None)
"""``tempfile.tempdir`` and ``TMPDIR`` before the session, restored after it (a tool such as mutmut runs
pytest several times in one process)."""


def pytest_configure(config):
    global _SUITE_TMP, _BEFORE
    if _SUITE_TMP is None and not hasattr(config, "workerinput"):
        _BEFORE = (tempfile.tempdir, os.environ.get("TMPDIR"))
        _SUITE_TMP = Path(tempfile.mkdtemp(prefix="vcval-tests-"))
        tempfile.tempdir = str(_SUITE_TMP)
        os.environ["TMPDIR"] = str(_SUITE_TMP)


def pytest_unconfigure(config):
    global _SUITE_TMP
    if _SUITE_TMP is not None:
        shutil.rmtree(_SUITE_TMP, ignore_errors=True)
        _SUITE_TMP = None
        tempfile.tempdir = _BEFORE[0]
        if _BEFORE[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = _BEFORE[1]


def _leftovers() -> set[str]:
    if _SUITE_TMP is None or not _SUITE_TMP.is_dir():
        return set()
    return {entry.name for entry in _SUITE_TMP.iterdir() if not entry.name.startswith(_PYTEST_OWN)}


@pytest.fixture(autouse=True)
def leaves_no_temporary_folders():
    """Fails a test that leaves something in the temporary folder (checkpoints, scratch models, ...)."""
    before = _leftovers()
    yield
    left = sorted(_leftovers() - before)
    assert not left, f"the test left {left} in the temporary folder {_SUITE_TMP}"


@pytest.fixture(scope="module")
def overlap_system():
    """The word-overlap test system registered as ``overlap`` for a module's tests."""
    from benchmark.registry import register_system, unregister_system
    from tests.harness_systems import make_overlap

    register_system("overlap", make_overlap, replace=True)
    yield
    unregister_system("overlap")


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """Synthetic 'tiny' MedVidCQA (48/12/12 questions over 12/4/4 videos) with I3D-like features."""
    return generate(tmp_path_factory.mktemp("synthetic") / "tiny", "tiny", seed=0)


@pytest.fixture(scope="session")
def mini_text_data_dir(tmp_path_factory) -> Path:
    """Synthetic 'mini' MedVidCQA without features (320/40/40 questions over 96/12/12 videos)."""
    return generate(tmp_path_factory.mktemp("synthetic") / "mini", "mini", seed=0, features=False)


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
