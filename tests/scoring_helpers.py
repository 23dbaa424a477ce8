"""Small in-memory splits and predictions files for the scorer's tests (no data folder needed)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.records import Annotation, SplitData, Video

GOLDEN = Path(__file__).parent / "golden"


def small_split(name: str = "test") -> SplitData:
    """Three questions over videos g1 (100 s), g2 (200 s), plus a distractor x (50 s)."""
    videos = {"g1": Video("g1", 100.0), "g2": Video("g2", 200.0), "x": Video("x", 50.0)}
    annotations = (
        Annotation("q1", "how to one", "g1", 10.0, 30.0, 100.0),
        Annotation("q2", "how to two", "g2", 0.0, 50.0, 200.0),
        Annotation("q3", "how to three", "g1", 60.0, 70.0, 100.0),
    )
    return SplitData(name, annotations, videos)


def good_lines() -> list[dict]:
    return [
        {"qid": "q1", "candidates": [{"video_id": "g1", "start": 10.0, "end": 20.0, "score": 0.9},
                                     {"video_id": "x", "start": 0.0, "end": 5.0}]},
        {"qid": "q2", "candidates": [{"video_id": "x", "start": 0, "end": 50}, {"video_id": "g2", "start": 0, "end": 50}]},
        {"qid": "q3", "candidates": []},
    ]


def write_lines(path: Path, lines: list, header: dict | None = None) -> Path:
    """Write JSON values (or raw strings, written as they are) one per line."""
    texts = [] if header is None else [json.dumps(header)]
    texts += [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path
