"""``run_system``: one system, one protocol, one seed — trained, selected, run once on the evaluated split,
scored, written to a run folder and logged to MLflow.

The run folder holds everything (the record; MLflow only indexes it)::

    OUT/manifest.json        system, config, bound protocol and its hash, seed, environment, timings
    OUT/predictions.jsonl    the system's candidates (predictions format v1, with header)
    OUT/scores.json          {"metrics", "ci", "n_questions", "meta"} from benchmark.scoring
    OUT/slices.json          the metrics by answer-length and video-length bucket
    OUT/per_query.jsonl      one line per question: gold, rank, every metric
    OUT/plots/*.png          recall curves and the IoU distribution
    OUT/summary.txt          the one-screen summary printed at the end
    OUT/tracking.json        where MLflow logged it, or why it could not

The folder is built beside ``OUT`` and renamed into place only when complete; an ``OUT`` that already holds
a run is refused unless ``overwrite`` (see :mod:`benchmark.harness.run_folder`). The manifest records the
sha256 of ``predictions.jsonl`` and ``scores.json`` (``files_sha256``), which every reader checks.

Launched as several processes (``torchrun``, ``accelerate launch``; see :mod:`benchmark.harness.processes`),
every process builds, fits and predicts (a system may share that work out, as CCGS does) and scores in
memory, but only the main process writes the run folder, logs to MLflow and prints; the others then wait
for it at a barrier and return the same result.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmark import progress
from benchmark.data import Benchmark, load_benchmark
from benchmark.errors import ConfigError, VcvalError
from benchmark.harness.environment import environment
from benchmark.harness.isolation import evaluated_split, system_inputs
from benchmark.harness.manifest import RunManifest
from benchmark.harness.plots import write_plots
from benchmark.harness.processes import is_main_process, wait_for_everyone
from benchmark.harness.run_folder import (
    MANIFEST_FILE,
    SCORES_FILE,
    hash_files,
    read_verified_manifest,
    refuse_existing_run,
)
from benchmark.harness.settings import merge_config, nested_setting
from benchmark.harness.summary import render_run_summary
from benchmark.options import PROTOCOL_SOURCES
from benchmark.outputs import write_json, write_text
from benchmark.ownership import folder_files, move_into_place, staging_folder, write_marker
from benchmark.predictions import write_predictions
from benchmark.protocol import Protocol, load_protocol
from benchmark.records import LocalizationQuery, Prediction, Question
from benchmark.registry import config_defaults, create_system, protocol_keys, resolve_system
from benchmark.scoring import read_per_query, read_score_file, score, write_per_query
from benchmark.systems import fitted_settings
from benchmark.tracking import TrackingResult, log_run_folder, warn

TRACKING_FILE = "tracking.json"  # written into the run folder after it is in place, when the run is tracked


class SystemOutputError(VcvalError):
    """A system returned predictions that do not answer exactly the questions it was asked."""


@dataclass(frozen=True)
class RunResult:
    """What one run produced; every file it names is under ``out_dir``."""

    system: str
    config: dict[str, Any]
    protocol: Protocol
    seed: int
    out_dir: Path
    metrics: dict[str, float]
    ci: dict[str, list[float]]
    n_questions: int
    per_query: list[dict[str, Any]] = field(repr=False)
    wall_time_s: float
    timings: dict[str, float]
    deviations: list[str]
    tracking: TrackingResult | None
    imported_from: Path | None = None
    """The published predictions file a grid imported this run from (``imports``); None for a run folder."""

    @property
    def predictions_path(self) -> Path:
        return self.out_dir / "predictions.jsonl"

    def summary(self) -> str:
        return render_run_summary(self)


def run_system(system: str, data: Benchmark | str | Path | Callable[[], Benchmark], out_dir: str | Path, *,
               split: str | None = None, protocol: Protocol | str | Path | None = None,
               config: Mapping[str, Any] | None = None, seed: int | None = None, track: bool = True,
               tracking_uri: str | None = None, experiment: str | None = None, run_name: str | None = None,
               labels: Mapping[str, str] | None = None, echo: bool = True, overwrite: bool = False,
               quiet: bool = False, folder_kind: str = "run") -> RunResult:
    """Run ``system`` under ``protocol`` (default ``medvidcqa-paper``) on ``data`` and write ``out_dir``.

    ``data`` is a loaded benchmark, a data folder, or a function that loads one (called after the system
    is built, so that a bad setting fails before the data is read).

    ``split`` overrides the protocol's evaluated split, ``seed`` its first seed. ``labels`` become extra
    ``vcval.*`` MLflow tags (the ablation grid tags its cells). With ``track=False`` nothing is logged.
    An ``out_dir`` that already holds a run raises :class:`~benchmark.harness.run_folder.RunFolderError`
    unless ``overwrite``; it is replaced only once the new run is complete, and only when its marker says
    it is a folder of ``folder_kind`` (``run``, or ``ablation-cell`` for a grid's cells) holding only the
    files its run wrote (:mod:`benchmark.ownership`). Training and inference show
    progress on stderr (:mod:`benchmark.progress`) unless ``quiet`` or not ``echo``.
    """
    out_dir = Path(out_dir)
    what = "vcval ablate" if folder_kind == "ablation-cell" else "vcval run"
    refuse_existing_run(out_dir, overwrite, kind=folder_kind, what=what)
    if not is_main_process():
        return _follow_main_process(out_dir, system, data, split=split, protocol=protocol, config=config,
                                    seed=seed, experiment=experiment, run_name=run_name, labels=labels)
    staging = staging_folder(out_dir)
    try:
        with progress.quiet(quiet or not echo):
            result = _run_into(staging, out_dir, system, data, split=split, protocol=protocol, config=config,
                               seed=seed, experiment=experiment, run_name=run_name, labels=labels, echo=echo)
        write_marker(staging, folder_kind, made_by=f"vcval run {system}",
                     files=[*folder_files(staging), TRACKING_FILE])
        refuse_existing_run(out_dir, overwrite, kind=folder_kind, what=what)  # again: files added meanwhile
        move_into_place(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    say = print if echo else _silent
    tracking = None
    if track:
        with _timed(result.timings, "track", say, "MLflow"):
            tracking = log_run_folder(out_dir, uri=tracking_uri)
        _write_json(out_dir / TRACKING_FILE, tracking.to_dict())
        if tracking.warning:
            warn(tracking.warning)
    result = dataclasses.replace(result, tracking=tracking)
    say(result.summary())
    wait_for_everyone()
    return result


def load_run(out_dir: str | Path) -> RunResult:
    """A finished run read back from its folder, once its files are checked against its manifest (a folder
    that does not check out raises :class:`~benchmark.harness.run_folder.RunFolderError`)."""
    out_dir = Path(out_dir)
    manifest = read_verified_manifest(out_dir)
    scores = read_score_file(out_dir / SCORES_FILE)
    manifest.check_protocol_hash(str(out_dir / MANIFEST_FILE))
    return RunResult(manifest.system, manifest.config, manifest.protocol, manifest.seed, out_dir,
                     dict(scores.metrics), {k: list(v) for k, v in scores.ci.items()}, scores.n_questions,
                     read_per_query(out_dir / "per_query.jsonl"), manifest.wall_time_s,
                     dict(manifest.timings_s), list(manifest.deviations), None)


def _follow_main_process(out_dir: Path, system: str, data, **settings) -> RunResult:
    """A process other than the main one: the same run, scored in memory, nothing written nor printed; it
    returns once the main process has written the run folder."""
    with progress.quiet():
        result = _run_into(None, out_dir, system, data, echo=False, **settings)
    wait_for_everyone()
    return result


def _run_into(staging: Path | None, out_dir: Path, system: str, data: Benchmark | str | Path | Callable[[], Benchmark], *,
              split: str | None,
              protocol: Protocol | str | Path | None, config: Mapping[str, Any] | None, seed: int | None,
              experiment: str | None, run_name: str | None, labels: Mapping[str, str] | None,
              echo: bool) -> RunResult:
    """Everything of a run but its tracking, written to ``staging`` (which becomes ``out_dir``); with no
    ``staging`` (a process other than the main one), scored in memory and written nowhere."""
    started = time.perf_counter()
    say = print if echo else _silent
    timings: dict[str, float] = {}
    protocol = protocol if isinstance(protocol, Protocol) else load_protocol(protocol)
    seed = protocol.seeds[0] if seed is None else int(seed)
    # The system is built (its configuration cast and checked) before any data is loaded or model trained.
    build_started = time.perf_counter()
    entry = resolve_system(system)
    given = dict(config or {})
    config, deviations = system_config(given, protocol_keys(entry), protocol, seed)
    set_global_seeds(seed)
    instance = create_system(system, config)
    sources = value_sources(given, protocol_keys(entry), protocol, seed, config_defaults(entry, given))
    timings["build"] = round(time.perf_counter() - build_started, 3)
    load_started = time.perf_counter()
    benchmark = data if isinstance(data, Benchmark) else data() if callable(data) else load_benchmark(data)
    protocol = protocol.bind(benchmark.name, benchmark.fingerprint, split)
    timings["load"] = round(time.perf_counter() - load_started, 3)
    say(f"vcval run {system} | protocol {protocol.name} ({protocol.short_hash}) | data {benchmark.name} "
        f"({benchmark.fingerprint[:12]}) | split {protocol.split} | seed {seed}")
    for deviation in deviations if echo else ():
        warn(f"this run deviates from protocol '{protocol.name}': {deviation}")
    for source in sources if echo else ():
        warn(f"setting {source}")
    set_global_seeds(seed)  # again: building the system may have imported torch or drawn numbers
    inputs = system_inputs(benchmark, protocol)
    with _timed(timings, "fit", say, f"on {len(inputs.training.train.annotations)} train questions, "
                                     f"selection on {inputs.selection}"):
        instance.fit(inputs.training)
    with _timed(timings, "predict", say, f"{len(inputs.queries)} questions x {len(inputs.corpus)} videos"):
        if protocol.task == "localization":
            predictions = instance.predict_localization(cast(tuple[LocalizationQuery, ...], inputs.queries),
                                                        inputs.corpus, protocol.max_candidates)
        else:
            predictions = instance.predict(cast(tuple[Question, ...], inputs.queries), inputs.corpus,
                                           protocol.max_candidates)
    predictions = order_predictions(predictions, [q.qid for q in inputs.queries], system)

    evaluated = evaluated_split(benchmark, protocol)
    header = {"dataset": benchmark.name, "split": protocol.split, "system": system, "task": protocol.task}
    scored: Path | list[Prediction] = predictions
    if staging is not None:
        scored = write_predictions(staging / "predictions.jsonl", predictions, header)
    with _timed(timings, "score", say, f"validation and {protocol.bootstrap} bootstrap resamples"):
        # Scoring the written file validates it first (every candidate in the corpus, within its video).
        report = score(scored, evaluated, task=protocol.task, video_rank=protocol.video_rank,
                       bootstrap=protocol.bootstrap, seed=protocol.bootstrap_seed, corpus=inputs.corpus,
                       meta={"data_fingerprint": benchmark.fingerprint, "protocol_hash": protocol.hash,
                             "system": system})
    if staging is None:
        return RunResult(system, config, protocol, seed, out_dir, dict(report.metrics), dict(report.ci),
                         report.n_questions, report.per_query, time.perf_counter() - started, timings, deviations,
                         None)
    write_started = time.perf_counter()
    _write_json(staging / "scores.json", report.to_dict())
    _write_json(staging / "slices.json", report.slices)
    write_per_query(staging / "per_query.jsonl", report)
    write_plots(staging / "plots", report.metrics, report.per_query, protocol,
                title=f"{system} on {benchmark.name} {protocol.split}")
    run_environment = environment()
    timings["write"] = round(time.perf_counter() - write_started, 3)
    wall_time = time.perf_counter() - started
    manifest = RunManifest(
        system=system, config=config, split=protocol.split, seed=seed, protocol=protocol,
        protocol_hash=protocol.hash, data_dir=str(benchmark.data_dir), selection=inputs.selection,
        fitted=fitted_settings(instance), deviations=tuple(deviations), value_sources=tuple(sources), timings_s=timings, wall_time_s=wall_time,
        finished_at_ms=int(time.time() * 1000), environment=run_environment,
        experiment=experiment or f"vcval-{protocol.name}", run_name=run_name or f"{system} seed {seed}",
        labels=dict(labels or {}), files_sha256=hash_files(staging))
    _write_json(staging / MANIFEST_FILE, manifest.to_dict())
    result = RunResult(system, config, protocol, seed, out_dir, dict(report.metrics), dict(report.ci),
                       report.n_questions, report.per_query, wall_time, timings, deviations, None)
    write_text(staging / "summary.txt", result.summary() + "\n")
    return result


def system_config(config: Mapping[str, Any], protocol_keys: Mapping[str, str], protocol: Protocol,
                  seed: int) -> tuple[dict[str, Any], list[str]]:
    """The system's configuration with the protocol's settings filled in, and any deviations from them.

    ``protocol_keys`` (declared by a factory) maps a config key (dotted for nested ones) to what the
    protocol fixes: ``seed`` (the run's seed) or a protocol field. A key the user's config leaves out takes
    the protocol's value; one it sets differently is kept and reported as a deviation."""
    merged = merge_config({}, config)
    deviations = []
    for key, source in protocol_keys.items():
        if source not in PROTOCOL_SOURCES:
            raise ConfigError(f"protocol_keys maps '{key}' to '{source}', expected one of {', '.join(PROTOCOL_SOURCES)}")
        wanted = seed if source == "seed" else getattr(protocol, source)
        present, value = _lookup(merged, key)
        if not present:
            merge_config(merged, nested_setting(key, wanted))
        elif value != wanted:
            deviations.append(f"config '{key}' = {value!r} where the protocol's {source} is {wanted!r}")
    return merged, deviations


def value_sources(config: Mapping[str, Any], protocol_keys: Mapping[str, str], protocol: Protocol, seed: int,
                  defaults: tuple[str, Mapping[str, Any]]) -> list[str]:
    """The protocol settings :func:`system_config` fills in over a different default of the system's own,
    in words: ``max_len 1300 from protocol medvidcqa-paper; preset tiny: 256``. ``defaults`` is where the
    system's defaults come from and their values by config key (:func:`benchmark.registry.config_defaults`)."""
    label, values = defaults
    merged, sources = merge_config({}, config), []
    for key, source in protocol_keys.items():
        wanted = seed if source == "seed" else getattr(protocol, source)
        if not _lookup(merged, key)[0] and key in values and values[key] != wanted:
            origin = "the run's seed" if source == "seed" else f"protocol {protocol.name}"
            sources.append(f"{key} {wanted!r} from {origin}; {label}: {values[key]!r}")
    return sources


def order_predictions(predictions: Sequence[Prediction], qids: Sequence[str], system: str) -> list[Prediction]:
    """The system's predictions in question order; exactly one per question asked, or an error."""
    if not isinstance(predictions, (list, tuple)):
        raise SystemOutputError(f"system '{system}' returned {type(predictions).__name__}, expected a list of "
                                "Prediction")
    by_qid: dict[str, Prediction] = {}
    for index, prediction in enumerate(predictions):
        if not isinstance(prediction, Prediction):
            raise SystemOutputError(f"system '{system}': item {index} is {type(prediction).__name__}, not a "
                                    "Prediction")
        if prediction.qid in by_qid:
            raise SystemOutputError(f"system '{system}' predicted question '{prediction.qid}' twice")
        by_qid[prediction.qid] = prediction
    missing = [qid for qid in qids if qid not in by_qid]
    extra = sorted(set(by_qid) - set(qids))
    if missing or extra:
        raise SystemOutputError(f"system '{system}' must answer exactly the {len(qids)} questions asked: "
                                f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} not asked "
                                f"(e.g. {extra[:3]})")
    return [by_qid[qid] for qid in qids]


def set_global_seeds(seed: int) -> None:
    """Seed Python's, NumPy's and (when a system has imported it) torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _lookup(config: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """Find ``a.b`` either nested (``{"a": {"b": ...}}``) or flat (``{"a.b": ...}``)."""
    if dotted in config:
        return True, config[dotted]
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


class _timed:
    """Time a step into ``timings`` and print one line when it ends."""

    def __init__(self, timings: dict[str, float], name: str, say, detail: str) -> None:
        self.timings, self.name, self.say, self.detail = timings, name, say, detail

    def __enter__(self) -> None:
        self.say(f"  {self.name:<8} {self.detail} ...", flush=True)
        self.started = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.timings[self.name] = round(time.perf_counter() - self.started, 3)
        if exc[0] is None:
            self.say(f"  {self.name:<8} done in {self.timings[self.name]:.1f} s")


def _write_json(path: Path, value: Any) -> None:
    write_json(path, value, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _silent(*args, **kwargs) -> None:
    return None
