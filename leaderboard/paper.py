"""The paper's tables, regenerated from what was recorded, never retyped.

Sources are folders (or ``mlflow:EXPERIMENT`` for runs logged to MLflow):

* a run folder written by the harness (``manifest.json``, ``scores.json``, ``per_query.jsonl``);
* an ablation grid's folder (``ablation.json`` and one run folder per variant and seed);
* a submissions store (entry folders with ``meta.json``);
* any folder above these: it is searched recursively.

**Main comparison** (``main.md`` / ``main.tex``): every run that is not part of an ablation grid and
every store entry, one row per system (runs of several seeds averaged, with the standard deviation),
in the paper's layout: video retrieval (R@1, R@5, R@10, MRR) and the answer span at Rank@1/5/10.
Rows are grouped by front end (random, BM25, dense, others, CCGS last; a rule between groups), weakest
first within a group.
As on the leaderboard, only runs with the same split, task, protocol and data share a table; the best
value is bold and a dagger marks a system that a paired test (per-question values averaged over seeds,
Holm-corrected) cannot tell from it. The leaderboard's plots are drawn for each table.

**Ablation** (``ablation.md`` / ``ablation.tex``): each grid's recorded comparison (``ablation.json``
written by ``vcval ablate``): mean and standard deviation over seeds, the difference from the base
and its Holm-corrected p-value, exactly as the harness computed them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from benchmark.errors import ConfigError
from benchmark.ownership import built_aside
from benchmark.tracking import warn
from leaderboard import escape
from leaderboard.entry import META_FILE, Entry, PerQuery
from leaderboard.plots import plot_tables
from leaderboard.render_text import render_latex_table, render_markdown
from leaderboard.runs import entry_from_run, is_staging, mlflow_run_folders
from leaderboard.store import read_checked_entry
from leaderboard.table import LeaderboardTable, build_tables

MLFLOW_PREFIX = "mlflow:"


@dataclass(frozen=True)
class Ablation:
    """One grid's recorded comparison (the harness's ``ablation.json``)."""

    path: Path
    record: Mapping[str, Any]


@dataclass(frozen=True)
class PaperSources:
    entries: list[Entry]  # store entries and single runs, one per seed
    grid_runs: list[Entry]  # runs that belong to an ablation grid
    ablations: list[Ablation]


@dataclass(frozen=True)
class PaperOutputs:
    main: list[LeaderboardTable]
    ablations: list[Ablation]
    files: list[Path]


def collect_sources(sources: Sequence[str | Path]) -> PaperSources:
    entries: list[Entry] = []
    grid_runs: list[Entry] = []
    ablations: list[Ablation] = []
    for source in sources:
        for run_dir in _run_folders(source):
            entry = entry_from_run(run_dir)
            (grid_runs if " grid:" in entry.meta.source else entries).append(entry)
        if isinstance(source, str) and source.startswith(MLFLOW_PREFIX):
            continue
        root = Path(source)
        if not root.exists():
            raise ConfigError(f"no such run folder, grid folder or store: {root}")
        entries += [read_checked_entry(meta.parent) for meta in sorted(root.rglob(META_FILE))
                    if not is_staging(meta.relative_to(root))]
        ablations += [Ablation(path, json.loads(path.read_text(encoding="utf-8")))
                      for path in sorted(root.rglob("ablation.json"))]
    return PaperSources(entries, grid_runs, ablations)


def _run_folders(source: str | Path) -> list[Path]:
    if isinstance(source, str) and source.startswith(MLFLOW_PREFIX):
        return mlflow_run_folders(source[len(MLFLOW_PREFIX):])
    root = Path(source)
    # A hidden staging folder is a run still being written (or one that was killed): not a record.
    return sorted(manifest.parent for manifest in root.rglob("manifest.json")
                  if not is_staging(manifest.relative_to(root)))


def average_seeds(entries: Sequence[Entry]) -> list[Entry]:
    """One entry per system, configuration and comparable group: metrics and per-question values averaged
    over its runs, which differ only in their seed, with the standard deviation of each metric over them.

    Runs are grouped by name *and* settings (their configuration without seeds): two settings of one
    system are two rows. A store entry is never averaged with anything, whatever its name. The same run
    found twice counts once, and of several runs with one seed the latest counts (with a warning)."""
    groups: dict[tuple, dict[int | None, Entry]] = defaultdict(dict)
    for entry in sorted(_distinct(entries), key=lambda e: e.meta.submitted):
        if entry.settings is None:
            key: tuple = ("entry", entry.meta.entry_id, str(entry.path))
        else:
            key = (*entry.meta.group_key, entry.meta.name, json.dumps(entry.settings, sort_keys=True, default=str))
        seeds = groups[key]
        if entry.seed in seeds and entry.settings is not None:
            warn(f"{escape.terminal(str(seeds[entry.seed].path), 300)} and {escape.terminal(str(entry.path), 300)} "
                 f"are runs of '{entry.meta.name}' with the same settings and seed {entry.seed}: only the later "
                 "one is used")
        seeds[entry.seed if entry.settings is not None else None] = entry
    averaged = []
    for members in (list(seeds.values()) for seeds in groups.values()):
        if len(members) == 1:
            averaged.append(members[0])
            continue
        keys = sorted(set.intersection(*(set(m.metrics) for m in members)))
        matrix = np.array([[m.metrics[k] for k in keys] for m in members])
        qids = members[0].per_query.qids
        values = {key: np.mean([m.per_query.aligned(qids, key) for m in members], axis=0)
                  for key in members[0].per_query.values if all(key in m.per_query.values for m in members)}
        first = members[0]
        meta = replace(first.meta, notes=f"mean of {len(members)} seeds")
        averaged.append(Entry(path=first.path, meta=meta, metrics=dict(zip(keys, matrix.mean(axis=0), strict=True)),
                              ci={}, n_questions=first.n_questions, scores={},
                              spread=dict(zip(keys, matrix.std(axis=0, ddof=1), strict=True)),
                              preloaded=PerQuery(qids, values, first.per_query.buckets), settings=first.settings))
    return distinct_names(averaged)


def _distinct(entries: Sequence[Entry]) -> list[Entry]:
    """Each record once, however many sources lead to it."""
    seen, kept = set(), []
    for entry in entries:
        key = (entry.settings is None, str(entry.path.resolve()))
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return kept


def distinct_names(entries: Sequence[Entry]) -> list[Entry]:
    """Rows of one comparable group that share a name are told apart in the name itself: a run by the
    settings in which it differs from the others of that name, a store entry by ``[entry <id>]``."""
    by_name: dict[tuple, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_name[(*entry.meta.group_key, entry.meta.name)].append(entry)
    renamed = {}
    for same in (group for group in by_name.values() if len(group) > 1):
        runs = [entry for entry in same if entry.settings is not None]
        keys = set().union(*(entry.settings for entry in runs))
        differing = sorted(key for key in keys if len({json.dumps(e.settings.get(key), default=str) for e in runs}) > 1)
        for entry in same:
            if entry.settings is None:
                suffix = f"[entry {entry.meta.entry_id[:8]}]"
            elif len(runs) > 1:
                suffix = "(" + ", ".join(f"{key}={entry.settings.get(key, 'default')}" for key in differing) + ")"
            else:
                continue  # the only run of that name keeps it
            renamed[id(entry)] = replace(entry, meta=replace(entry.meta, name=escape.visible(
                f"{entry.meta.name} {suffix}", escape.NAME_MAX_CHARS + 60)))
    return [renamed.get(id(entry), entry) for entry in entries]


# The main table lists systems by front end, as a paper does: chance, lexical, dense, anything else, and
# CCGS last; within a front end, weakest first.
FRONT_END_ORDER = ("random", "bm25", "dense")
LAST_FRONT_ENDS = ("ccgs",)


def front_end(name: str) -> str:
    """``bm25+window`` -> ``bm25``, ``bm25-passage`` -> ``bm25``, ``ccgs-paper`` -> ``ccgs``."""
    return name.split("+")[0].split("-")[0].split("/")[0].lower()


def paper_order(table: LeaderboardTable) -> tuple[LeaderboardTable, list[int]]:
    """The table's rows grouped by front end, and the positions where a new front end starts."""
    def family_rank(name: str) -> tuple[int, str]:
        family = front_end(name)
        if family in FRONT_END_ORDER:
            return (FRONT_END_ORDER.index(family), family)
        return (len(FRONT_END_ORDER) + (1 if family in LAST_FRONT_ENDS else 0), family)

    rows = sorted(table.rows, key=lambda row: (family_rank(row.entry.meta.name),
                                               row.entry.metrics.get(table.headline, 0.0), row.entry.meta.name))
    breaks = [index for index, row in enumerate(rows)
              if index and front_end(row.entry.meta.name) != front_end(rows[index - 1].entry.meta.name)]
    return replace(table, rows=tuple(rows)), breaks


def render_ablation_markdown(ablations: Sequence[Ablation]) -> str:
    parts = ["# Ablations", ""]
    if not ablations:
        parts.append("No ablation grid among the sources (run `vcval ablate GRID.yaml`).")
    for ablation in ablations:
        record = ablation.record
        metrics = list(record["metrics"])
        parts += [f"## {escape.markdown(record['grid'])}", ""]
        parts.append("| Variant | " + " | ".join(metrics) + " |")
        parts.append("|---|" + "---:|" * len(metrics))
        for variant in record["variants"]:
            cells = [escape.markdown(variant["name"]) + (" (base)" if variant["name"] == record["base"] else "")]
            for key in metrics:
                cell = f"{variant['mean'][key]:.2f} ± {variant['std'][key]:.2f}"
                comparison = variant.get("vs_base", {}).get(key)
                if comparison:
                    mark = "\\*" if comparison["significant"] else ""
                    cell += f" ({comparison['difference']:+.2f}{mark})"
                cells.append(cell)
            parts.append("| " + " | ".join(cells) + " |")
        parts += ["", _ablation_note(record), ""]
    return "\n".join(parts).rstrip() + "\n"


def _ablation_note(record: Mapping[str, Any]) -> str:
    protocol = record.get("protocol", {})
    return (f"{protocol.get('dataset', '')} {protocol.get('split', '')}, protocol {protocol.get('name', '')} "
            f"({str(record.get('protocol_hash', ''))[:12]}), seeds {', '.join(map(str, record.get('seeds', [])))}: "
            f"mean ± std over seeds; in brackets the difference from {record['base']}; * Holm-corrected "
            f"p < {record.get('alpha', 0.05)} ({record.get('test', 'paired test')}).")


def render_ablation_latex(ablations: Sequence[Ablation]) -> str:
    out = ["% Ablation tables, generated by `vcval paper` from ablation.json; needs \\usepackage{booktabs}."]
    for ablation in ablations:
        record = ablation.record
        metrics = list(record["metrics"])
        out += [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{l" + "c" * len(metrics) + "}",
                r"\toprule", " & ".join(["Variant", *(escape.latex(m) for m in metrics)]) + r" \\", r"\midrule"]
        for variant in record["variants"]:
            cells = [escape.latex(variant["name"])]
            for key in metrics:
                cell = f"{variant['mean'][key]:.2f}$\\pm${variant['std'][key]:.2f}"
                comparison = variant.get("vs_base", {}).get(key)
                if comparison:
                    mark = "$^*$" if comparison["significant"] else ""
                    cell += f" ({comparison['difference']:+.2f}{mark})"
                cells.append(cell)
            out.append(" & ".join(cells) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}",
                rf"\caption{{Ablation {escape.latex(record['grid'])}. {escape.latex(_ablation_note(record))}}}",
                rf"\label{{tab:ablation-{''.join(ch if ch.isalnum() else '-' for ch in record['grid'])}}}",
                r"\end{table}"]
    return "\n".join(out) + "\n"


PAPER_FILES = ("main.md", "main.tex", "ablation.md", "ablation.tex")


def _is_paper_file(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return name in PAPER_FILES or (len(parts) == 3 and parts[0] == "plots" and parts[2].endswith((".png", ".svg")))


def write_paper(sources: Sequence[str | Path], out_dir: str | Path, plots: bool = True) -> PaperOutputs:
    """Write ``main.{md,tex}``, ``ablation.{md,tex}`` and the main tables' plots under ``out_dir``."""
    collected = collect_sources(sources)
    out_dir = Path(out_dir)
    ordered = [paper_order(table) for table in build_tables(average_seeds(collected.entries))]
    main = [table for table, _ in ordered]
    main_tex = "% Main comparison, generated by `vcval paper`; needs \\usepackage{booktabs}.\n" + "\n".join(
        render_latex_table(table, caption=f"Main comparison: {table.title}", label=f"tab:main-{table.slug}",
                           break_before=breaks)
        for table, breaks in ordered)
    empty = "No recorded run outside an ablation grid, and no store entry, among the sources."
    texts = {"main.md": render_markdown(main, title="Main comparison", empty=empty), "main.tex": main_tex,
             "ablation.md": render_ablation_markdown(collected.ablations),
             "ablation.tex": render_ablation_latex(collected.ablations)}
    with built_aside(out_dir, "site", what="vcval paper", made_by="vcval paper", legacy=_is_paper_file) as staging:
        for name, text in texts.items():
            (staging / name).write_text(text, encoding="utf-8")
        written = [staging / name for name in texts]
        if plots:
            written += plot_tables(main, staging / "plots")
    files = [out_dir / path.relative_to(staging) for path in written]
    return PaperOutputs(main, collected.ablations, files)
