"""``vcval data describe`` and ``vcval data synth``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmark.data import load_benchmark
from benchmark.data.describe import describe, render_description
from benchmark.data.sources import FORMATS
from benchmark.data.synthetic import SIZES, generate
from benchmark.outputs import check_output, is_stdout, write_json
from vcval import arguments


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command that reads a data folder shares."""
    parser.add_argument("--data-dir", required=True, type=Path, help="data folder (CCGS layout or MedVidQA JSON)")
    parser.add_argument("--format", dest="data_format", choices=FORMATS, default=None,
                        help="layout of --data-dir (default: detected)")
    parser.add_argument("--subtitles", dest="subtitles_dir", type=Path, default=None,
                        help="MedVidQA only: folder of <video_id>.json (YouTube captions), .vtt or .srt files")
    parser.add_argument("--features", dest="features_dir", type=Path, default=None,
                        help="folder of <video_id>.npy video features (default: DATA_DIR/features/I3D)")


def load_from_arguments(args: argparse.Namespace):
    return load_benchmark(args.data_dir, args.data_format, args.subtitles_dir, args.features_dir)


def data_inputs(args: argparse.Namespace) -> list[Path | None]:
    """The folders (or file) of the data options: no output may be written inside them."""
    return [getattr(args, name, None) for name in ("data_dir", "subtitles_dir", "features_dir")]


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="describe a data folder or generate synthetic MedVidCQA",
                                 description="Inspect data folders and generate synthetic MedVidCQA.")
    data_commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")

    describe_parser = data_commands.add_parser(
        "describe", help="questions, videos, hours, lengths and coverage per split",
        description="Per split: questions, videos, hours, mean video and answer length, subtitle and feature "
                    "coverage, and the data fingerprint.")
    add_data_arguments(describe_parser)
    describe_parser.add_argument("--json", type=arguments.output_path, default=None,
                                 help="also write the statistics to this file (-: standard output)")
    describe_parser.set_defaults(handler=_describe)

    synth = data_commands.add_parser(
        "synth", help="generate synthetic MedVidCQA (deterministic by seed)",
        description="Write a synthetic data set in the CCGS layout. Sizes: tiny (seconds), mini (the demo), "
                    "full (MedVidCQA's size: 2710/145/155 questions over 800/49/50 videos).")
    synth.add_argument("--out", required=True, type=Path, help="output folder")
    synth.add_argument("--size", choices=tuple(SIZES), default="tiny")
    synth.add_argument("--seed", type=arguments.seed, default=0)
    synth.add_argument("--no-features", action="store_true", help="write no I3D-like feature files")
    synth.set_defaults(handler=_synth)
    data.set_defaults(handler=lambda args: data.print_help(sys.stderr) or 2)  # no subcommand


def _describe(args: argparse.Namespace) -> int:
    if args.json:
        check_output(args.json, data_inputs(args), option="--json")
    description = describe(load_from_arguments(args))
    if args.json and is_stdout(args.json):
        write_json(args.json, description)
        return 0
    print(render_description(description))
    if args.json:
        write_json(args.json, description)
        print(f"\nwrote {args.json}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = generate(args.out, args.size, args.seed, features=not args.no_features)
    print(f"wrote synthetic '{args.size}' (seed {args.seed}) to {out} in {time.perf_counter() - started:.1f} s")
    return 0
