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


def process_index(*, from_environment: bool = True) -> int:
    """This process's rank in the process group; without a group, the launcher's ``RANK`` (the harness
    names its files by it) or 0 when ``from_environment`` is off (CCGS never takes a shard that no group
    would gather)."""
    group = process_group()
    if group is not None:
        return group.get_rank()
    return int(os.environ.get("RANK", "0")) if from_environment else 0


def process_count(*, from_environment: bool = True) -> int:
    """The processes in the group; without a group, the launcher's ``WORLD_SIZE`` or 1 (see
    :func:`process_index`)."""
    group = process_group()
    if group is not None:
        return group.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1")) if from_environment else 1


def is_main_process() -> bool:
    return process_index() == 0


def wait_for_everyone() -> None:
    """A barrier over the process group; nothing when there is none (one process, or no group set up)."""
    group = process_group()
    if group is not None:
        group.barrier()
