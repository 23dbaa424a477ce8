"""``vcval validate``, ``vcval score``, ``vcval compare`` and ``vcval convert``: thin wrappers over
:mod:`benchmark.predictions`, :mod:`benchmark.scoring`, :mod:`benchmark.comparison` and :mod:`benchmark.convert`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.comparison import compare
from benchmark.convert import SOURCE_FORMATS, TVR_TASKS, convert
from benchmark.data import load_benchmark
from benchmark.data.sampling import sample_questions
from benchmark.errors import ConfigError
from benchmark.metrics import TASKS, VIDEO_RANK_MODES
from benchmark.outputs import check_output, is_stdout, write_json
from benchmark.predictions import DEFAULT_MAX_BYTES, check_predictions, validate_predictions
from benchmark.scoring import score, write_per_query
from benchmark.stats import MAX_RESAMPLES, PAIRED_METHODS
from vcval import arguments
from vcval.data_command import add_data_arguments, data_inputs, load_from_arguments


def _add_split_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--split", required=True, help="train, val (validation) or test")
    parser.add_argument("--corpus", default="full",
                        help="videos a candidate may point to: full (every video, default), split, or split+N")
    parser.add_argument("--task", choices=TASKS, default=None,
                        help="corpus or localization (default: the file header's, else corpus)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="questions without a line are not an error: they score 0")
    parser.add_argument("--max-bytes", type=arguments.byte_count, default=DEFAULT_MAX_BYTES,
                        help=f"size limit of the file and of what a gzip expands to (default {DEFAULT_MAX_BYTES})")
    parser.add_argument("--max-questions", type=arguments.count, default=0,
                        help="only the seeded sample of this many questions that a protocol with this "
                             "max_questions (and --sample-seed as its corpus_seed) evaluates (default 0: all)")
    parser.add_argument("--sample-seed", type=arguments.seed, default=0, help="seed of that sample (default 0)")


def _add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video-rank", choices=VIDEO_RANK_MODES, default="distinct",
                        help="rank videos by distinct video in order of first appearance (default) or count every "
                             "candidate row as a rank (as TVR's VR and the CMIVQA scorer do)")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="seed of the resampling (default 0)")


def register(subparsers) -> None:
    validate_parser = subparsers.add_parser(
        "validate", help="check a predictions file against a split",
        description="Check a predictions file (format version 1) against a split: exit 0 when valid, else "
                    "print every problem with its line, qid and field and exit 1.")
    validate_parser.add_argument("predictions", type=Path, help="predictions JSONL (optionally .gz)")
    _add_split_arguments(validate_parser)
    validate_parser.add_argument("--max-problems", type=arguments.positive_count, default=50, help="problems to list (default 50)")
    validate_parser.set_defaults(handler=_validate)

    score_parser = subparsers.add_parser(
        "score", help="score a predictions file: every metric with a 95%% bootstrap interval",
        description="Validate, then score a predictions file: retrieval, localization and joint metrics in "
                    "percent with percentile-bootstrap 95% intervals, and the same by answer and video length.")
    score_parser.add_argument("predictions", type=Path, help="predictions JSONL (optionally .gz)")
    _add_split_arguments(score_parser)
    _add_scoring_arguments(score_parser)
    score_parser.add_argument("--bootstrap", type=arguments.resamples, default=1000,
                              help=f"bootstrap resamples (default 1000, 0: none, at most {MAX_RESAMPLES})")
    score_parser.add_argument("--json", type=arguments.output_path, default=None,
                              help="write metrics, intervals and provenance here (-: standard output)")
    score_parser.add_argument("--per-query", type=arguments.output_path, default=None,
                              help="write per-question values (JSONL) here")
    score_parser.set_defaults(handler=_score)

    compare_parser = subparsers.add_parser(
        "compare", help="paired test of two predictions files on the same questions",
        description="Score two predictions files on the same split and test each metric's difference with a "
                    "paired test; p-values are adjusted by Holm across the metrics.")
    compare_parser.add_argument("predictions_a", type=Path, help="system A's predictions")
    compare_parser.add_argument("predictions_b", type=Path, help="system B's predictions")
    _add_split_arguments(compare_parser)
    _add_scoring_arguments(compare_parser)
    compare_parser.add_argument("--method", choices=PAIRED_METHODS, default="randomization",
                                help="approximate randomization (default) or paired bootstrap")
    compare_parser.add_argument("--resamples", type=arguments.resamples, default=10000,
                                help=f"resamples (default 10000, at most {MAX_RESAMPLES})")
    compare_parser.add_argument("--metrics", default=None,
                                help="comma-separated metric keys to test (default: every metric)")
    compare_parser.add_argument("--json", type=arguments.output_path, default=None,
                                help="write the comparison here (-: standard output)")
    compare_parser.set_defaults(handler=_compare)

    convert_parser = subparsers.add_parser(
        "convert", help="import predictions from TVR, MedVidQA 2024 or CMIVQA formats",
        description="Convert another evaluator's prediction file into a vcval predictions file (version 1).")
    convert_parser.add_argument("--from", dest="source_format", required=True, choices=SOURCE_FORMATS)
    convert_parser.add_argument("input", type=Path, help="file in the source format")
    convert_parser.add_argument("output", type=arguments.output_path, help="vcval predictions file to write (.jsonl or .jsonl.gz)")
    convert_parser.add_argument("--tvr-task", choices=TVR_TASKS, default=None,
                                help="which TVR predictions to import (default: VCMR, else SVMR, else VR)")
    convert_parser.add_argument("--data-dir", type=Path, default=None,
                                help="data folder: needed for CMIVQA track-1 files, whose lines name no video")
    convert_parser.add_argument("--split", default=None, help="split of --data-dir the file predicts")
    convert_parser.add_argument("--system", default=None, help="system name for the header (default: file name)")
    convert_parser.set_defaults(handler=_convert)


def _load(args: argparse.Namespace):
    benchmark = load_from_arguments(args)
    split = sample_questions(benchmark.split(args.split), args.max_questions, args.sample_seed)
    return benchmark, split, benchmark.corpus(args.split, args.corpus)


def _validate(args: argparse.Namespace) -> int:
    _, split, corpus = _load(args)
    problems = validate_predictions(args.predictions, split, corpus, args.task, args.allow_missing,
                                    max_bytes=args.max_bytes, max_problems=args.max_problems)
    if not problems:
        print(f"{args.predictions}: valid for split '{split.name}' ({len(split.annotations)} questions)")
        return 0
    counted = sum(1 for p in problems if p.line is not None or p.qid is not None or p.field is not None)
    print(f"{args.predictions}: invalid", file=sys.stderr)
    for problem in problems:
        print(f"  {problem.render()}", file=sys.stderr)
    print(f"{counted} problem(s) listed", file=sys.stderr)
    return 1


def _score(args: argparse.Namespace) -> int:
    if args.json is not None and args.per_query is not None and is_stdout(args.json) and is_stdout(args.per_query):
        raise ConfigError("--json and --per-query cannot both be - (standard output)")
    protected = [args.predictions, *data_inputs(args)]
    for option, path in (("--json", args.json), ("--per-query", args.per_query)):
        if path is not None:
            check_output(path, protected, option=option)
    benchmark, split, corpus = _load(args)
    loaded = check_predictions(args.predictions, split, corpus, task=args.task, allow_missing=args.allow_missing,
                               max_bytes=args.max_bytes)
    report = score(loaded, split, task=args.task, video_rank=args.video_rank, bootstrap=args.bootstrap,
                   seed=args.seed, allow_missing=args.allow_missing,
                   meta={"data_fingerprint": benchmark.fingerprint, "dataset": benchmark.name,
                         "corpus": args.corpus, "predictions": str(args.predictions),
                         "system": loaded.header.get("system")})
    # With an output on standard output, the human-readable text goes to stderr.
    # The files first: a reader that closes the text early (`| head`) must not cost them.
    if args.json:
        write_json(args.json, report.to_dict())
    if args.per_query:
        write_per_query(args.per_query, report)
    say = _say(args.json, args.per_query)
    say(report.render())
    for written in (args.json, args.per_query):
        if written:
            say(f"wrote {written}")
    return 0


def _say(*outputs):
    """``print`` to stdout, or to stderr when one of ``outputs`` is standard output."""
    stream = sys.stderr if any(path is not None and is_stdout(path) for path in outputs) else sys.stdout
    return lambda text: print(text, file=stream)


def _compare(args: argparse.Namespace) -> int:
    if args.json is not None:
        check_output(args.json, [args.predictions_a, args.predictions_b, *data_inputs(args)], option="--json")
    benchmark, split, corpus = _load(args)
    reports = []
    for path in (args.predictions_a, args.predictions_b):
        loaded = check_predictions(path, split, corpus, task=args.task, allow_missing=args.allow_missing,
                                   max_bytes=args.max_bytes)
        reports.append(score(loaded, split, task=args.task, video_rank=args.video_rank, bootstrap=0,
                             allow_missing=args.allow_missing))
    keys = [k.strip() for k in args.metrics.split(",")] if args.metrics else None
    unknown = [k for k in keys or () if k not in reports[0].metrics or k not in reports[1].metrics]
    if unknown:
        raise ConfigError(f"--metrics: unknown metric(s) {unknown}; known: {', '.join(reports[0].metrics)}")
    comparison = compare(reports[0], reports[1], keys=keys, method=args.method, n_resamples=args.resamples,
                         seed=args.seed, name_a=str(args.predictions_a), name_b=str(args.predictions_b))
    if args.json:  # before the text, as in _score
        write_json(args.json, {**comparison.to_dict(), "data_fingerprint": benchmark.fingerprint, "split": split.name})
    say = _say(args.json)
    say(comparison.render())
    if args.json:
        say(f"wrote {args.json}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    check_output(args.output, [args.input, args.data_dir], option="output")
    split = None
    if args.data_dir is not None:
        if args.split is None:
            raise ConfigError("--data-dir needs --split")
        split = load_benchmark(args.data_dir).split(args.split)
    result = convert(args.source_format, args.input, args.output, split=split, tvr_task=args.tvr_task,
                     system=args.system)
    note = f", {result.n_truncated} candidates past the first 100 dropped" if result.n_truncated else ""
    print(f"wrote {result.path}: {result.n_questions} questions, {result.n_candidates} candidates, "
          f"task {result.task}{note}")
    return 0
