"""vcval metrics for Hugging Face ``evaluate``: the same numbers as ``vcval score``, from lists.

Load with ``evaluate.load("path/to/benchmark/evaluate_metric")`` (or ``benchmark.evaluate_metric.METRIC_PATH``).
"""

import datasets
import evaluate
import numpy as np

from benchmark.metrics import per_question_metrics
from benchmark.metrics.retrieval import PAD

_DESCRIPTION = """Video corpus visual answer localization (VCVAL) metrics, in percent: video retrieval
(video_R{1,5,10,50,100}, video_MRR), joint retrieval and localization (R{K}_IoU{0.3,0.5,0.7}, R{K}_mIoU)
and localization in the gold video (loc_R1_IoU{0.3,0.5,0.7}, loc_mIoU). Definitions: docs/predictions.md."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one list per question of ranked candidates, best first, each
        {"video_id": str, "start": float, "end": float} (at most 100 are used).
    references: one gold answer per question, {"video_id": str, "start": float, "end": float}.
    task: "corpus" (default) or "localization" (every candidate lies in the gold video).
    video_rank: "distinct" (default: distinct videos in order of first appearance) or "rows".
Returns:
    a dict {metric key: value in percent}.
Example:
    >>> metric = evaluate.load("benchmark/evaluate_metric")
    >>> metric.compute(predictions=[[{"video_id": "v1", "start": 10.0, "end": 20.0}]],
    ...                references=[{"video_id": "v1", "start": 10.0, "end": 30.0}])["R1_IoU0.5"]
    100.0
"""

_CITATION = """@inproceedings{li2023ccgs,
  title={Learning to Locate Visual Answer in Video Corpus Using Question},
  author={Li, Bin and Weng, Yixuan and Sun, Bin and Li, Shutao},
  booktitle={ICASSP},
  year={2023}
}"""

_SPAN = {"video_id": datasets.Value("string"), "start": datasets.Value("float64"), "end": datasets.Value("float64")}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class VcvalMetric(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.List(_SPAN), "references": _SPAN}),
            reference_urls=["https://arxiv.org/abs/2210.05423"],
        )

    def _compute(self, predictions, references, task="corpus", video_rank="distinct"):
        code_of = {}
        for reference in references:
            code_of.setdefault(reference["video_id"], len(code_of))
        width = max([len(candidates[:100]) for candidates in predictions] + [1])
        codes = np.full((len(predictions), width), PAD, dtype=np.int64)
        starts = np.zeros((len(predictions), width))
        ends = np.zeros((len(predictions), width))
        for row, candidates in enumerate(predictions):
            for position, candidate in enumerate(candidates[:100]):
                codes[row, position] = code_of.setdefault(candidate["video_id"], len(code_of))
                starts[row, position] = candidate["start"]
                ends[row, position] = candidate["end"]
        gold_codes = np.array([code_of[r["video_id"]] for r in references])
        gold_starts = np.array([r["start"] for r in references], dtype=np.float64)
        gold_ends = np.array([r["end"] for r in references], dtype=np.float64)
        values, _ = per_question_metrics(codes, starts, ends, gold_codes, gold_starts, gold_ends, task=task,
                                         video_rank=video_rank)
        return {key: float(column.mean()) if len(column) else 0.0 for key, column in values.items()}
