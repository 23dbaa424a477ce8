"""The CPU thread rule of ccgs/threads.py: the setting, then OMP_NUM_THREADS, then the free usable cores."""

from __future__ import annotations

import pytest
import torch

from ccgs.threads import CpuSample, ThreadGovernor, choose_threads, others_busy


@pytest.mark.parametrize(("requested", "environ", "cores", "busy", "expected"), [
    (3, {"OMP_NUM_THREADS": "1"}, 2, 0.0, 3),   # the setting wins over everything
    (None, {"OMP_NUM_THREADS": "2"}, 8, 5.0, None),  # the environment's count is left as torch read it
    (None, {}, 2, 0.0, 2),     # a quiet machine: every usable core
    (None, {}, 2, 0.05, 2),    # a trickle of other work does not cost a core
    (None, {}, 2, 0.3, 1),     # more than 0.1 of a core: that core is left to the other process
    (None, {}, 2, 1.0, 1),
    (None, {}, 2, 3.5, 1),     # never fewer than 1
    (None, {}, 8, 2.2, 5),     # 8 usable cores, 2.2 busy: 3 left to the others
    (None, {}, 4, None, 4),    # no /proc/stat: every usable core
    (None, {"OMP_NUM_THREADS": " "}, 2, 1.0, 1),  # an empty variable counts as unset
])
def test_choose_threads(requested, environ, cores, busy, expected):
    assert choose_threads(requested, cores, busy, environ)[0] == expected


def test_others_busy_is_the_machine_time_less_this_process_per_second():
    before, after = CpuSample(100.0, 10.0, 50.0), CpuSample(104.0, 11.0, 52.0)
    assert others_busy(before, after) == pytest.approx(1.5)  # (4 - 1) s of CPU in 2 s
    assert others_busy(before, CpuSample(100.5, 11.0, 52.0)) == 0.0  # never negative
    assert others_busy(None, after) is None and others_busy(after, after) is None


def test_governor_sets_torch_threads_from_the_setting(monkeypatch):
    threads = torch.get_num_threads()
    try:
        assert ThreadGovernor(1).threads == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(2)
        assert ThreadGovernor(None).threads == 2  # OMP_NUM_THREADS set: left alone, no sampling
    finally:
        torch.set_num_threads(threads)
