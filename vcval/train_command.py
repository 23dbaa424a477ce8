"""``vcval train ccgs``: CCGS's flags as a front end to the harness.

The flags become a system configuration and the run goes through :func:`benchmark.harness.run_system`,
exactly as ``vcval run ccgs --set ...`` would: the same defaults (preset ``improved``, the protocol's seed),
the same answer isolation (with ``--evaluate validation``, epochs are selected on held-out train videos),
the predictions file validated and scored, the protocol hash recorded. What this command adds is the
place of the model: checkpoints, ``best/``, ``last/`` and ``training_summary.json`` stay in ``--out``
(``--resume`` continues from them), and the run folder is ``OUT/<evaluated split>/``. An ``OUT`` that
holds another training is refused unless ``--overwrite`` (start again) or ``--resume`` with the same
settings (recorded in ``OUT/train_settings.json``).

Launched as several processes (``torchrun --nproc_per_node N -m vcval train ccgs ...``),
training is data-parallel and inference shared out; the main process alone claims ``OUT``, writes and
prints (:mod:`benchmark.harness.processes`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from benchmark.data.sources import canonical_split
from benchmark.errors import ConfigError
from benchmark.harness import run_system
from benchmark.harness.processes import is_main_process, wait_for_everyone
from benchmark.harness.run_folder import RunFolderError, read_verified_manifest
from benchmark.outputs import write_json
from benchmark.ownership import foreign_files, owned_by, shown_paths
from benchmark.protocol import load_protocol
from ccgs.config import PRESETS, CCGSConfig, settings_by_concern
from vcval import arguments
from vcval.data_command import add_data_arguments, load_from_arguments
from vcval.option_flags import add_option_flags
from vcval.run_command import add_protocol_arguments

# Flags that are CCGS settings (the ccgs.catalog.CCGSRunOptions below and every ccgs.config.CCGSConfig field
# but the seed, which is the run's: --seed), by dest.
_RUN_ARGUMENTS = ("preset", "retriever")
# Flags that are protocol settings (they change the recorded protocol and its hash), by dest.
_PROTOCOL_ARGUMENTS = {"corpus": "corpus", "max_candidates": "max_candidates", "bootstrap": "bootstrap",
                       "max_eval_questions": "max_questions"}


def _remove_training(out: Path) -> None:
    """Remove what a training wrote in ``out`` (its files and folders, and the run folders it made), and
    nothing else: a folder holding anything more is refused, naming it, before anything is removed."""
    foreign = []
    for entry in sorted(out.iterdir()):
        if entry.name in _TRAINING_MARKERS:
            continue
        if entry.is_dir() and not entry.is_symlink() and owned_by(entry, "run"):
            foreign.extend(entry / name for name in foreign_files(entry))
        else:
            foreign.append(entry)
    if foreign:
        raise RunFolderError(f"{out} holds {len(foreign)} file(s) or folder(s) that vcval train did not write "
                             f"({shown_paths(foreign)}); they are not deleted: move them out first, or give another --out")
    for entry in out.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a learned system (ccgs) through the harness",
                                  description="Train a learned system, select its best epoch and score it on a "
                                              "split, as `vcval run` does, keeping the model in --out.")
    systems = train.add_subparsers(dest="train_system", metavar="SYSTEM")
    ccgs = systems.add_parser(
        "ccgs", help="CCGS (Li et al., ICASSP 2023): cross-modal contrastive global-span",
        description="Train CCGS through the harness (the same run as `vcval run ccgs --set ...`): a checkpoint "
                    "every epoch (OUT/checkpoints), the best epoch on the protocol's selection split (OUT/best; "
                    "held-out train videos when --evaluate is that split), OUT/training_summary.json, and the "
                    "run folder OUT/<split>/ (manifest with the protocol hash, predictions, scores).")
    add_data_arguments(ccgs)
    ccgs.add_argument("--encoder", required=True, help="pre-trained encoder: Hugging Face name or local folder")
    ccgs.add_argument("--out", required=True, type=Path, help="output folder (the model, and a run folder per split)")
    ccgs.add_argument("--preset", choices=tuple(PRESETS), default=None,
                      help="settings preset (default: improved, as `vcval run ccgs`)")
    ccgs.add_argument("--resume", action="store_true",
                      help="continue from the last checkpoint in OUT (refused if OUT was trained with other settings)")
    ccgs.add_argument("--overwrite", action="store_true", help="delete the training OUT holds (refused if OUT holds anything else) and train from scratch")
    ccgs.add_argument("--quiet", action="store_true",
                      help="no progress bars nor epoch lines (bars show only when stderr is a terminal)")
    add_protocol_arguments(ccgs)
    settings = ccgs.add_argument_group("settings", "ccgs.config.CCGSConfig, by concern below (docs/ccgs.md); "
                                       "each flag given overrides the preset")
    settings.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                          help="any CCGS setting, as for `vcval run ccgs` (repeatable)")
    for concern, names in settings_by_concern().items():
        group = ccgs.add_argument_group(f"settings: {concern}")
        if "seed" in names:  # the run's seed, as `vcval run --seed`
            group.add_argument("--seed", type=arguments.seed, default=None,
                               help="run seed (default: the protocol's first seed)")
        add_option_flags(group, CCGSConfig, [name for name in names if name != "seed"],
                         aliases={"top_k_videos": ("--top-k",)})
    evaluation = ccgs.add_argument_group("evaluation")
    evaluation.add_argument("--evaluate", default="test",
                            help="split to evaluate (test, or validation: epochs are then selected on held-out "
                                 "train videos); default test")
    evaluation.add_argument("--corpus", default=None, help="corpus setting: split, full or split+N "
                            "(default: the protocol's)")
    evaluation.add_argument("--retriever", choices=("bm25",), default=None,
                            help="two-stage: score only this retriever's top videos (--top-k-videos, default 10)")
    evaluation.add_argument("--max-candidates", type=int, default=None, help="default: the protocol's (100)")
    evaluation.add_argument("--max-eval-questions", type=arguments.positive_count, default=None,
                            help="evaluate a seeded sample of this many questions (a bounded CPU budget; the "
                                 "protocol's max_questions, so it changes the protocol hash)")
    evaluation.add_argument("--bootstrap", type=arguments.resamples, default=None, help="default: the protocol's (1000)")
    ccgs.set_defaults(handler=_train_ccgs)
    train.set_defaults(handler=lambda args: train.print_help(sys.stderr) or 2)  # no subcommand


def ccgs_config(args: argparse.Namespace) -> dict[str, Any]:
    """The system configuration the flags stand for (typed and checked when the system is built)."""
    from benchmark.harness.settings import merge_config, parse_assignments

    names = _RUN_ARGUMENTS + tuple(field.name for field in dataclasses.fields(CCGSConfig) if field.name != "seed")
    config = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    config.update(encoder=args.encoder, out_dir=args.out, resume=args.resume)
    return merge_config(config, parse_assignments(args.assignments))


def _train_ccgs(args: argparse.Namespace) -> int:
    from ccgs.catalog import ccgs_system
    from ccgs.distributed import launched, process_state

    if launched():
        process_state()  # the process group, before the processes first wait for each other
    logging.basicConfig(level=logging.WARNING if args.quiet or not is_main_process() else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    protocol = load_protocol(args.protocol)
    changes = {field: getattr(args, dest) for dest, field in _PROTOCOL_ARGUMENTS.items()
               if getattr(args, dest) is not None}
    if changes:
        protocol = protocol.replace(**changes)
    split = canonical_split(args.evaluate)
    config = ccgs_config(args)
    ccgs_system(config)  # every setting cast and checked before the data is read
    benchmark = load_from_arguments(args)
    # threads change the speed only: a training may resume with another count
    flags = {key: value for key, value in config.items()
             if key not in ("encoder", "out_dir", "resume", "preset", "threads")}
    if is_main_process():
        _claim_out_folder(args.out, {"encoder": args.encoder, "preset": args.preset, "data_fingerprint":
                                     benchmark.fingerprint, "config": flags}, resume=args.resume,
                          overwrite=args.overwrite)
    wait_for_everyone()
    # A resumed training evaluates again: its run folder is replaced once the new run is complete.
    result = run_system("ccgs", benchmark, args.out / split, split=split, protocol=protocol, config=config,
                        seed=args.seed, track=not args.no_track, tracking_uri=args.tracking_uri,
                        experiment=args.experiment, quiet=args.quiet, overwrite=args.resume or args.overwrite)
    if not is_main_process():
        return 0
    summary = json.loads((args.out / "training_summary.json").read_text(encoding="utf-8"))
    selection = read_verified_manifest(result.out_dir).selection
    print(f"trained {len(summary['history'])} epochs in {summary['train_seconds']} s; best epoch "
          f"{summary['best_epoch']} (selected on {selection}); model in {args.out} (best/, last/, "
          f"checkpoints/, training_summary.json); run folder {result.out_dir}")
    return 0


_SETTINGS_FILE = "train_settings.json"
_TRAINING_MARKERS = (_SETTINGS_FILE, "training_summary.json", "checkpoints", "best", "last")


def _claim_out_folder(out: Path, settings: dict, *, resume: bool, overwrite: bool) -> None:
    """Refuse an OUT that holds another training unless --overwrite (which empties it) or --resume of a
    training with the same settings; record this training's settings for a later --resume."""
    if resume and overwrite:
        raise ConfigError("give --resume or --overwrite, not both")
    recorded_path = out / _SETTINGS_FILE
    held = out.is_dir() and any((out / name).exists() for name in _TRAINING_MARKERS)
    if held and overwrite:
        _remove_training(out)
    elif held and resume:
        try:
            recorded = json.loads(recorded_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise RunFolderError(f"{out}: cannot resume, {_SETTINGS_FILE} is missing or unreadable, so the training "
                                 "there cannot be checked to be this one; give --overwrite to start again") from error
        if recorded != json.loads(json.dumps(settings, default=str)):
            changed = sorted(k for k in set(recorded) | set(settings) if recorded.get(k) != settings.get(k))
            raise RunFolderError(f"{out}: cannot resume, it was trained with other settings ({', '.join(changed)} "
                                 f"differ, see {recorded_path}); give --overwrite to start again, or another --out")
    elif held:
        raise RunFolderError(f"{out} already holds a training; give --resume to continue it, --overwrite to replace "
                             "it, or another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_json(recorded_path, settings, default=str)
