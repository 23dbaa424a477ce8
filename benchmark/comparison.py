"""Paired comparison of two systems on the same questions: a test per metric, Holm across metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from benchmark.errors import InputError
from benchmark.scoring import ScoreReport, aligned_values
from benchmark.stats import PairedResult, holm, paired_test


@dataclass(frozen=True)
class MetricComparison:
    key: str
    result: PairedResult
    p_holm: float


@dataclass(frozen=True)
class Comparison:
    """One paired test per metric, with Holm-adjusted p-values across the metrics compared."""

    name_a: str
    name_b: str
    n_questions: int
    method: str
    n_resamples: int
    seed: int
    rows: tuple[MetricComparison, ...]

    def to_dict(self) -> dict:
        return {"a": self.name_a, "b": self.name_b, "n_questions": self.n_questions, "method": self.method,
                "n_resamples": self.n_resamples, "seed": self.seed,
                "metrics": {row.key: {**asdict(row.result), "ci": list(row.result.ci), "p_holm": row.p_holm}
                            for row in self.rows}}

    def render(self) -> str:
        lines = [f"A = {self.name_a}", f"B = {self.name_b}",
                 f"{self.n_questions} paired questions, {self.method} test, {self.n_resamples} resamples, "
                 f"seed {self.seed}; p adjusted by Holm over {len(self.rows)} metrics", ""]
        width = max((len(row.key) for row in self.rows), default=6)
        lines.append(f"{'metric':<{width}}  {'A':>6}  {'B':>6}  {'A-B':>7}  {'95% interval':>17}  "
                     f"{'p':>7}  {'p_holm':>7}  win/tie/loss")
        for row in self.rows:
            r = row.result
            mark = " *" if row.p_holm < 0.05 else ""
            lines.append(f"{row.key:<{width}}  {r.mean_a:6.2f}  {r.mean_b:6.2f}  {r.difference:+7.2f}  "
                         f"[{r.ci[0]:+7.2f}, {r.ci[1]:+7.2f}]  {r.p_value:7.4f}  {row.p_holm:7.4f}  "
                         f"{r.wins}/{r.ties}/{r.losses}{mark}")
        lines.append("")
        lines.append("* significant at 0.05 after Holm; win = A better on that question")
        return "\n".join(lines)


def compare_per_query(rows_a: Sequence[Mapping], rows_b: Sequence[Mapping], keys: Sequence[str], *,
                      method: str = "randomization", n_resamples: int = 10000, seed: int = 0,
                      name_a: str = "A", name_b: str = "B") -> Comparison:
    """Compare two per-question value sets (``ScoreReport.per_query`` or :func:`read_per_query` rows)."""
    if not keys:
        raise InputError("no metric to compare", field="metrics")
    results = []
    for key in keys:
        a, b = aligned_values(rows_a, rows_b, key)
        results.append(paired_test(a, b, method=method, n_resamples=n_resamples, seed=seed))
    adjusted = holm([r.p_value for r in results])
    rows = tuple(MetricComparison(key, result, float(p)) for key, result, p in zip(keys, results, adjusted, strict=True))
    return Comparison(name_a, name_b, len(rows_a), method, n_resamples, seed, rows)


def compare(report_a: ScoreReport, report_b: ScoreReport, *, keys: Sequence[str] | None = None,
            method: str = "randomization", n_resamples: int = 10000, seed: int = 0,
            name_a: str = "A", name_b: str = "B") -> Comparison:
    """Compare two reports on the same split, over every metric both report (or ``keys``)."""
    if report_a.meta.get("split_fingerprint") != report_b.meta.get("split_fingerprint"):
        raise InputError("the two reports were scored on different splits", field="split_fingerprint")
    keys = list(keys) if keys else [k for k in report_a.metrics if k in report_b.metrics]
    return compare_per_query(report_a.per_query, report_b.per_query, keys, method=method,
                             n_resamples=n_resamples, seed=seed, name_a=name_a, name_b=name_b)
