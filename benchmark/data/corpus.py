"""Corpus settings: which videos a question of a split is searched against."""

from __future__ import annotations

import re
from dataclasses import dataclass

from benchmark.errors import ConfigError

_DISTRACTORS = re.compile(r"^(?:split)?\+(\d+)$")


@dataclass(frozen=True)
class CorpusSetting:
    """``split``: the videos of the split (the paper: 49 val / 50 test videos) plus those of corpus.json;
    ``full``: every video of every split; ``split+N``: the split's corpus plus N distractor videos drawn
    (seeded) from the other splits and corpus.json."""

    kind: str = "split"
    distractors: int = 0
    seed: int = 0

    @classmethod
    def parse(cls, text: str, seed: int = 0) -> CorpusSetting:
        text = text.strip().replace(" ", "")
        if text in ("split", "full"):
            return cls(kind=text, seed=seed)
        match = _DISTRACTORS.match(text)
        if match:
            return cls(kind="split", distractors=int(match.group(1)), seed=seed)
        raise ConfigError(f"unknown corpus setting '{text}', expected 'split', 'full' or 'split+N' (N distractor "
                          "videos)")

    def __str__(self) -> str:
        if self.kind == "full":
            return "full"
        return f"split+{self.distractors}" if self.distractors else "split"
