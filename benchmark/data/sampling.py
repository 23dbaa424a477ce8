"""A seeded sample of a split's questions: the same questions for the harness (a protocol's
``max_questions``, drawn with its ``corpus_seed``) and for ``vcval score --max-questions``."""

from __future__ import annotations

import random

from benchmark.records import SplitData


def sample_questions(split: SplitData, count: int | None, seed: int) -> SplitData:
    """``count`` questions of ``split`` drawn with ``seed``, in split order; the whole split when ``count`` is
    None, 0 or at least the split's size."""
    total = len(split.annotations)
    if not count or count >= total:
        return split
    keep = sorted(random.Random(seed).sample(range(total), count))
    annotations = tuple(split.annotations[i] for i in keep)
    return SplitData(split.name, annotations, {a.video_id: split.videos[a.video_id] for a in annotations},
                     sampled_from=total)
