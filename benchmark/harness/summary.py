"""The one-screen summaries printed at the end of a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from benchmark.metrics import SUMMARY_METRICS

if TYPE_CHECKING:
    from benchmark.harness.runner import RunResult



def headline_keys(metrics: Mapping[str, float], keys: Sequence[str] = SUMMARY_METRICS) -> list[str]:
    return [key for key in keys if key in metrics]


def render_metric_table(metrics: Mapping[str, float], ci: Mapping[str, Sequence[float]],
                        keys: Sequence[str]) -> str:
    lines = [f"  {'metric':<14} {'value':>7}   95% interval"]
    for key in keys:
        interval = ci.get(key)
        bounds = f"[{interval[0]:6.2f}, {interval[1]:6.2f}]" if interval else "-"
        lines.append(f"  {key:<14} {metrics[key]:7.2f}   {bounds}")
    return "\n".join(lines)


def render_run_summary(result: RunResult) -> str:
    protocol = result.protocol
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings.items())
    lines = [
        f"{result.system} on {protocol.dataset} {protocol.split}: {result.n_questions} questions, "
        f"protocol {protocol.name} ({protocol.short_hash}), corpus {protocol.corpus}, seed {result.seed}",
        render_metric_table(result.metrics, result.ci, headline_keys(result.metrics)),
        f"  wall time {result.wall_time_s:.1f} s ({steps})",
        f"  outputs: {result.out_dir} (manifest.json, predictions.jsonl, scores.json, per_query.jsonl, plots/)",
    ]
    if result.deviations:
        lines.append(f"  deviations from the protocol: {'; '.join(result.deviations)}")
    tracking = result.tracking
    if tracking is None:
        lines.append("  MLflow: not tracked (--no-track)")
    elif tracking.logged:
        lines.append(f"  MLflow: run {tracking.run_id} in experiment '{tracking.experiment}' at {tracking.uri}")
    else:
        lines.append(f"  MLflow: NOT logged: {tracking.warning}")
    return "\n".join(lines)
