"""One leaderboard entry as it lies in the store: who submitted what, on which data, and its scores.

An entry folder holds ``meta.json`` (:class:`EntryMeta`), ``scores.json`` (the scorer's report:
metrics, 95% intervals, question count, scorer meta), ``per_query.jsonl.gz`` (one line per question:
its qid, its value of every metric, its answer- and video-length buckets) and the predictions,
gzipped. Reading is separate from writing (:mod:`leaderboard.store`) so that the renderers, the paper
tables and a notebook can all load entries without the scorer.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path

import numpy as np

from benchmark.errors import DataError
from benchmark.scoring import ScoreFile, ScoreFileError
from leaderboard import escape

META_FILE = "meta.json"
SCORES_FILE = "scores.json"
PER_QUERY_FILE = "per_query.jsonl.gz"
PREDICTIONS_FILE = "predictions.jsonl.gz"
ENTRY_FILES = (META_FILE, SCORES_FILE, PER_QUERY_FILE, PREDICTIONS_FILE)


@dataclass(frozen=True, slots=True)
class SubmissionInfo:
    """What the submitter tells about a submission; everything else is measured."""

    name: str
    authors: str = ""
    url: str = ""
    paper: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class EntryMeta:
    """``meta.json``: the submission's description, what makes two entries comparable, and the sha256 of
    the entry's other files (which tie its scores to its predictions)."""

    entry_id: str
    name: str
    authors: str
    url: str
    paper: str
    notes: str
    submitted: str  # ISO 8601, UTC
    dataset: str
    split: str
    task: str  # "corpus" or "localization"
    protocol: str  # the protocol's name
    protocol_hash: str  # sha256 of the protocol bound to the data and split (benchmark.protocol)
    data_fingerprint: str
    predictions_sha256: str  # of the decompressed predictions
    scorer_version: str
    source: str  # "file:<name>" or "run:<run id>"
    # sha256 of scores.json (its bytes) and of per_query.jsonl.gz (decompressed); "" in an entry written
    # before they were recorded (see docs/leaderboard.md, "Verified scores").
    scores_sha256: str = ""
    per_query_sha256: str = ""

    @property
    def group_key(self) -> tuple[str, str, str, str, str]:
        """Entries share a table only when all of these agree: the same questions, track, protocol and data,
        scored by the same scorer version."""
        return (self.split, self.task, self.protocol_hash, self.data_fingerprint, self.scorer_version)

    @property
    def verified(self) -> bool:
        """Whether the entry records the hashes of its scores (entries written before them do not)."""
        return bool(self.scores_sha256 and self.per_query_sha256)

    def to_dict(self) -> dict[str, object]:
        return {"schema_version": META_SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object], path: str) -> EntryMeta:
        """Read ``meta.json``'s fields (each a string; the two score hashes may be absent in an older entry).
        Text is made :func:`~leaderboard.escape.visible` and capped here, so that whatever an entry holds,
        every renderer and the terminal get one bounded line without control characters. A file without
        ``schema_version`` was written before it existed and reads as version 1; another version is refused."""
        version = data.get("schema_version", 1)
        if version != META_SCHEMA_VERSION or isinstance(version, bool):
            raise DataError(f"meta.json schema_version {version!r} cannot be read; this vcval reads version "
                            f"{META_SCHEMA_VERSION}", path=path, field="schema_version")
        values = {}
        for item in fields(cls):
            value = data.get(item.name, item.default if item.name in _OPTIONAL_FIELDS else None)
            if not isinstance(value, str):
                raise DataError(f"expected a string, got {type(value).__name__}", path=path, field=item.name)
            values[item.name] = escape.visible(value, _TEXT_CAPS.get(item.name, _OTHER_CAP))
        return cls(**values)


META_SCHEMA_VERSION = 1
"""The layout of ``meta.json`` (written into every new entry; see docs/leaderboard.md)."""
_OPTIONAL_FIELDS = ("scores_sha256", "per_query_sha256")
_TEXT_CAPS = {"name": escape.NAME_MAX_CHARS, "authors": escape.AUTHORS_MAX_CHARS, "notes": escape.NOTES_MAX_CHARS,
              "protocol": escape.PROTOCOL_NAME_MAX_CHARS, "url": escape.LINK_MAX_CHARS,
              "paper": escape.LINK_MAX_CHARS, "source": 500}
_OTHER_CAP = 100  # ids, hashes, split, task, dates, versions, dataset names


@dataclass(frozen=True)
class PerQuery:
    """Per-question values of one entry, aligned on ``qids``: metric arrays and length buckets."""

    qids: np.ndarray
    values: Mapping[str, np.ndarray]
    buckets: Mapping[str, np.ndarray] = field(default_factory=dict)

    def aligned(self, qids: np.ndarray, key: str) -> np.ndarray:
        """The values of ``key`` in the order of ``qids`` (every one of which must be present)."""
        order = {qid: index for index, qid in enumerate(self.qids.tolist())}
        return self.values[key][[order[qid] for qid in qids.tolist()]]


@dataclass(frozen=True)
class Entry:
    """A stored submission, read from its folder, or a recorded run (:mod:`leaderboard.paper`)."""

    path: Path
    meta: EntryMeta
    metrics: Mapping[str, float]
    ci: Mapping[str, tuple[float, float]]
    n_questions: int
    scores: Mapping[str, object]
    per_query_file: str = PER_QUERY_FILE
    # Standard deviation over seeds of each metric, for an entry that averages several runs.
    spread: Mapping[str, float] = field(default_factory=dict)
    preloaded: PerQuery | None = field(default=None, repr=False)
    # A recorded run's configuration without its seeds (flattened, ``bm25.k1``): runs with equal settings
    # are seeds of one system. None for a store entry, which is never averaged with anything.
    settings: Mapping[str, object] | None = None
    seed: int | None = None  # a recorded run's seed

    @cached_property
    def per_query(self) -> PerQuery:
        return self.preloaded or read_per_query(self.path / self.per_query_file)


# The most a meta.json or scores.json may hold: a few kilobytes in practice.
MAX_JSON_BYTES = 1 << 20
# Every metric, interval bound and per-question value is a percentage.
METRIC_RANGE = (0.0, 100.0)


def read_entry(folder: Path) -> Entry:
    """Load an entry folder; anything malformed raises :class:`DataError` naming the file and field.

    Every metric and interval bound must be a finite number in [0, 100] (an interval may be null):
    an entry with NaN or an out-of-range score is never ranked."""
    meta_path, scores_path = folder / META_FILE, folder / SCORES_FILE
    meta = EntryMeta.from_dict(read_json_object(meta_path), str(meta_path))
    scores = read_json_object(scores_path)
    try:
        recorded = ScoreFile.from_mapping(scores, str(scores_path))
    except ScoreFileError as error:
        raise DataError(str(error)) from None
    if not recorded.metrics:
        raise DataError("expected a non-empty object of numbers", path=str(scores_path), field="metrics")
    metrics = {key: check_percentage(value, str(scores_path), f"metrics.{key}")
               for key, value in recorded.metrics.items()}
    intervals = {}
    for key, pair in recorded.ci.items():
        if pair is None:
            raise DataError("expected a [low, high] pair", path=str(scores_path), field=f"ci.{key}")
        if any(bound is None or math.isnan(bound) for bound in pair):
            continue  # no interval (too few questions, or no bootstrap)
        low, high = (check_percentage(bound, str(scores_path), f"ci.{key}") for bound in pair)
        if low > high:
            raise DataError(f"the interval's low bound {low} is above its high bound {high}", path=str(scores_path),
                            field=f"ci.{key}")
        intervals[key] = (low, high)
    if recorded.n_questions < 1:
        raise DataError("expected a positive integer", path=str(scores_path), field="n_questions")
    return Entry(path=folder, meta=meta, metrics=metrics, ci=intervals, n_questions=recorded.n_questions,
                 scores=scores)


def check_percentage(value: object, path: str, field_name: str) -> float:
    """``value`` as a float when it is a finite number in :data:`METRIC_RANGE`, else :class:`DataError`."""
    low, high = METRIC_RANGE
    if not _is_number(value) or not math.isfinite(value) or not low <= value <= high:  # type: ignore[arg-type]
        raise DataError(f"expected a finite number from {low:g} to {high:g}, got {_shown(value)}", path=path,
                        field=field_name)
    return float(value)  # type: ignore[arg-type]


def write_per_query(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        for row in rows:
            packed.write((json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))


def read_per_query(path: Path, max_bytes: int = 1 << 30) -> PerQuery:
    """The scorer's per-question rows (JSON Lines, gzip or not): numeric fields (None read as NaN) become
    value arrays, fields named ``*_bucket`` become label arrays; other text (the gold video id) is left out.

    A missing, truncated or undecompressable file, a line that is not a JSON object, a line without a
    string ``qid``, a repeated qid or a file larger than ``max_bytes`` raises :class:`DataError`."""
    rows: list[dict] = []
    seen: set[str] = set()
    for number, line in enumerate(_lines(path, max_bytes), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise DataError(f"not JSON ({' '.join(str(error).split())[:120]})", path=str(path), line=number) from error
        if not isinstance(row, dict):
            raise DataError(f"expected a JSON object, got {type(row).__name__}", path=str(path), line=number)
        qid = row.get("qid")
        if not isinstance(qid, str) or not qid:
            raise DataError(f"expected a non-empty string, got {_shown(qid)}", path=str(path), line=number, field="qid")
        if qid in seen:
            raise DataError("the same question twice", path=str(path), line=number, field="qid")
        seen.add(qid)
        rows.append(row)
    if not rows:
        raise DataError("no per-question values", path=str(path))
    qids = np.array([row["qid"] for row in rows])
    keys = [key for key in rows[0] if key != "qid"]
    buckets = {key: np.array([str(row.get(key)) for row in rows]) for key in keys if key.endswith("_bucket")}
    values = {}
    for key in keys:
        column = [row.get(key) for row in rows]
        if key not in buckets and all(value is None or _is_number(value) for value in column):
            values[key] = np.array([np.nan if value is None else float(value) for value in column])
    return PerQuery(qids, values, buckets)


def _lines(path: Path, max_bytes: int):
    """The decoded lines of a text file, gzipped or not, with every read error as a :class:`DataError`."""
    total = 0
    try:
        with open(path, "rb") as probe:
            compressed = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            for raw in handle:
                total += len(raw)
                if total > max_bytes:
                    raise DataError(f"larger than {max_bytes} bytes", path=str(path))
                yield raw.decode("utf-8")
    except FileNotFoundError as error:
        raise DataError("missing", path=str(path)) from error
    except UnicodeDecodeError as error:
        raise DataError("not UTF-8 text", path=str(path)) from error
    except (OSError, EOFError, zlib.error) as error:  # truncated or corrupt gzip, unreadable file
        raise DataError(f"cannot be read ({' '.join(str(error).split())[:120]})", path=str(path)) from error


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(value: object) -> str:
    return escape.visible(repr(value), 40)


def read_json_object(path: Path, max_bytes: int = MAX_JSON_BYTES) -> dict:
    """A JSON object file; missing, too large, binary, malformed or not an object raises :class:`DataError`."""
    try:
        if path.stat().st_size > max_bytes:
            raise DataError(f"larger than {max_bytes} bytes", path=str(path))
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError as error:
        raise DataError("missing", path=str(path)) from error
    except UnicodeDecodeError as error:
        raise DataError("not UTF-8 text", path=str(path)) from error
    except json.JSONDecodeError as error:
        raise DataError(f"not JSON ({error.msg} at line {error.lineno})", path=str(path)) from error
    except (ValueError, RecursionError) as error:  # numbers too long, nesting too deep
        raise DataError(f"not readable JSON ({' '.join(str(error).split())[:120]})", path=str(path)) from error
    except OSError as error:
        raise DataError(f"cannot be read ({error.strerror or error})", path=str(path)) from error
    if not isinstance(data, dict):
        raise DataError("expected a JSON object", path=str(path))
    return data
