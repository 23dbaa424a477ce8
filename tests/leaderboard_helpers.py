"""Predictions files of chosen quality for the leaderboard tests: a seeded simulated system that puts
the gold video first with some probability and jitters the gold span by some fraction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.predictions import write_predictions
from benchmark.records import Candidate, Prediction, SplitData, Video


def simulated_predictions(split: SplitData, corpus: dict[str, Video], *, first_rate: float, jitter: float,
                          seed: int, n_candidates: int = 5) -> list[Prediction]:
    rng = np.random.default_rng(seed)
    video_ids = sorted(corpus)
    predictions = []
    for annotation in split.annotations:
        others = [v for v in video_ids if v != annotation.video_id]
        order = list(rng.permutation(others))
        if rng.random() < first_rate:
            order.insert(0, annotation.video_id)
        elif rng.random() < 0.6:
            order.insert(int(rng.integers(1, max(2, min(n_candidates, len(order) + 1)))), annotation.video_id)
        candidates = []
        for video_id in order[:n_candidates]:
            duration = corpus[video_id].duration
            if video_id == annotation.video_id:
                length = annotation.end - annotation.start
                shift = rng.normal(0.0, jitter) * max(length, 1.0)
                start = float(np.clip(annotation.start + shift, 0.0, duration))
                end = float(np.clip(annotation.end + shift, start, duration))
            else:
                start = float(rng.uniform(0.0, duration * 0.8))
                end = float(min(duration, start + rng.uniform(5.0, 40.0)))
            candidates.append(Candidate(video_id, round(start, 2), round(end, 2)))
        predictions.append(Prediction(annotation.qid, tuple(candidates)))
    return predictions


def write_simulated(path: Path, split: SplitData, corpus: dict[str, Video], *, first_rate: float, jitter: float,
                    seed: int, task: str = "corpus") -> Path:
    predictions = simulated_predictions(split, corpus, first_rate=first_rate, jitter=jitter, seed=seed)
    if task == "localization":
        predictions = [Prediction(p.qid, tuple(c for c in p.candidates if c.video_id == split.by_qid[p.qid].video_id)
                                  or (Candidate(split.by_qid[p.qid].video_id, 0.0, 1.0),))
                       for p in predictions]
    return write_predictions(path, predictions, header={"split": split.name, "task": task})


HOSTILE_NAME = 'CCGS <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & 50%_x #1'

# (name, first_rate, jitter, seed): three systems from clearly weak to clearly strong.
DEMO_SYSTEMS = (
    ("BM25 + sliding window", 0.35, 0.9, 1),
    ("Dense + span", 0.55, 0.5, 2),
    (HOSTILE_NAME, 0.9, 0.05, 3),
)


# Links that `vcval submit` refuses today, as an entry stored by an earlier version may still hold them:
# a script link, and links that try to break out of a Markdown link and table row.
HOSTILE_LINKS = {
    0: {"url": "https://example.org/>)<img src=x onerror=alert(4)>", "paper": "https://arxiv.org/a\n| injected |"},
    1: {"paper": "javascript:alert(1)"},
}


def populate_store(store_root: Path, benchmark, work: Path, split: str = "test"):
    """Submit the three :data:`DEMO_SYSTEMS` to a store, then give two of them the :data:`HOSTILE_LINKS`;
    returns their :class:`SubmitResult`s."""
    import json

    from leaderboard.entry import SubmissionInfo, read_entry
    from leaderboard.store import SubmissionStore, SubmitResult, submit_predictions

    store = SubmissionStore(store_root)
    data, corpus = benchmark.split(split), benchmark.corpus(split)
    results = []
    for index, (name, first_rate, jitter, seed) in enumerate(DEMO_SYSTEMS):
        path = write_simulated(work / f"system{index}.jsonl", data, corpus, first_rate=first_rate, jitter=jitter,
                               seed=seed)
        info = SubmissionInfo(name, authors="Li & Weng_" if index == 2 else "Anon", url="https://example.org/a?b=1&c=2",
                              paper="https://arxiv.org/abs/2210.05423", notes="<b>notes</b> 100%")
        result = submit_predictions(store, path, benchmark, split, info)
        if index in HOSTILE_LINKS:
            meta_path = result.entry.path / "meta.json"
            meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), **HOSTILE_LINKS[index]}))
            result = SubmitResult(read_entry(result.entry.path), result.created)
        results.append(result)
    return results


def fake_run(folder: Path, benchmark, *, system: str, seed: int, first_rate: float, jitter: float,
             labels: dict | None = None, split: str = "test") -> Path:
    """A run folder in the harness's layout (``manifest.json``, ``predictions.jsonl``, ``scores.json``,
    ``per_query.jsonl``), scored by the real scorer under the bound ``medvidcqa-paper`` protocol."""
    import json

    from benchmark.harness.manifest import RunEnvironment, RunManifest
    from benchmark.protocol import load_protocol
    from benchmark.scoring import score, write_per_query

    protocol = load_protocol("medvidcqa-paper").bind(benchmark.name, benchmark.fingerprint, split)
    data, corpus = benchmark.split(split), benchmark.corpus(split, protocol.corpus_setting)
    folder.mkdir(parents=True, exist_ok=True)
    predictions = write_simulated(folder / "predictions.jsonl", data, corpus, first_rate=first_rate, jitter=jitter,
                                  seed=seed)
    report = score(predictions, data, task=protocol.task, video_rank=protocol.video_rank, bootstrap=200, seed=0,
                   corpus=corpus, meta={"data_fingerprint": benchmark.fingerprint, "protocol_hash": protocol.hash})
    (folder / "scores.json").write_text(json.dumps(report.to_dict()))
    write_per_query(folder / "per_query.jsonl", report)
    manifest = RunManifest(system=system, config={}, split=protocol.split, seed=seed, protocol=protocol,
                           protocol_hash=protocol.hash, data_dir=str(benchmark.data_dir), selection="validation",
                           deviations=(), timings_s={}, wall_time_s=1.0, finished_at_ms=1_700_000_000_000 + seed,
                           environment=RunEnvironment(git_commit="unknown", git_dirty=None, versions={}, device="cpu",
                                                      platform="test"),
                           experiment="vcval-test", run_name=f"{system} seed {seed}", labels=labels or {})
    (folder / "manifest.json").write_text(json.dumps(manifest.to_dict()))
    return folder
