"""Training CCGS through ``accelerate``: seeded, gradient accumulation, a checkpoint (safetensors) every
epoch (and, with ``checkpoint_every_batches``, inside an epoch) with resume from the last one, and the best
epoch on validation (by a named metric) kept aside.

Determinism: the order of examples and the negative questions of epoch ``e`` come from ``(seed, e)``; the
answer-free windows drawn for batch ``b`` of that epoch and its dropout (torch is reseeded) come from
``(seed, e, b)``, whichever process runs the batch. So a run resumed from the checkpoint of epoch ``k`` (or
of batch ``b`` inside an epoch) continues exactly as the uninterrupted run would, and N data-parallel processes (batch ``b`` on process
``b mod N``, gradients averaged) train as one process with N times the gradient accumulation (tests pin
both on CPU).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.errors import ConfigError
from benchmark.records import SplitData
from benchmark.systems import TrainingData
from ccgs.collate import PieceTimes, collate
from ccgs.config import CCGSConfig
from ccgs.distributed import process_state
from ccgs.encoding import SubtitleTokens, Window
from ccgs.labels import clip_labels, span_iou_matrix, span_label
from ccgs.losses import contrastive_span_loss, highlight_loss, iou_ranking_loss
from ccgs.model import MASKED, CCGSModel
from ccgs.optimizer import make_optimizer
from ccgs.precision import resolve_precision
from ccgs.threads import ThreadGovernor

log = logging.getLogger(__name__)

Evaluator = Callable[[SplitData], float]
"""Scores the current model on a validation split (higher is better)."""


@dataclass(frozen=True)
class TrainExample:
    annotation_index: int
    question: tuple[int, ...]
    window: Window
    target: tuple[int, int]
    """(i, j) within the window: the span with the best IoU with the answer."""
    ious: np.ndarray
    answer_free: tuple[Window, ...] = ()
    """The other windows of the video that share no time with the answer (negatives for the loss)."""


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    examples: int
    seconds: float
    samples_per_second: float
    validation: float | None = None
    threads: int | None = None
    """CPU threads the epoch ran with (ccgs.threads)."""


@dataclass
class EpochProgress:
    """How far a process got inside the epoch after ``epochs_done`` (a mid-epoch checkpoint)."""

    batches: int = 0
    """Batches of this process's share already trained."""
    loss_sum: float = 0.0
    examples: int = 0
    seconds: float = 0.0


@dataclass
class TrainingState:
    epochs_done: int = 0
    best_epoch: int | None = None
    best_score: float | None = None
    history: list[EpochRecord] = field(default_factory=list)
    progress: EpochProgress = field(default_factory=EpochProgress)

    def to_json(self) -> str:
        return json.dumps({"epochs_done": self.epochs_done, "best_epoch": self.best_epoch,
                           "best_score": self.best_score, "history": [asdict(r) for r in self.history],
                           "progress": asdict(self.progress)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainingState:
        raw = json.loads(text)
        return cls(raw["epochs_done"], raw["best_epoch"], raw["best_score"],
                   [EpochRecord(**record) for record in raw["history"]], EpochProgress(**raw.get("progress", {})))


def training_examples(split: SplitData, tokens: SubtitleTokens, long_pairs: str = "window",
                      max_span_pieces: int | None = None) -> list[TrainExample]:
    """One example per question: the window of its video whose best span (of at most ``max_span_pieces``
    pieces) overlaps the answer most, and the video's answer-free windows. ``long_pairs="skip"`` drops the
    questions whose transcript needs more than one window, as the authors drop inputs longer than
    ``max_len``."""
    examples = []
    windowed = 0
    for index, annotation in enumerate(split.annotations):
        windows = tokens.windows(split.videos[annotation.video_id])
        windowed += len(windows) > 1
        if long_pairs == "skip" and len(windows) > 1:
            continue
        labels = [span_label(w.starts, w.ends, annotation.start, annotation.end, max_span_pieces) for w in windows]
        best = max(range(len(windows)), key=lambda k: labels[k].best_iou)
        window = windows[best]
        answer_free = tuple(w for w in windows if not _overlaps(w, annotation.start, annotation.end))
        examples.append(TrainExample(index, tokens.question(annotation.text), window, labels[best].target,
                                     span_iou_matrix(window.starts, window.ends, annotation.start,
                                                     annotation.end).astype(np.float32), answer_free))
    action = "skipped" if long_pairs == "skip" else "trained on their best window"
    log.info("%d training questions, %d of them on a windowed transcript (%s)", len(split.annotations), windowed,
             action)
    return examples


def _overlaps(window: Window, start: float, end: float) -> bool:
    return bool(np.any((window.ends > start) & (window.starts < end)))


def schedule_steps(config: CCGSConfig, trained: int, questions: int, processes: int = 1) -> tuple[int, int]:
    """(warm-up, total) optimizer updates of the cosine schedule for ``trained`` examples an epoch, out of
    the split's ``questions``: ``schedule_length`` says which count is an epoch (``every_question``, the
    authors', counts the questions skipped as too long; a ``max_train_examples`` subset caps both)."""
    if config.schedule_length == "every_question":
        trained = questions if config.max_train_examples is None else min(questions, config.max_train_examples)
    batches_per_epoch = math.ceil(trained / (config.pairs_per_batch * processes))
    updates_per_epoch = math.ceil(batches_per_epoch / config.grad_accum)
    return int(config.warmup_epochs * updates_per_epoch), config.epochs * updates_per_epoch


def negative_questions(split: SplitData, rule: str, rng: np.random.Generator) -> np.ndarray:
    """For each question, the index of a negative: any question, itself included (``uniform``, the
    authors'), any question with another text (``any``) or one on another video (``other_video``)."""
    count = len(split.annotations)
    videos = np.array([a.video_id for a in split.annotations])
    texts = np.array([a.text for a in split.annotations])
    chosen = rng.integers(0, count, size=count)
    if rule == "uniform":
        return chosen
    for _ in range(100):  # resample clashes; a handful of rounds settles all but degenerate splits
        clash = (texts[chosen] == texts) if rule == "any" else (videos[chosen] == videos)
        if not clash.any():
            break
        chosen[clash] = rng.integers(0, count, size=int(clash.sum()))
    return chosen


class Trainer:
    def __init__(self, model: CCGSModel, tokens: SubtitleTokens, features, config: CCGSConfig, out_dir: Path,
                 save_encoder_files: Callable[[Path], None]) -> None:
        from accelerate import Accelerator

        self.config = config
        self.tokens = tokens
        self.features = features
        self.out_dir = Path(out_dir)
        self.save_encoder_files = save_encoder_files
        precision = resolve_precision(config.mixed_precision, "cuda" if torch.cuda.is_available() else "cpu")
        process_state()  # first, so that accelerate sees every process of a launch on CPUs too
        self.accelerator = Accelerator(gradient_accumulation_steps=config.grad_accum, mixed_precision=precision)
        self.model = model

    # -- the loop ------------------------------------------------------------------------------------------
    def fit(self, data: TrainingData, evaluate: Evaluator | None, resume: bool = False,
            progress: bool = True) -> TrainingState:
        config, accelerator = self.config, self.accelerator
        examples = training_examples(data.train, self.tokens, config.long_training_pairs, config.max_span_pieces)
        if config.max_train_examples is not None and config.max_train_examples < len(examples):
            keep = np.random.default_rng(config.seed).choice(len(examples), config.max_train_examples, replace=False)
            subset = sorted(int(i) for i in keep)
            examples = [examples[i] for i in subset]
        if not examples:
            raise ConfigError("no training questions")
        threads = ThreadGovernor(config.threads)
        optimizer = make_optimizer(parameter_groups(self.model, config), config)
        from transformers import get_cosine_schedule_with_warmup

        warmup, total = schedule_steps(config, len(examples), len(data.train.annotations), accelerator.num_processes)
        scheduler = get_cosine_schedule_with_warmup(optimizer, warmup, total)
        model, optimizer = accelerator.prepare(self.model, optimizer)
        accelerator.register_for_checkpointing(scheduler)
        state = TrainingState()
        if resume:
            state = self._resume(state)
        for epoch in range(state.epochs_done, config.epochs):
            if epoch > state.epochs_done:
                threads.update()  # other processes measured over the last epoch
            record = self._epoch(epoch, model, optimizer, scheduler, examples, data.train, progress, state)
            record.threads = threads.threads
            if evaluate is not None:  # on every process: inference is shared out (ccgs.distributed)
                record.validation = float(evaluate(data.validation))
                log.info("epoch %d: validation %s = %.2f", epoch + 1, config.selection_metric, record.validation)
            state.history.append(record)
            state.epochs_done, state.progress = epoch + 1, EpochProgress()
            improved = record.validation is None or state.best_score is None or record.validation > state.best_score
            if improved:
                state.best_epoch, state.best_score = epoch + 1, record.validation
                self._save_model(self.out_dir / "best")
            self._checkpoint(f"epoch-{epoch + 1:03d}", state)
        self._save_model(self.out_dir / "last")
        accelerator.wait_for_everyone()
        return state

    def _epoch(self, epoch: int, model, optimizer, scheduler, examples: list[TrainExample], split: SplitData,
               progress: bool, state: TrainingState) -> EpochRecord:
        """Trains one epoch, from where ``state.progress`` says a mid-epoch checkpoint left it."""
        config, accelerator = self.config, self.accelerator
        rng = np.random.default_rng([config.seed, epoch])
        order = rng.permutation(len(examples))
        negatives = negative_questions(split, config.negative_sampling, rng)
        size = config.pairs_per_batch
        batches = list(enumerate(order[i:i + size] for i in range(0, len(order), size)))
        per_process = math.ceil(len(batches) / accelerator.num_processes)
        batches = (batches * 2)[: per_process * accelerator.num_processes]  # equal share on every process
        mine = batches[accelerator.process_index::accelerator.num_processes]
        model.train()
        done = state.progress
        total_loss, seen, started = done.loss_sum, done.examples, time.perf_counter() - done.seconds
        bar = tqdm(total=len(mine), initial=done.batches, desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not progress or not accelerator.is_main_process)
        for local, (number, batch_indices) in enumerate(mine):
            if local < done.batches:
                continue
            batch = [examples[i] for i in batch_indices]
            batch_rng = np.random.default_rng([config.seed, epoch, number])
            torch.manual_seed(int(batch_rng.integers(2**62)))
            with accelerator.accumulate(model):
                loss = self._loss(model, batch, split, negatives, batch_rng)
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm is not None:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                if accelerator.sync_gradients:
                    scheduler.step()
                optimizer.zero_grad()
            total_loss += float(loss.detach()) * len(batch)
            seen += len(batch)
            elapsed = time.perf_counter() - started
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", samples_s=f"{seen / elapsed:.1f}")
            every = config.checkpoint_every_batches
            if every and (local + 1) % every == 0 and local + 1 < len(mine) and accelerator.sync_gradients:
                state.progress = EpochProgress(local + 1, total_loss, seen, elapsed)
                self._checkpoint(f"epoch-{epoch:03d}-batch-{local + 1:06d}", state)
        bar.close()
        seconds = time.perf_counter() - started
        return EpochRecord(epoch + 1, total_loss / max(seen, 1), seen, seconds, seen / seconds if seconds else 0.0)

    def _loss(self, model, batch: list[TrainExample], split: SplitData, negatives: np.ndarray,
              rng: np.random.Generator) -> torch.Tensor:
        config = self.config
        annotations = split.annotations
        count = len(batch)
        items = [(e.question, e.window) for e in batch]
        if config.contrastive:
            items += [(self.tokens.question(annotations[negatives[e.annotation_index]].text), e.window) for e in batch]
        # answer-free windows of the same video: slot k of example r, or None where the video has too few
        window_slots: list[list[int | None]] = [[None] * count for _ in range(config.window_negatives)]
        for row, example in enumerate(batch):
            chosen = rng.permutation(len(example.answer_free))[: config.window_negatives]
            for slot, k in enumerate(chosen):
                window_slots[slot][row] = len(items)
                items.append((example.question, example.answer_free[int(k)]))
        window_slots += self._other_video_windows(batch, split, items, rng)
        sequences = [self.tokens.sequence(question, window) for question, window in items]
        clips = times = None
        if self.features is not None:
            clips = [self.features.get(split.videos[window.video_id]) for _, window in items]
            if self.model.temporal_fusion:
                times = [PieceTimes(w.starts, w.ends, split.videos[w.video_id].duration) for _, w in items]
        encoded = collate(sequences, self.tokens.pad_id, clips, self.model.clips if clips else 0, config.visual_dim,
                          times)
        output = model(encoded.to(self.accelerator.device))
        positive = output.logits[:count]
        competitors = [output.logits[count:2 * count]] if config.contrastive else []
        competitors += [_gather_rows(output.logits, slot) for slot in window_slots]
        device = positive.device
        target = torch.tensor([e.target for e in batch], device=device)
        loss = (config.ce_weight * contrastive_span_loss(positive, target, competitors or None)
                if config.ce_weight else 0.0)
        if config.iou_rank_weight:
            n = positive.shape[1]
            ious = np.zeros((count, n, n), dtype=np.float32)
            for row, example in enumerate(batch):
                ious[row, : len(example.ious), : len(example.ious)] = example.ious
            loss = loss + config.iou_rank_weight * iou_ranking_loss(positive, torch.from_numpy(ious).to(device))
        if config.highlight_weight and output.highlight_logits is not None:
            labels, mask = [], encoded.clip_mask[:count].to(device)
            for row, example in enumerate(batch):
                annotation = annotations[example.annotation_index]
                labels.append(clip_labels(int(mask[row].sum()), mask.shape[1], annotation.video_duration,
                                          annotation.start, annotation.end))
            loss = loss + config.highlight_weight * highlight_loss(
                output.highlight_logits[:count], torch.from_numpy(np.stack(labels)).to(device), mask)
        return loss

    def _other_video_windows(self, batch: list[TrainExample], split: SplitData, items: list, rng: np.random.Generator
                             ) -> list[list[int | None]]:
        """``video_negatives`` windows of other training videos per example, appended to ``items`` with the
        example's question: their spans join the loss's denominator, so that spans of different videos (which
        the corpus track ranks together) are trained on one scale. Slot k of example r, or None when the
        split has a single video."""
        slots: list[list[int | None]] = [[None] * len(batch) for _ in range(self.config.video_negatives)]
        if not slots:
            return slots
        video_ids = sorted(split.videos)
        for row, example in enumerate(batch):
            others = [v for v in video_ids if v != example.window.video_id]
            if not others:
                continue
            for slot in slots:
                windows = self.tokens.windows(split.videos[others[int(rng.integers(len(others)))]])
                slot[row] = len(items)
                items.append((example.question, windows[int(rng.integers(len(windows)))]))
        return slots

    # -- files -----------------------------------------------------------------------------------------------
    def _save_model(self, folder: Path) -> None:
        if not self.accelerator.is_main_process:
            return
        from ccgs.checkpoint import save_trained

        save_trained(folder, self.accelerator.unwrap_model(self.model), self.config, self.save_encoder_files)

    def _checkpoint(self, name: str, state: TrainingState) -> None:
        """``epoch-NNN`` after NNN epochs, ``epoch-NNN-batch-BBBBBB`` inside the next one: the names sort in
        training order."""
        folder = self.out_dir / "checkpoints" / name
        self.accelerator.save_state(str(folder), safe_serialization=True)
        if self.accelerator.is_main_process:
            (folder / "training_state.json").write_text(state.to_json(), encoding="utf-8")
            old = sorted((self.out_dir / "checkpoints").glob("epoch-*"))[: -self.config.keep_checkpoints]
            for stale in old:
                shutil.rmtree(stale, ignore_errors=True)

    def _resume(self, state: TrainingState) -> TrainingState:
        done = sorted(p for p in (self.out_dir / "checkpoints").glob("epoch-*") if (p / "training_state.json").exists())
        if not done:
            log.info("no checkpoint in %s: starting from scratch", self.out_dir / "checkpoints")
            return state
        self.accelerator.load_state(str(done[-1]))
        state = TrainingState.from_json((done[-1] / "training_state.json").read_text(encoding="utf-8"))
        log.info("resumed from %s (epoch %d done, %d batches of the next)", done[-1], state.epochs_done,
                 state.progress.batches)
        return state



def _gather_rows(logits: torch.Tensor, rows: list[int | None]) -> torch.Tensor:
    """``logits[rows]``, with a fully masked span matrix where a row is None (no such negative)."""
    filler = torch.full_like(logits[0], MASKED)
    return torch.stack([logits[row] if row is not None else filler for row in rows])


def parameter_groups(model: CCGSModel, config: CCGSConfig) -> list[dict]:
    """AdamW groups: the parameters at ``encoder_lr``, then the rest at ``head_lr``.

    ``name_contains_encoder`` is the authors' rule (main.py): a parameter trains at the encoder rate when its
    name contains "encoder". Their encoder attribute is ``P_Encoder`` (capital E), so inside a Hugging Face
    model this picks ``encoder.layer.*`` and leaves ``embeddings.*`` (and a pooler) at the head rate.
    """
    if config.parameter_groups == "name_contains_encoder":
        slow_ids = {id(p) for name, p in model.encoder.named_parameters() if "encoder" in name}
    else:
        slow_ids = {id(p) for p in model.encoder.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    slow = [p for p in trainable if id(p) in slow_ids]
    rest = [p for p in trainable if id(p) not in slow_ids]
    return [{"params": slow, "lr": config.encoder_lr}, {"params": rest, "lr": config.head_lr}]
