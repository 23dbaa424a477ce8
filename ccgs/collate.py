"""Padding (question, window) sequences and their clip features into one batch of tensors."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass, fields

import numpy as np
import torch

from ccgs.encoding import Sequence
from ccgs.timeline import piece_clip_coverage


@dataclass(frozen=True)
class PieceTimes:
    """The time of each piece of one window, and its video's duration (for the temporal fusion)."""

    starts: np.ndarray
    ends: np.ndarray
    duration: float


@dataclass
class EncodedBatch:
    input_ids: torch.Tensor
    """(B, T) token ids, right-padded."""
    attention_mask: torch.Tensor
    """(B, T) 1 for real tokens."""
    marker_index: torch.Tensor
    """(B, M) positions of the boundary markers; padding entries point at position 0."""
    marker_mask: torch.Tensor
    """(B, M) bool, True for real markers."""
    clips: torch.Tensor | None = None
    """(B, L, visual_dim) clip features, zero-padded; None in text-only mode."""
    clip_mask: torch.Tensor | None = None
    """(B, L) 1 for real clips."""
    piece_clips: torch.Tensor | None = None
    """(B, M - 1, L) share of each clip's time that each piece covers (temporal fusion only)."""

    def to(self, device: torch.device | str) -> EncodedBatch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return EncodedBatch(**{k: (v.to(device, non_blocking=True) if v is not None else None) for k, v in moved.items()})

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def collate(sequences: Seq[Sequence], pad_id: int, clips: Seq[np.ndarray | None] | None = None,
            num_clips: int = 0, visual_dim: int = 1024, piece_times: Seq[PieceTimes] | None = None) -> EncodedBatch:
    """Pad to the longest sequence and the most markers of the batch; clips (when given) to ``num_clips``;
    with ``piece_times`` (and clips), the piece-to-clip coverage of each window."""
    batch = len(sequences)
    length = max(len(s.input_ids) for s in sequences)
    markers = max(len(s.marker_positions) for s in sequences)
    input_ids = np.full((batch, length), pad_id, dtype=np.int64)
    attention = np.zeros((batch, length), dtype=np.int64)
    marker_index = np.zeros((batch, markers), dtype=np.int64)
    marker_mask = np.zeros((batch, markers), dtype=bool)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence.input_ids)] = sequence.input_ids
        attention[row, : len(sequence.input_ids)] = 1
        marker_index[row, : len(sequence.marker_positions)] = sequence.marker_positions
        marker_mask[row, : len(sequence.marker_positions)] = True
    encoded = EncodedBatch(torch.from_numpy(input_ids), torch.from_numpy(attention), torch.from_numpy(marker_index),
                           torch.from_numpy(marker_mask))
    if clips is not None:
        features = np.zeros((batch, num_clips, visual_dim), dtype=np.float32)
        clip_mask = np.zeros((batch, num_clips), dtype=np.float32)
        for row, array in enumerate(clips):
            if array is not None:
                count = min(len(array), num_clips)
                features[row, :count] = array[:count]
                clip_mask[row, :count] = 1.0
        encoded.clips = torch.from_numpy(features)
        encoded.clip_mask = torch.from_numpy(clip_mask)
        if piece_times is not None:
            coverage = np.zeros((batch, markers - 1, num_clips), dtype=np.float32)
            for row, times in enumerate(piece_times):
                coverage[row, : len(times.starts)] = piece_clip_coverage(
                    times.starts, times.ends, times.duration, int(clip_mask[row].sum()), num_clips)
            encoded.piece_clips = torch.from_numpy(coverage)
    return encoded
