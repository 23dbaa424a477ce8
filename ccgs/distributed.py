"""CCGS over several processes: the process group set up once, and corpus inference shared out.

Launch N processes with ``torchrun --nproc_per_node N -m vcval ...`` (or ``accelerate launch
--multi_gpu --num_processes N -m vcval ...``; docs/ccgs.md). Under such a launcher on a machine
without CUDA, accelerate counts one process per launch (every process trains on everything) unless
``ACCELERATE_USE_CPU`` is set; :func:`process_state` sets it, so the same command line gives N data-parallel
processes over gloo on CPUs and over nccl on GPUs, each GPU process on its own device (``LOCAL_RANK``).

Corpus inference splits its (question, window) encoder inputs across the processes with equal token
counts (:func:`shard_by_tokens`) and every process receives everyone's best spans
(:func:`gather_from_all`), so all of them rank the same candidates.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import torch

from benchmark.harness import processes
from benchmark.harness.processes import process_group, wait_for_everyone

__all__ = ["broadcast_from_main", "gather_from_all", "launched", "process_count", "process_index", "process_state",
           "shard_by_tokens", "wait_for_everyone"]


PROCESS_GROUP_TIMEOUT = timedelta(minutes=30)
"""How long a collective (a barrier, a gather) waits for a process that does not come. A process that
fails ends the run sooner: the launcher (torchrun) stops the others as soon as one exits with an error."""


def launched() -> bool:
    """Whether a launcher started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def process_state():
    """accelerate's ``PartialState``, created once per process (``Trainer``'s ``Accelerator`` shares it)."""
    from accelerate import PartialState

    on_cpus = launched() and not torch.cuda.is_available()
    if on_cpus:
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")  # read by the Accelerator too
    return PartialState(cpu=on_cpus, timeout=PROCESS_GROUP_TIMEOUT)


def process_index() -> int:
    """This process's rank in the process group (0 without one: unlike the harness, a shard is never taken
    without a group to gather it)."""
    return processes.process_index(from_environment=False)


def process_count() -> int:
    return processes.process_count(from_environment=False)


def shard_by_tokens(lengths: Sequence[int], parts: int) -> list[list[int]]:
    """The indices of ``lengths`` in ``parts`` lists of near-equal total length: longest first, each to the
    lightest list so far (LPT). Each list keeps the input order, so sorted input stays sorted."""
    shards: list[list[int]] = [[] for _ in range(parts)]
    loads = [(0, part) for part in range(parts)]
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        load, part = heapq.heappop(loads)
        shards[part].append(index)
        heapq.heappush(loads, (load + lengths[index], part))
    return [sorted(shard) for shard in shards]


def gather_from_all(value: Any) -> list[Any]:
    """``value`` of every process, in process order, on every process (``[value]`` with one process)."""
    group = process_group()
    if group is None:
        return [value]
    gathered: list[Any] = [None] * group.get_world_size()
    group.all_gather_object(gathered, value)
    return gathered


def broadcast_from_main(value: Any) -> Any:
    """The main process's ``value`` on every process."""
    group = process_group()
    if group is None:
        return value
    box = [value]
    group.broadcast_object_list(box, src=0)
    return box[0]

