"""``vcval train ccgs``: train CCGS on a data folder, keep the best epoch on validation, score it on test."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from benchmark.cli.data_command import add_data_arguments, load_from_arguments
from benchmark.errors import ConfigError
from benchmark.harness.run_folder import RunFolderError, hash_files
from benchmark.records import SplitData
from benchmark.systems import TrainingData


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a learned system (ccgs)",
                                  description="Train a learned system and score its best epoch on a split.")
    systems = train.add_subparsers(dest="train_system", metavar="SYSTEM")
    ccgs = systems.add_parser(
        "ccgs", help="CCGS (Li et al., ICASSP 2023): cross-modal contrastive global-span",
        description="Train CCGS: a checkpoint every epoch (OUT/checkpoints), the best epoch on validation "
                    "(OUT/best), then predictions and scores on --evaluate (OUT/<split>_predictions.jsonl, "
                    "OUT/<split>_scores.json).")
    add_data_arguments(ccgs)
    ccgs.add_argument("--encoder", required=True, help="pre-trained encoder: Hugging Face name or local folder")
    ccgs.add_argument("--out", required=True, type=Path, help="output folder")
    ccgs.add_argument("--preset", choices=("paper", "improved", "tiny"), default="paper")
    ccgs.add_argument("--resume", action="store_true",
                      help="continue from the last checkpoint in OUT (refused if OUT was trained with other settings)")
    ccgs.add_argument("--overwrite", action="store_true", help="delete what OUT holds and train from scratch")
    flags = ccgs.add_argument_group("ablations (each overrides the preset)")
    flags.add_argument("--no-visual", dest="visual", action="store_false", default=None, help="text only")
    flags.add_argument("--no-fusion", dest="fusion", action="store_false", default=None,
                       help="visual branch not added to the boundary markers")
    flags.add_argument("--no-contrastive", dest="contrastive", action="store_false", default=None,
                       help="no negative question per positive")
    flags.add_argument("--valid-span-mask", dest="valid_span_mask", action="store_true", default=None)
    flags.add_argument("--no-valid-span-mask", dest="valid_span_mask", action="store_false", default=None)
    flags.add_argument("--max-span-pieces", type=int, default=None)
    flags.add_argument("--negative-sampling", choices=("any", "other_video"), default=None)
    flags.add_argument("--ce-weight", type=float, default=None)
    flags.add_argument("--iou-rank-weight", type=float, default=None)
    flags.add_argument("--highlight-weight", type=float, default=None)
    training = ccgs.add_argument_group("training")
    for name, kind in (("epochs", int), ("pairs-per-batch", int), ("grad-accum", int), ("max-len", int),
                       ("window-overlap", int), ("encoder-lr", float), ("head-lr", float),
                       ("weight-decay", float), ("warmup-epochs", float), ("seed", int),
                       ("max-train-examples", int), ("max-val-questions", int), ("batch-tokens", int),
                       ("inner-dim", int)):
        training.add_argument(f"--{name}", type=kind, default=None)
    training.add_argument("--mixed-precision", choices=("auto", "no", "bf16", "fp16"), default=None)
    training.add_argument("--selection-metric", default=None, help="validation metric to select on (R1_mIoU)")
    training.add_argument("--selection-track", choices=("corpus", "localization"), default=None)
    evaluation = ccgs.add_argument_group("evaluation")
    evaluation.add_argument("--evaluate", default="test", help="split to predict and score after training "
                            "('none' to skip)")
    evaluation.add_argument("--corpus", default="split", help="corpus setting: split, full or split+N")
    evaluation.add_argument("--retriever", choices=("bm25",), default=None,
                            help="two-stage: score only this retriever's top videos")
    evaluation.add_argument("--top-k", dest="top_k_videos", type=int, default=None,
                            help="videos per question in two-stage mode (default 10)")
    evaluation.add_argument("--spans-per-video", type=int, default=None,
                            help="at most this many spans of one video per candidate list (default: no cap)")
    evaluation.add_argument("--max-candidates", type=int, default=100)
    evaluation.add_argument("--max-eval-questions", type=int, default=None,
                            help="score a seeded random subset of this many questions (a bounded CPU budget)")
    evaluation.add_argument("--bootstrap", type=int, default=1000)
    ccgs.set_defaults(handler=_train_ccgs)
    train.set_defaults(handler=lambda args: train.print_help() or 0)


_CONFIG_ARGUMENTS = ("visual", "fusion", "contrastive", "valid_span_mask", "max_span_pieces", "negative_sampling",
                     "ce_weight", "iou_rank_weight", "highlight_weight", "epochs", "pairs_per_batch", "grad_accum",
                     "max_len", "window_overlap", "encoder_lr", "head_lr", "weight_decay", "warmup_epochs", "seed",
                     "max_train_examples", "max_val_questions", "batch_tokens", "inner_dim", "mixed_precision",
                     "selection_metric", "selection_track", "top_k_videos", "spans_per_video")


def _train_ccgs(args: argparse.Namespace) -> int:
    from benchmark.predictions import write_predictions
    from benchmark.scoring import score
    from ccgs.catalog import ccgs_system

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    benchmark = load_from_arguments(args)
    config = {name: getattr(args, name) for name in _CONFIG_ARGUMENTS if getattr(args, name) is not None}
    _claim_out_folder(args.out, {"encoder": args.encoder, "preset": args.preset, "data_fingerprint":
                                 benchmark.fingerprint, "config": config}, resume=args.resume, overwrite=args.overwrite)
    system = ccgs_system({"preset": args.preset, "encoder": args.encoder, "out_dir": args.out,
                          "resume": args.resume, "progress": True, "retriever": args.retriever, **config})
    started = time.perf_counter()
    system.fit(TrainingData(benchmark.split("train"), benchmark.split("val")))
    summary = {"config": system.config.to_dict(), "encoder": args.encoder, "data": benchmark.name,
               "data_fingerprint": benchmark.fingerprint, "train_seconds": round(time.perf_counter() - started, 1),
               "best_epoch": system.training_state.best_epoch, "best_validation": system.training_state.best_score,
               "history": [vars(record) for record in system.training_state.history]}
    print(f"trained {len(summary['history'])} epochs in {summary['train_seconds']} s; best epoch "
          f"{summary['best_epoch']} (validation {system.config.selection_metric} = {summary['best_validation']})")
    if args.evaluate != "none":
        split = _subset(benchmark.split(args.evaluate), args.max_eval_questions, system.config.seed)
        corpus = benchmark.corpus(args.evaluate, args.corpus)
        started = time.perf_counter()
        predictions = system.predict(split.questions, corpus, args.max_candidates)
        stats = system.scorer.stats
        summary["inference"] = {"seconds": round(time.perf_counter() - started, 1), "pairs": stats.pairs,
                                "windows": stats.windows, "pairs_per_second": round(stats.pairs_per_second, 2)}
        header = {"system": "ccgs", "dataset": benchmark.name, "split": split.name, "task": "corpus"}
        path = write_predictions(args.out / f"{args.evaluate}_predictions.jsonl", predictions, header)
        report = score(predictions, split, bootstrap=args.bootstrap,
                       meta={"data_fingerprint": benchmark.fingerprint})
        scores_path = args.out / f"{args.evaluate}_scores.json"
        scores_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        summary["files_sha256"] = hash_files(args.out, (path.name, scores_path.name))
        summary["scores"] = report.to_dict()["metrics"]
        summary["evaluated_questions"] = len(split.annotations)
        print(f"wrote {path}")
        for key in ("video_R1", "video_MRR", "R1_IoU0.5", "R1_mIoU", "R5_IoU0.5", "loc_mIoU"):
            low, high = report.ci.get(key, (float("nan"), float("nan")))
            print(f"  {key:10s} {report.metrics[key]:6.2f}  [{low:.2f}, {high:.2f}]")
    (args.out / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
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
        shutil.rmtree(out)
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
    recorded_path.write_text(json.dumps(settings, indent=2, default=str) + "\n", encoding="utf-8")


def _subset(split: SplitData, count: int | None, seed: int) -> SplitData:
    if count is None or count >= len(split.annotations):
        return split
    keep = sorted(int(i) for i in np.random.default_rng(seed).choice(len(split.annotations), count, replace=False))
    annotations = tuple(split.annotations[i] for i in keep)
    return SplitData(split.name, annotations, {a.video_id: split.videos[a.video_id] for a in annotations})
