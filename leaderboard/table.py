"""From stored entries to leaderboard tables: grouping, ranking, intervals and ties with the best.

Only entries with the same split, task, protocol and data fingerprint are comparable, so each such
group gets its own :class:`LeaderboardTable`. In every column the best value is marked, and so is every
entry that a paired test on the same questions cannot tell apart from the best (Holm-corrected over the
entries compared in that column). Renderers only format what this module decides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.data.sources import SPLITS, canonical_split
from benchmark.metrics import PRIMARY_METRIC
from leaderboard import escape
from leaderboard.columns import Column, columns_for
from leaderboard.entry import Entry
from leaderboard.significance import p_values_against_best

ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class Cell:
    value: float | None
    low: float | None = None
    high: float | None = None
    best: bool = False
    # Not significantly different from the best on the same questions (the best itself included).
    tied_with_best: bool = False
    p_value: float | None = None  # Holm-adjusted p of the paired test against the best
    spread: float | None = None  # standard deviation over seeds, when the entry averages several runs


@dataclass(frozen=True)
class Row:
    entry: Entry
    rank: int
    cells: dict[str, Cell]


@dataclass(frozen=True)
class LeaderboardTable:
    split: str
    task: str
    protocol: str
    protocol_hash: str
    data_fingerprint: str
    dataset: str
    columns: tuple[Column, ...]
    headline: str
    rows: tuple[Row, ...]
    alpha: float = ALPHA
    scorer_version: str = ""

    @property
    def title(self) -> str:
        return f"{self.dataset} {self.split}, {self.task} track, protocol {self.protocol}"

    @property
    def slug(self) -> str:
        """A short file-name-safe identifier, unique per group: a hash of the group, never its text."""
        key = (self.split, self.task, self.protocol_hash, self.data_fingerprint, self.scorer_version)
        return f"{_slug_word(self.split)}-{_slug_word(self.task)}-{escape.file_key(*key)}"


def _slug_word(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch in "abcdefghijklmnopqrstuvwxyz0123456789")[:16] or "x"


def build_tables(entries: Iterable[Entry], split: str | None = None, alpha: float = ALPHA) -> list[LeaderboardTable]:
    """One table per comparable group (:attr:`EntryMeta.group_key`), test split first, then by task,
    protocol, fingerprint and scorer version."""
    wanted = canonical_split(split) if split else None
    groups: dict[tuple[str, ...], list[Entry]] = defaultdict(list)
    for entry in entries:
        if wanted is None or canonical_split(entry.meta.split) == wanted:
            groups[entry.meta.group_key].append(entry)
    split_order = {name: index for index, name in enumerate(reversed(SPLITS))}
    keys = sorted(groups, key=lambda key: (split_order.get(key[0], len(SPLITS)), key[1:]))
    return [_build_table(groups[key], alpha) for key in keys]


def _build_table(entries: Sequence[Entry], alpha: float) -> LeaderboardTable:
    meta = entries[0].meta
    columns = columns_for(meta.task)
    headline = PRIMARY_METRIC[meta.task]
    ordered = sorted(entries, key=lambda e: (-e.metrics.get(headline, float("-inf")), e.meta.name, e.meta.entry_id))
    cells_by_entry: list[dict[str, Cell]] = [{} for _ in ordered]
    for column in columns:
        for index, cell in enumerate(_column_cells(ordered, column.key, alpha)):
            cells_by_entry[index][column.key] = cell
    rows = []
    previous_value, rank = None, 0
    for position, (entry, cells) in enumerate(zip(ordered, cells_by_entry, strict=True), start=1):
        value = entry.metrics.get(headline)
        if value != previous_value:
            rank, previous_value = position, value
        rows.append(Row(entry, rank, cells))
    return LeaderboardTable(meta.split, meta.task, meta.protocol, meta.protocol_hash, meta.data_fingerprint,
                            meta.dataset, columns, headline, tuple(rows), alpha, meta.scorer_version)


def _column_cells(entries: Sequence[Entry], key: str, alpha: float) -> list[Cell]:
    values = [entry.metrics.get(key) for entry in entries]
    present = [index for index, value in enumerate(values) if value is not None]
    if not present:
        return [Cell(None) for _ in entries]
    best_value = max(values[index] for index in present)  # type: ignore[type-var]
    best_index = next(index for index in present if values[index] == best_value)
    others = [index for index in present if values[index] != best_value]
    adjusted = _adjusted_p_values(entries, key, best_index, others)
    cells = []
    for index, entry in enumerate(entries):
        value = values[index]
        if value is None:
            cells.append(Cell(None))
            continue
        low, high = entry.ci.get(key, (None, None))
        is_best = value == best_value
        p_value = adjusted.get(index)
        tied = is_best or (p_value is not None and p_value >= alpha)
        cells.append(Cell(value, low, high, is_best, tied, p_value, entry.spread.get(key)))
    return cells


def _adjusted_p_values(entries: Sequence[Entry], key: str, best_index: int, others: list[int]) -> dict[int, float]:
    """Paired tests of each other entry against the best on the questions both answered."""
    if not others:
        return {}
    best = entries[best_index].per_query
    if key not in best.values:
        return {}
    pairs = []
    for index in others:
        per_query = entries[index].per_query
        if key not in per_query.values:
            continue
        shared = np.intersect1d(best.qids, per_query.qids)
        pairs.append((index, best.aligned(shared, key), per_query.aligned(shared, key)))
    adjusted = p_values_against_best([(a, b) for _, a, b in pairs])
    return {index: p for (index, _, _), p in zip(pairs, adjusted, strict=True)}
