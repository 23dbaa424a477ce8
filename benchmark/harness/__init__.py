"""The benchmark harness: run a system under a protocol, score it, write and track the run."""

from benchmark.harness.runner import RunResult, run_system

__all__ = ["RunResult", "run_system"]
