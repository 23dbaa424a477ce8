"""CCGS as a :class:`benchmark.systems.System`: train (or load) in ``fit``, batched corpus inference in
``predict``; with a retriever, only its top-K videos per question are scored (two-stage mode), and with
``video_fusion`` the videos are ranked by the retriever's score fused with CCGS's best span
(:mod:`ccgs.video_fusion`, the weight chosen on validation in ``fit``).

With ``out_dir``, the checkpoints, the best and last models and ``training_summary.json`` stay there (and
``resume`` continues from them); without, they go to a temporary folder that ``fit`` removes once the best
model is loaded, also when training fails.

Launched as several processes (:mod:`ccgs.distributed`), training is data-parallel, inference (validation
included) is shared out, and only the main process writes (models, checkpoints' extras, the summary); the
others load the best model from the same folder, so they need the main process's file system (one machine,
or a shared folder as ``out_dir``)."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from benchmark import progress
from benchmark.errors import ConfigError
from benchmark.records import LocalizationQuery, Prediction, Question, SplitData, Video
from benchmark.systems import RankedVideo, Retriever, TrainingData
from ccgs.checkpoint import load_trained
from ccgs.config import CCGSConfig, inference_settings
from ccgs.distributed import broadcast_from_main, launched, process_index, process_state, wait_for_everyone
from ccgs.encoder import load_encoder, max_positions
from ccgs.encoding import SubtitleTokens
from ccgs.features import ClipFeatures
from ccgs.inference import SpanScorer
from ccgs.model import CCGSModel
from ccgs.precision import autocast_dtype
from ccgs.threads import ThreadGovernor
from ccgs.training import Trainer, TrainingState
from ccgs.video_fusion import choose_weight, fuse_videos

log = logging.getLogger(__name__)


class CCGSSystem:
    name = "ccgs"

    def __init__(self, config: CCGSConfig, *, encoder: str | None = None, checkpoint: str | Path | None = None,
                 out_dir: str | Path | None = None, retriever: Retriever | None = None, resume: bool = False,
                 device: str | None = None, progress: bool | None = None) -> None:
        if encoder is None and checkpoint is None:
            raise ConfigError("CCGS needs an encoder to train (a Hugging Face name or local folder) or a trained "
                              "checkpoint folder")
        if config.top_k_videos is not None and retriever is None:
            raise ConfigError("top_k_videos (two-stage mode) needs a retriever")
        self.config = config
        self.encoder_name = encoder
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.retriever = retriever
        self.resume = resume
        if device is None and launched():
            launched_on = process_state().device  # sets up the process group; each GPU process its own GPU
            device = "cpu" if launched_on.type == "cpu" else str(launched_on)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.progress = progress  # None: as the run says (benchmark.progress)
        self.training_state: TrainingState | None = None
        self._scorer: SpanScorer | None = None
        self._summary: dict = {}
        self.video_weight = 0.0
        """The video fusion's weight (``video_fusion``), chosen on validation by ``fit``."""
        self.video_weights: dict[float, dict[str, float]] = {}
        """Each weight's validation metrics, from the last choice."""

    # -- System ---------------------------------------------------------------------------------------------
    def fit(self, data: TrainingData) -> None:
        if self.retriever is not None:
            self.retriever.fit(data)
        if self.checkpoint is not None:
            ThreadGovernor(self.config.threads)
            self._load(self.checkpoint)
            self._choose_video_weight(data.validation)
            return
        config = self.config
        if config.visual and not any(v.feature_path for v in data.train.videos.values()):
            log.warning("no training video has features: CCGS runs text-only (as with --no-visual)")
            config = self.config = config.replace(visual=False)
        torch.manual_seed(config.seed)  # new token embeddings and the heads start the same in every run
        tokenizer, encoder = load_encoder(self.encoder_name, config.extra_tokens)
        model = CCGSModel(encoder, config)
        self._scorer = self._make_scorer(tokenizer, encoder, model, config)
        out_dir = self.out_dir or Path(broadcast_from_main(tempfile.mkdtemp(prefix="ccgs-") if process_index() == 0
                                                          else None))

        def save_encoder_files(folder: Path) -> None:
            tokenizer.save_pretrained(folder)
            encoder.config.save_pretrained(folder)

        try:
            started = time.perf_counter()
            trainer = Trainer(model, self._scorer.tokens, self._scorer.features, config, out_dir, save_encoder_files)
            self._scorer.device = trainer.accelerator.device
            self.training_state = trainer.fit(data, self._epoch_evaluator(config), resume=self.resume,
                                              progress=self._bars())
            train_seconds = time.perf_counter() - started
            log.info("windowed videos: %d (max_len %d)", self._scorer.tokens.windowed_videos,
                     self._scorer.tokens.max_len)
            self._load(out_dir / "best")
            wait_for_everyone()  # every process has loaded the best model before its folder may go
        finally:
            if self.out_dir is None and process_index() == 0:
                shutil.rmtree(out_dir, ignore_errors=True)
        self._choose_video_weight(data.validation)
        self._summary = {
            "config": config.to_dict(), "encoder": self.encoder_name, "train_seconds": round(train_seconds, 1),
            "best_epoch": self.training_state.best_epoch, "best_validation": self.training_state.best_score,
            "history": [vars(record) for record in self.training_state.history],
        }
        if self.fuses_videos:
            self._summary["video_fusion"] = {"weight": self.video_weight,
                                             "validation": {str(w): v for w, v in self.video_weights.items()}}
        self._write_summary()

    def predict(self, questions: Sequence[Question], corpus: Mapping[str, Video],
                max_candidates: int) -> list[Prediction]:
        scorer = self._require_scorer()
        if self.fuses_videos:
            rankings, spans, per_video = self._video_spans(questions, corpus, max_candidates)
            candidates = [fuse_videos(ranked, video_spans, self.video_weight, per_video, max_candidates)
                          for ranked, video_spans in zip(rankings, spans, strict=True)]
        else:
            videos = self._candidate_videos(questions, corpus)
            candidates = scorer.rank([q.text for q in questions], videos, max_candidates, progress=self._bars())
        if self._summary:  # trained in this process: record the inference speed beside the training
            stats = scorer.stats
            self._summary["inference"] = {"seconds": round(stats.seconds, 1), "pairs": stats.pairs,
                                          "windows": stats.windows, "processes": stats.processes,
                                          "pairs_per_second": round(stats.pairs_per_second, 2)}
            self._write_summary()
        return [Prediction(q.qid, tuple(c)) for q, c in zip(questions, candidates, strict=True)]

    def predict_localization(self, queries: Sequence[LocalizationQuery], corpus: Mapping[str, Video],
                             max_candidates: int) -> list[Prediction]:
        missing = [q.video_id for q in queries if q.video_id not in corpus]
        if missing:
            raise ConfigError(f"{len(missing)} localization queries point to videos outside the corpus, e.g. "
                              f"'{missing[0]}'")
        candidates = self._require_scorer().rank([q.text for q in queries], [[corpus[q.video_id]] for q in queries],
                                                 max_candidates, progress=self._bars())
        return [Prediction(q.qid, tuple(c)) for q, c in zip(queries, candidates, strict=True)]

    # -- selection ------------------------------------------------------------------------------------------
    def validation_score(self, split: SplitData) -> float:
        """The selection metric on (a seeded subset of) the validation split, on the selection track (with
        video fusion, at the weight that scores best on it)."""
        config = self.config
        subset = self._validation_subset(split)
        if config.selection_track == "corpus" and self.fuses_videos:  # each epoch at its best weight
            self._choose_video_weight(split, log_choice=False)
            return self.video_weights[self.video_weight][config.selection_metric]
        if config.selection_track == "corpus":
            predictions = self.predict(subset.questions, subset.videos, 100)
        else:
            predictions = self.predict_localization([a.localization_query for a in subset.annotations],
                                                    subset.videos, 100)
        return _metrics(predictions, subset, config.selection_track, (config.selection_metric,))[config.selection_metric]

    def _validation_subset(self, split: SplitData) -> SplitData:
        """The validation split, or its seeded subset of ``max_val_questions`` questions."""
        annotations, limit = split.annotations, self.config.max_val_questions
        if limit is not None and limit < len(annotations):
            keep = np.random.default_rng(self.config.seed).choice(len(annotations), limit, replace=False)
            annotations = tuple(annotations[int(i)] for i in sorted(keep))
        return SplitData(split.name, annotations, split.videos)

    def fitted(self) -> dict[str, object]:
        """What ``fit`` chose on validation, for the run manifest's ``fitted``: the video fusion's weight and
        every weight's validation figures (two-stage mode with ``video_fusion`` only)."""
        if not self.video_weights:
            return {}
        return {"video_fusion_weight": self.video_weight,
                "video_fusion_validation": {str(w): v for w, v in self.video_weights.items()}}

    @property
    def fuses_videos(self) -> bool:
        """Video fusion is on and there is a retriever's top-K to fuse with (two-stage mode)."""
        return self.config.video_fusion and self.retriever is not None and self.config.top_k_videos is not None

    def _choose_video_weight(self, split: SplitData, log_choice: bool = True) -> None:
        """Sets ``video_weight`` to the weight of ``video_fusion_weights`` that scores best on (a subset of)
        the validation split's corpus track (:func:`ccgs.video_fusion.choose_weight`); spans are scored once,
        every weight re-ranks them."""
        if not self.fuses_videos:
            return
        subset = self._validation_subset(split)
        rankings, spans, per_video = self._video_spans(subset.questions, subset.videos, 100)

        def evaluate(weight: float) -> dict[str, float]:
            predictions = [Prediction(q.qid, fuse_videos(ranked, video_spans, weight, per_video, 100))
                           for q, ranked, video_spans in zip(subset.questions, rankings, spans, strict=True)]
            return _metrics(predictions, subset, "corpus", (self.config.selection_metric, "video_R1"))

        self.video_weight, self.video_weights = choose_weight(self.config.video_fusion_weights, evaluate,
                                                              self.config.selection_metric)
        if log_choice and process_index() == 0:
            chosen = self.video_weights[self.video_weight]
            progress.epoch_line(f"ccgs video fusion: weight {self.video_weight:g} chosen on {split.name} "
                                f"({len(subset.annotations)} questions; {self.config.selection_metric} "
                                f"{chosen[self.config.selection_metric]:.2f}, video_R1 {chosen['video_R1']:.2f}; "
                                f"weight 0: {self.video_weights[0.0][self.config.selection_metric]:.2f}, "
                                f"{self.video_weights[0.0]['video_R1']:.2f})")

    # -- helpers --------------------------------------------------------------------------------------------
    @property
    def scorer(self) -> SpanScorer:
        return self._require_scorer()

    def _bars(self) -> bool:
        return progress.bars() if self.progress is None else self.progress

    def _epoch_evaluator(self, config: CCGSConfig):
        """``validation_score``, plus one progress line per epoch (the trainer evaluates once an epoch)."""
        epochs, started = [0], [time.perf_counter()]

        def evaluate(split: SplitData) -> float:
            value = self.validation_score(split)
            epochs[0] += 1
            if process_index() == 0:
                progress.epoch_line(f"ccgs epoch {epochs[0]} of this run ({config.epochs} in all): "
                                    f"{config.selection_metric} on {split.name} {value:.2f} "
                                    f"({time.perf_counter() - started[0]:.0f} s)")
            started[0] = time.perf_counter()
            return value

        return evaluate

    def _write_summary(self) -> None:
        """``training_summary.json`` in ``out_dir``: settings, the epochs, the best one, inference speed."""
        if self.out_dir is not None and self._summary and process_index() == 0:
            (self.out_dir / "training_summary.json").write_text(json.dumps(self._summary, indent=2) + "\n",
                                                                encoding="utf-8")

    def _require_scorer(self) -> SpanScorer:
        if self._scorer is None:
            raise ConfigError("CCGS has no model yet: call fit() (it trains, or loads the checkpoint) first")
        return self._scorer

    def _load(self, folder: Path) -> None:
        tokenizer, model, config = load_trained(folder, device=str(self.device))
        # inference settings come from this run, the rest from the trained model
        self.config = config.replace(**{name: getattr(self.config, name) for name in inference_settings()})
        self._scorer = self._make_scorer(tokenizer, model.encoder, model, self.config)

    def _make_scorer(self, tokenizer, encoder, model: CCGSModel, config: CCGSConfig) -> SpanScorer:
        limit = max_positions(encoder)
        max_len = min(config.max_len, limit) if limit else config.max_len
        tokens = SubtitleTokens(tokenizer, max_len, config.window_overlap, config.max_question_tokens)
        features = ClipFeatures(model.clips, config.clip_resampling) if config.visual else None
        autocast = autocast_dtype(config.mixed_precision, self.device.type, config.autocast_inference)
        return SpanScorer(model.to(self.device), tokens, features, self.device, config.batch_tokens, autocast,
                          config.spans_per_video, config.deduplicate_spans, config.inverted_spans)

    def _candidate_videos(self, questions: Sequence[Question], corpus: Mapping[str, Video]) -> list[list[Video]]:
        if self.retriever is None or self.config.top_k_videos is None:
            everything = list(corpus.values())
            return [everything for _ in questions]
        return [[corpus[r.video_id] for r in ranking] for ranking in self._rankings(questions, corpus)]

    def _rankings(self, questions: Sequence[Question], corpus: Mapping[str, Video]) -> list[list[RankedVideo]]:
        assert self.retriever is not None and self.config.top_k_videos is not None
        self.retriever.index(corpus)
        return self.retriever.rank(questions, self.config.top_k_videos)

    def _video_spans(self, questions: Sequence[Question], corpus: Mapping[str, Video], max_candidates: int
                     ) -> tuple[list[list[RankedVideo]], list[list[list]], int]:
        """The retriever's top-K per question, CCGS's best spans in each of those videos (one list per
        video), and how many spans each video brings: ``spans_per_video``, or an equal share of
        ``max_candidates`` over the K videos."""
        rankings = self._rankings(questions, corpus)
        per_video = self.config.spans_per_video or max(1, max_candidates // self.config.top_k_videos)
        pairs = [(question, corpus[r.video_id]) for question, ranked in zip(questions, rankings, strict=True)
                 for r in ranked]
        flat = self._require_scorer().rank([q.text for q, _ in pairs], [[video] for _, video in pairs], per_video,
                                           progress=self._bars())
        spans, cursor = [], 0
        for ranked in rankings:
            spans.append(flat[cursor:cursor + len(ranked)])
            cursor += len(ranked)
        return rankings, spans, per_video


def _metrics(predictions: Sequence[Prediction], split: SplitData, track: str, names: Sequence[str]
             ) -> dict[str, float]:
    """The named metrics of ``predictions`` on ``split`` (the selection metric first, named in the error)."""
    from benchmark.scoring import score

    metrics = score(predictions, split, task=track, bootstrap=0).metrics
    if names[0] not in metrics:
        raise ConfigError(f"unknown selection metric '{names[0]}' for the {track} track; expected one of "
                          f"{sorted(metrics)}")
    return {name: metrics[name] for name in names}
