"""How many CPU threads a CCGS process computes with.

OpenMP threads that share a core with another busy process spin while they wait for each other: on this
suite's 2-core machine, 2 threads beside one busy process trained 6x slower than 1 thread (issue 22,
``benchmarks/results/bench_threads.json``). So the count comes from what is free, in this order:

1. the ``threads`` setting (``--threads``), when given;
2. the environment's ``OMP_NUM_THREADS``, when set (torch already follows it; torchrun sets 1);
3. otherwise the cores this process may run on (``os.sched_getaffinity``) less one for each other
   process's worth of CPU use on those cores (``/proc/stat`` minus this process's own time, over the
   last epoch or a short sample at the start), any use above 0.1 of a core taking a whole core; at
   least 1.

Rule 3 is applied again before every epoch, so a run that starts beside a busy job gives cores back to
itself once the job ends, and one that starts alone steps down when a job starts beside it.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

BUSY_SHARE = 0.1
"""CPU use by other processes, in cores, above which a whole core is left to them."""


def usable_cores() -> list[int]:
    """The CPUs this process may run on."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def choose_threads(requested: int | None, cores: int, others_busy: float | None,
                   environ: Mapping[str, str] = os.environ) -> tuple[int | None, str]:
    """(threads, why): ``None`` threads means leave torch as the environment set it."""
    if requested is not None:
        return requested, "the threads setting"
    if environ.get("OMP_NUM_THREADS", "").strip():
        return None, "OMP_NUM_THREADS"
    if others_busy is None:  # no /proc/stat: every usable core
        return cores, f"{cores} usable cores"
    taken = max(0, math.ceil(others_busy - BUSY_SHARE))
    return max(1, min(cores, cores - taken)), f"{cores} usable cores, {others_busy:.2f} busy with other processes"


@dataclass
class CpuSample:
    """Busy CPU time of some cores (all processes) and of this process, at one moment (seconds)."""

    machine: float
    own: float
    wall: float


def cpu_sample(cores: list[int]) -> CpuSample | None:
    """None where ``/proc/stat`` cannot be read."""
    try:
        lines = open("/proc/stat", encoding="ascii").read().splitlines()
    except OSError:
        return None
    wanted = {f"cpu{core}" for core in cores}
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    for line in lines:
        fields = line.split()
        if fields and fields[0] in wanted:
            values = [int(v) for v in fields[1:]]
            busy += sum(values[:8]) - values[3] - values[4]  # all but idle and iowait (guest is in user)
    times = os.times()
    return CpuSample(busy / ticks, times.user + times.system, time.monotonic())


def others_busy(before: CpuSample | None, after: CpuSample | None) -> float | None:
    """Cores' worth of CPU that other processes used between two samples."""
    if before is None or after is None or after.wall <= before.wall:
        return None
    other = (after.machine - before.machine) - (after.own - before.own)
    return max(0.0, other / (after.wall - before.wall))


class ThreadGovernor:
    """Sets torch's thread count by :func:`choose_threads`; ``update()`` again after each epoch measures the
    other processes over the epoch."""

    def __init__(self, requested: int | None, sample_seconds: float = 0.5) -> None:
        self.requested = requested
        self.cores = usable_cores()
        self._last: CpuSample | None = None
        self.threads = torch.get_num_threads()
        if requested is None and not os.environ.get("OMP_NUM_THREADS", "").strip():
            self._last = cpu_sample(self.cores)
            time.sleep(sample_seconds)  # this process is idle: what the cores do now is the others' work
        self.update()

    def update(self) -> int:
        sample = cpu_sample(self.cores)
        threads, why = choose_threads(self.requested, len(self.cores), others_busy(self._last, sample))
        self._last = sample
        if threads is not None and threads != torch.get_num_threads():
            torch.set_num_threads(threads)
            log.info("%d CPU threads (%s)", threads, why)
        self.threads = torch.get_num_threads()
        return self.threads
