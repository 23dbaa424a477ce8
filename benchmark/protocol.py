"""Protocols: the frozen, hashed record of everything that makes two runs comparable.

A protocol fixes the evaluated split, the corpus each question is searched against, the candidate cap,
the reported IoU thresholds and ranks, the text and video budgets handed to models, the seeds, how models
are selected, and the bootstrap of the intervals. Named protocols ship as YAML files in
``benchmark/protocols/``; any other YAML file with the same fields works too (``--protocol FILE``). Every
protocol mapping is read by :func:`benchmark.options.read_options`, the reader of every settings file (names
and types); :class:`Protocol` checks what its types cannot say.

A shipped protocol leaves the data open; :meth:`Protocol.bind` pins it to a loaded data folder (its name
and content fingerprint) and to the evaluated split. The hash of a bound protocol is what every run
records: two runs are comparable exactly when their hashes are equal.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import StrictFloat, StrictInt

from benchmark.data.corpus import CorpusSetting
from benchmark.data.sources import canonical_split
from benchmark.errors import ConfigError, DataError, VcvalError
from benchmark.metrics import TASKS, VIDEO_RANK_MODES
from benchmark.metrics.suite import IOU_THRESHOLDS, RECALL_KS
from benchmark.options import load_yaml, read_options
from benchmark.predictions import MAX_CANDIDATES
from benchmark.stats import MAX_RESAMPLES

PROTOCOL_PACKAGE = "benchmark.protocols"
DEFAULT_PROTOCOL = "medvidcqa-paper"
# What a protocol may choose from is what the metrics compute and the predictions format allows.
SUPPORTED_IOU_THRESHOLDS = IOU_THRESHOLDS
SUPPORTED_RECALL_AT = RECALL_KS
# Seeds go to numpy, random and torch; numpy's global seed takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1
# Fields that describe a protocol but do not change what its runs measure: left out of the hash.
_UNHASHED_FIELDS = ("name", "description")
# Fields added after runs were recorded: while unset they leave the hash as it was.
_HASHED_WHEN_SET = ("max_questions",)


@dataclass(frozen=True)
class Protocol:
    """Everything that defines a comparable run. See ``docs/harness.md`` for each field."""

    name: str
    description: str = ""
    task: str = "corpus"
    split: str = "test"
    corpus: str = "split"
    corpus_seed: StrictInt = 0
    max_candidates: StrictInt = MAX_CANDIDATES
    iou_thresholds: tuple[StrictFloat, ...] = SUPPORTED_IOU_THRESHOLDS
    recall_at: tuple[StrictInt, ...] = SUPPORTED_RECALL_AT
    video_rank: str = "distinct"
    max_tokens: StrictInt = 1300
    feature_clips: StrictInt = 768
    seeds: tuple[StrictInt, ...] = (42,)
    selection_split: str = "validation"
    selection_metric: str = "R1_mIoU"
    bootstrap: StrictInt = 1000
    bootstrap_seed: StrictInt = 0
    max_questions: StrictInt | None = None
    dataset: str | None = None
    data_fingerprint: str | None = None

    def __post_init__(self) -> None:
        """What the field types cannot say; a protocol read from a file gets here through
        :func:`protocol_from_mapping`, which puts the file's name in front of these errors."""
        _check_protocol(self)

    @property
    def corpus_setting(self) -> CorpusSetting:
        return CorpusSetting.parse(self.corpus, seed=self.corpus_seed)

    @property
    def is_bound(self) -> bool:
        return self.data_fingerprint is not None and self.dataset is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples become lists), in field order."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of every field that changes what is measured."""
        content = {key: value for key, value in self.to_dict().items()
                   if key not in _UNHASHED_FIELDS and not (key in _HASHED_WHEN_SET and value is None)}
        return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    def replace(self, **changes: Any) -> Protocol:
        """A copy with some fields changed, read like a protocol file (errors start ``protocol 'NAME'``)."""
        return protocol_from_mapping(self.to_dict() | changes, f"protocol '{self.name}'")

    def bind(self, data_name: str, data_fingerprint: str, split: str | None = None) -> Protocol:
        """This protocol pinned to one data folder's content and to the evaluated ``split``.

        A protocol that already names a fingerprint refuses other data: comparing runs on different data is
        exactly what a protocol exists to prevent."""
        if self.data_fingerprint is not None and self.data_fingerprint != data_fingerprint:
            raise DataError(
                f"protocol '{self.name}' is pinned to data fingerprint {self.data_fingerprint[:12]}, but the data "
                f"folder has {data_fingerprint[:12]}: runs on different data are not comparable",
                field="data_fingerprint")
        return self.replace(dataset=data_name, data_fingerprint=data_fingerprint, split=split or self.split)


def named_protocols() -> list[str]:
    """Names of the protocols that ship with the package."""
    folder = resources.files(PROTOCOL_PACKAGE)
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def load_protocol(name_or_path: str | Path | None = None) -> Protocol:
    """A shipped protocol by name (default ``medvidcqa-paper``) or a protocol YAML/JSON file by path."""
    name_or_path = name_or_path or DEFAULT_PROTOCOL
    text_name = str(name_or_path)
    if text_name in named_protocols():
        source = f"{PROTOCOL_PACKAGE}/{text_name}.yaml"
        text = resources.files(PROTOCOL_PACKAGE).joinpath(f"{text_name}.yaml").read_text(encoding="utf-8")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f"unknown protocol '{text_name}': not a shipped protocol "
                              f"({', '.join(named_protocols())}) nor a file")
        source, text = str(path), path.read_text(encoding="utf-8")
    try:
        mapping = load_yaml(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from error
    return protocol_from_mapping(mapping, source)


def protocol_from_mapping(mapping: Any, source: str = "protocol") -> Protocol:
    """Validate a mapping (a parsed protocol file, or a run's recorded ``protocol.json``) into a protocol.

    Names and types go through :func:`benchmark.options.read_options`, the reader of every settings file;
    what a type cannot say (drawn from the scorer's thresholds, seeds in range, ...) is checked by
    :class:`Protocol` itself. Every error starts with ``source``."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{source}: a protocol must be a mapping of fields, got {type(mapping).__name__}")
    return read_options(Protocol, mapping, where=source, noun="field")


def _check_protocol(protocol: Protocol) -> None:
    """The checks a field's type cannot express. Errors name the field; their reader adds the file."""
    if protocol.task not in TASKS:
        raise ConfigError(f"field 'task' must be one of {', '.join(TASKS)}, got {protocol.task!r}")
    try:
        CorpusSetting.parse(protocol.corpus, seed=protocol.corpus_seed)
        # 'val' and 'dev' name the validation split: store the canonical name so that the hash agrees.
        object.__setattr__(protocol, "split", canonical_split(protocol.split))
        object.__setattr__(protocol, "selection_split", canonical_split(protocol.selection_split))
    except VcvalError as error:
        raise ConfigError(str(error)) from error
    if protocol.split == "train":
        raise ConfigError("field 'split' must be validation or test: systems train on train")
    if protocol.selection_split == "test":
        raise ConfigError("field 'selection_split' must not be test: selecting on the test answers would leak them")
    if not 1 <= protocol.max_candidates <= MAX_CANDIDATES:
        raise ConfigError(f"field 'max_candidates' must be between 1 and {MAX_CANDIDATES}, "
                          f"got {protocol.max_candidates}")
    for key in ("iou_thresholds", "recall_at", "seeds"):
        if not getattr(protocol, key):
            raise ConfigError(f"field '{key}' must be a non-empty list")
    if not set(protocol.iou_thresholds) <= set(SUPPORTED_IOU_THRESHOLDS):
        raise ConfigError(f"field 'iou_thresholds' must be drawn from {list(SUPPORTED_IOU_THRESHOLDS)} "
                          f"(the scorer's), got {list(protocol.iou_thresholds)}")
    if not set(protocol.recall_at) <= set(SUPPORTED_RECALL_AT):
        raise ConfigError(f"field 'recall_at' must be drawn from {list(SUPPORTED_RECALL_AT)} "
                          f"(the scorer's), got {list(protocol.recall_at)}")
    if protocol.video_rank not in VIDEO_RANK_MODES:
        raise ConfigError(f"field 'video_rank' must be one of {', '.join(VIDEO_RANK_MODES)}, "
                          f"got {protocol.video_rank!r}")
    for key in ("max_tokens", "feature_clips"):
        if getattr(protocol, key) < 1:
            raise ConfigError(f"field '{key}' must be positive, got {getattr(protocol, key)}")
    if protocol.max_questions is not None and protocol.max_questions < 1:
        raise ConfigError(f"field 'max_questions' must be positive or null, got {protocol.max_questions}")
    if not 0 <= protocol.bootstrap <= MAX_RESAMPLES:
        raise ConfigError(f"field 'bootstrap' must be from 0 (no intervals) to {MAX_RESAMPLES}, "
                          f"got {protocol.bootstrap}")
    for key, values in (("corpus_seed", [protocol.corpus_seed]), ("bootstrap_seed", [protocol.bootstrap_seed]),
                        ("seeds", list(protocol.seeds))):
        if not all(0 <= value <= MAX_SEED for value in values):
            raise ConfigError(f"field '{key}' must be from 0 to {MAX_SEED}, got "
                              f"{values[0] if key != 'seeds' else values}")
    if len(set(protocol.seeds)) != len(protocol.seeds):
        raise ConfigError(f"field 'seeds' repeats a seed: {list(protocol.seeds)}")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
