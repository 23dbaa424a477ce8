"""Every committed result folder comes from an experiment file or is a documented hand run, and its
predictions score to its figures.

For each experiment under ``experiments/`` whose ``results`` folder is committed, every published
``<variant>-seed<S>.jsonl.gz`` is scored again by the suite's scorer on the experiment's data (synthetic data
regenerated from its size and seed; TutorialVQA from ../shared/data when it is there) and must give the
per-seed figures of the folder's ``ablation.json``. Its manifest must name no path of the machine it ran on.
The hand runs (folders without an ``ablation.json``: the full-scale CCGS runs resumed across sessions, whose
README gives the commands) are held to the same: each ``X.jsonl.gz`` with ``X.manifest.json`` scores to its
``X.scores.json`` under the manifest's protocol.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.ablation import load_grid
from benchmark.ablation.imports import published_stem
from benchmark.ablation.spec import slug
from benchmark.data import load_benchmark
from benchmark.data.sampling import sample_questions
from benchmark.data.synthetic import generate
from benchmark.harness.manifest import RunManifest
from benchmark.ownership import read_marker
from benchmark.scoring import score

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
PUBLISHED = [path for path in EXPERIMENTS
             if (grid := load_grid(path)).results is not None and (grid.results / "ablation.json").is_file()]


def test_some_experiments_are_published():
    assert len(PUBLISHED) >= 3, "the committed results should include published experiments"


@pytest.fixture(scope="module")
def synthetic_data(tmp_path_factory):
    made: dict[tuple[str, int], Path] = {}

    def data(size: str, seed: int):
        if (size, seed) not in made:
            made[size, seed] = generate(tmp_path_factory.mktemp("synthetic") / f"{size}-{seed}", size, seed=seed)
        return load_benchmark(made[size, seed])
    return data


def _param(path: Path):
    data = load_grid(path).data
    slow = data is not None and data.size == "full"  # about 20 s to generate (365 MB)
    return pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if slow else [])


def _score_as_run(stem: Path, benchmark):
    """The protocol of ``<stem>.manifest.json`` (which must name no path of the machine it ran on, and this
    data) and ``<stem>.jsonl.gz`` scored under it by the suite's scorer."""
    manifest_text = Path(f"{stem}.manifest.json").read_text(encoding="utf-8")
    assert "/tmp/" not in manifest_text and "/work/" not in manifest_text and "/home/" not in manifest_text
    protocol = RunManifest.from_mapping(json.loads(manifest_text), f"{stem}.manifest.json").protocol
    assert protocol.data_fingerprint == benchmark.fingerprint
    split = sample_questions(benchmark.split(protocol.split), protocol.max_questions, protocol.corpus_seed)
    return protocol, score(Path(f"{stem}.jsonl.gz"), split, task=protocol.task, video_rank=protocol.video_rank,
                           bootstrap=0, corpus=benchmark.corpus(protocol.split, protocol.corpus_setting))


@pytest.mark.parametrize("path", [_param(path) for path in PUBLISHED])
def test_published_predictions_score_to_their_table(path, synthetic_data, request):
    grid = load_grid(path)
    marker = read_marker(grid.results)
    assert marker is not None and marker.made_by == f"vcval ablate {grid.name}", "published by this experiment"
    if grid.data is not None:
        benchmark = synthetic_data(grid.data.size, grid.data.seed)
    else:  # the TutorialVQA experiments: skipped, like every test of the real data, where it is absent
        benchmark = load_benchmark(request.getfixturevalue("tutorialvqa_dir"))
    table = json.loads((grid.results / "ablation.json").read_text(encoding="utf-8"))
    checked = 0
    for variant in table["variants"]:
        imported = variant.get("imported", {}).get("files") or [None] * len(variant["per_seed"])
        for (seed, figures), source in zip(variant["per_seed"].items(), imported, strict=True):
            stem = (grid.results / f"{slug(variant['name'])}-seed{seed}" if source is None
                    else Path(published_stem(grid.results / source)))
            protocol, report = _score_as_run(stem, benchmark)
            assert protocol.hash == variant["protocol_hash"]
            for key, value in figures.items():
                assert report.metrics[key] == pytest.approx(value, abs=1e-9), (stem.name, key)
            checked += 1
    assert checked == len(table["runs"])


HAND_RUNS = sorted(manifest for manifest in (ROOT / "benchmarks" / "results").glob("*/*.manifest.json")
                   if not (manifest.parent / "ablation.json").exists())


def test_hand_runs_are_documented():
    assert HAND_RUNS, "the full-scale CCGS runs are committed as hand runs"
    for manifest in HAND_RUNS:
        assert (manifest.parent / "README.md").is_file(), f"{manifest.parent.name}: a hand run needs its README"


@pytest.mark.parametrize("manifest_path", HAND_RUNS, ids=lambda path: path.parent.name)
def test_hand_run_predictions_score_to_their_figures(manifest_path, tutorialvqa_dir):
    stem = manifest_path.with_name(manifest_path.name.removesuffix(".manifest.json"))
    _, report = _score_as_run(stem, load_benchmark(tutorialvqa_dir))
    recorded = json.loads(Path(f"{stem}.scores.json").read_text(encoding="utf-8"))["metrics"]
    assert recorded and set(recorded) <= set(report.metrics)
    for key, value in recorded.items():
        assert report.metrics[key] == pytest.approx(value, abs=1e-9), key
