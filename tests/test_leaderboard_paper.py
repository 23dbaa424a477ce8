"""``vcval paper`` tables from recorded runs, and ``vcval submit --from-run``: run folders in the harness's
layout (made here with the real scorer), ablation records, stores, and runs found through MLflow."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from benchmark.errors import ConfigError
from leaderboard.columns import CORPUS_COLUMNS
from leaderboard.entry import SubmissionInfo
from leaderboard.escape import markdown
from leaderboard.paper import write_paper
from leaderboard.runs import entry_from_run, mlflow_run_folders, resolve_run
from leaderboard.store import SubmissionStore, publish_run
from tests.leaderboard_helpers import fake_run, populate_store

# (system, seeds, first_rate, jitter)
RUNS = (("bm25+window", (1, 2), 0.3, 0.8), ("dense+span", (1, 2), 0.5, 0.4), ("ccgs", (42,), 0.9, 0.05))


@pytest.fixture(scope="module")
def recorded(tiny_benchmark, tmp_path_factory):
    root = tmp_path_factory.mktemp("recorded")
    for system, seeds, first_rate, jitter in RUNS:
        for position, seed in enumerate(seeds):
            fake_run(root / "runs" / f"{system}-{seed}", tiny_benchmark, system=system, seed=seed,
                     first_rate=first_rate, jitter=jitter * (1 + 0.25 * position))
    for variant in ("ccgs/paper", "ccgs/no-visual"):
        fake_run(root / "grid" / variant.replace("/", "_") / "seed-1", tiny_benchmark, system="ccgs", seed=1,
                 first_rate=0.6, jitter=0.3, labels={"grid": "ccgs-ablation", "variant": variant})
    ablation = {
        "grid": "ccgs-ablation", "protocol": {"name": "medvidcqa-paper", "dataset": "tiny", "split": "test"},
        "protocol_hash": "ab" * 32, "seeds": [1, 2], "base": "ccgs/paper", "metrics": ["video_R1", "R1_IoU0.5"],
        "alpha": 0.05, "test": "paired approximate randomization (10000 resamples), Holm-corrected across the table",
        "variants": [
            {"name": "ccgs/paper", "mean": {"video_R1": 61.25, "R1_IoU0.5": 40.0},
             "std": {"video_R1": 1.5, "R1_IoU0.5": 2.25}, "vs_base": {}},
            {"name": "ccgs/no_visual & 50%", "mean": {"video_R1": 55.0, "R1_IoU0.5": 31.5},
             "std": {"video_R1": 0.5, "R1_IoU0.5": 1.0},
             "vs_base": {"video_R1": {"difference": -6.25, "p_holm": 0.2, "significant": False},
                         "R1_IoU0.5": {"difference": -8.5, "p_holm": 0.01, "significant": True}}},
        ],
    }
    (root / "grid" / "ablation.json").write_text(json.dumps(ablation))
    return root


@pytest.fixture(scope="module")
def paper(recorded, tmp_path_factory):
    return write_paper([recorded], tmp_path_factory.mktemp("paper"))


def _row_cells(text: str, name: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("| ") and f" {markdown(name)} " in line)
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_main_table_averages_seeds_and_leaves_grids_out(recorded, paper):
    (table,) = paper.main
    assert sorted(row.entry.meta.name for row in table.rows) == sorted(system for system, *_ in RUNS)
    text = (paper.files[0]).read_text()
    for system, seeds, *_ in RUNS:
        scores = [json.loads((recorded / "runs" / f"{system}-{seed}" / "scores.json").read_text())["metrics"]
                  for seed in seeds]
        cells = [re.sub(r"[*†]", "", cell) for cell in _row_cells(text, system)[3:]]
        for cell, column in zip(cells, CORPUS_COLUMNS, strict=True):
            values = [s[column.key] for s in scores]
            expected = f"{np.mean(values):.2f}"
            if len(seeds) > 1:
                expected += f" ± {np.std(values, ddof=1):.2f}"
            assert cell == expected, (system, column.key)
    assert "ccgs/no-visual" not in text
    # grouped by front end as a paper lists them: lexical, dense, then CCGS
    assert [row.entry.meta.name for row in table.rows] == ["bm25+window", "dense+span", "ccgs"]
    assert table.rows[-1].cells["R1_IoU0.5"].best and table.rows[-1].rank == 1


def test_main_latex_in_shape(paper):
    text = (paper.files[1]).read_text()
    assert text.count(r"\begin{table*}") == text.count(r"\end{table*}") == 1
    assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == 1
    assert r"$\pm$" in text and r"\label{tab:main-" in text
    assert text.count(r"\midrule") == 3  # under the header, and between the three front ends
    for line in text.splitlines():
        if line.endswith(r"\\") and not line.startswith("Method") and not line.startswith(" &"):
            assert len(re.split(r"(?<!\\)&", line)) == 1 + len(CORPUS_COLUMNS)


def test_ablation_tables_show_the_recorded_comparison(paper):
    text = (paper.files[2]).read_text()
    assert "| ccgs/paper (base) | 61.25 ± 1.50 | 40.00 ± 2.25 |" in text
    assert "| ccgs/no\\_visual &amp; 50% | 55.00 ± 0.50 (-6.25) | 31.50 ± 1.00 (-8.50\\*) |" in text
    latex = (paper.files[3]).read_text()
    assert r"ccgs/no\_visual \& 50\% & 55.00$\pm$0.50 (-6.25) & 31.50$\pm$1.00 (-8.50$^*$) \\" in latex
    assert latex.count(r"\begin{table}") == latex.count(r"\end{table}") == 1
    assert "R1\\_IoU0.5" in latex and "p \\textless{} 0.05" in latex


def test_store_and_runs_share_a_table_when_comparable(recorded, tiny_benchmark, tmp_path):
    populate_store(tmp_path / "store", tiny_benchmark, tmp_path)
    outputs = write_paper([recorded / "runs", tmp_path / "store"], tmp_path / "paper", plots=False)
    (table,) = outputs.main
    assert len(table.rows) == len(RUNS) + 3


def test_plots_of_the_main_table(paper):
    stems = {path.stem for path in paper.files if path.suffix == ".png"}
    assert stems == {"video_recall", "r1_vs_iou", "slices", "errors"}


def test_submit_from_run_folder(recorded, tiny_benchmark, tmp_path):
    run_dir = recorded / "runs" / "ccgs-42"
    store = SubmissionStore(tmp_path / "store")
    result = publish_run(store, run_dir, tiny_benchmark, SubmissionInfo("CCGS (run)"))
    assert result.created and result.entry.meta.source.startswith("run:")
    run_scores = json.loads((run_dir / "scores.json").read_text())["metrics"]
    assert result.entry.metrics == pytest.approx(run_scores)
    assert result.entry.meta.protocol_hash == entry_from_run(run_dir).meta.protocol_hash
    assert not publish_run(store, run_dir, tiny_benchmark, SubmissionInfo("again")).created


@pytest.mark.slow
def test_runs_found_through_mlflow(recorded, tmp_path):
    """A real SQLite MLflow store (its schema migrations take most of the time)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("paper-test", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment, tags={"vcval.run_dir": str(recorded / "runs" / "ccgs-42")})
    client.set_terminated(run.info.run_id)
    # The folder still holds that run: the harness records the run id beside it once logged.
    (recorded / "runs" / "ccgs-42" / "tracking.json").write_text(json.dumps({"run_id": run.info.run_id}))
    moved = client.create_run(experiment)  # its folder is gone: the artifacts are the copy
    client.log_artifacts(moved.info.run_id, str(recorded / "runs" / "dense+span-1"))
    client.set_terminated(moved.info.run_id)
    assert resolve_run(run.info.run_id, uri) == recorded / "runs" / "ccgs-42"
    folders = mlflow_run_folders("paper-test", uri)
    assert sorted(entry_from_run(folder).meta.name for folder in folders) == ["ccgs", "dense+span"]
    with pytest.raises(ConfigError, match="neither a run folder"):
        resolve_run("0123456789abcdef", uri)
