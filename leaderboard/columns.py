"""Which scorer metrics a leaderboard shows, in what order, under which headers: the paper's layout.

The metric keys themselves are the scorer's (:mod:`benchmark.scoring`); this module only arranges them.
The corpus-track layout is the CCGS paper's 16 numbers: video retrieval (R@1, R@5, R@10, MRR) and, for
the first 1, 5 and 10 candidates, the answer span at IoU 0.3 / 0.5 / 0.7 and the mean IoU.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    """One metric column: the scorer's key, a short label, and the header group it sits under."""

    key: str
    label: str
    group: str
    heading: str  # the label when there is a single header row: "Video R@1", "R@5 IoU=0.5"


def _span_columns(prefix: str, group: str, short: str) -> tuple[Column, ...]:
    labels = {"IoU0.3": "IoU=0.3", "IoU0.5": "IoU=0.5", "IoU0.7": "IoU=0.7", "mIoU": "mIoU"}
    return tuple(Column(f"{prefix}_{suffix}", label, group, f"{short} {label}") for suffix, label in labels.items())


CORPUS_COLUMNS: tuple[Column, ...] = (
    Column("video_R1", "R@1", "Video retrieval", "Video R@1"),
    Column("video_R5", "R@5", "Video retrieval", "Video R@5"),
    Column("video_R10", "R@10", "Video retrieval", "Video R@10"),
    Column("video_MRR", "MRR", "Video retrieval", "Video MRR"),
    *_span_columns("R1", "Rank@1", "R@1"),
    *_span_columns("R5", "Rank@5", "R@5"),
    *_span_columns("R10", "Rank@10", "R@10"),
)

_LOCALIZATION = "Localization in the gold video"
LOCALIZATION_COLUMNS: tuple[Column, ...] = (
    *_span_columns("loc_R1", _LOCALIZATION, "Loc")[:3],
    Column("loc_mIoU", "mIoU", _LOCALIZATION, "Loc mIoU"),
)


def columns_for(task: str) -> tuple[Column, ...]:
    return CORPUS_COLUMNS if task == "corpus" else LOCALIZATION_COLUMNS


def group_spans(columns: tuple[Column, ...]) -> list[tuple[str, int]]:
    """Consecutive header groups with their widths, for two-row table headers."""
    spans: list[tuple[str, int]] = []
    for column in columns:
        if spans and spans[-1][0] == column.group:
            spans[-1] = (column.group, spans[-1][1] + 1)
        else:
            spans.append((column.group, 1))
    return spans
