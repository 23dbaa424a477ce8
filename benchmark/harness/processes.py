"""Which process of a multi-process run (``torchrun`` / ``accelerate launch``) this one is.

A run launched as N processes computes together (a system may shard its work, as CCGS shards corpus
inference) but has one writer: the main process alone writes the run folder, logs to MLflow and prints;
the others wait for it at a barrier. Without a launcher every answer here is that of a single process.

The answers come from ``torch.distributed`` once a process group exists (a system that shards sets one
up), else from the launcher's ``RANK`` / ``WORLD_SIZE`` variables, so that a system which never touches
torch (BM25) is still written once. torch is not imported here: only read if a system already loaded it.
"""

from __future__ import annotations

import os
import sys


def process_group():
    """``torch.distributed`` when a process group of more than one process is up, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized() and distributed.get_world_size() > 1:
        return distributed
    return None


def process_index() -> int:
    group = process_group()
    return group.get_rank() if group is not None else int(os.environ.get("RANK", "0"))


def process_count() -> int:
    group = process_group()
    return group.get_world_size() if group is not None else int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return process_index() == 0


def wait_for_everyone() -> None:
    """A barrier over the process group; nothing when there is none (one process, or no group set up)."""
    group = process_group()
    if group is not None:
        group.barrier()
