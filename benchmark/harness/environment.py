"""What a run records about where it ran: suite commit, package versions, device."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from benchmark.harness.manifest import RunEnvironment

PACKAGES = ("vcval", "torch", "transformers", "datasets", "numpy", "mlflow", "accelerate", "bm25s",
            "sentence-transformers", "pandas")


def git_state(folder: Path | None = None) -> tuple[str, bool | None]:
    """The commit of the suite's source checkout and whether it has uncommitted changes
    (``("unknown", None)`` for an installed copy outside git)."""
    folder = folder or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", None
    return commit, bool(status.strip())


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def device_description() -> str:
    """The GPU(s) torch sees when the run's system used torch, else the CPU and its core count."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return f"cuda: {', '.join(names)}"
    processor = platform.processor() or platform.machine()
    return f"cpu: {processor}, {os.cpu_count()} cores"


def torch_threads() -> int | None:
    """torch's intra-op threads when the run's system used torch (CPU float sums depend on them, so a
    trained model is reproduced bit for bit only with as many threads), else None."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def environment() -> RunEnvironment:
    commit, dirty = git_state()
    return RunEnvironment(git_commit=commit, git_dirty=dirty, versions=package_versions(),
                          device=device_description(), platform=platform.platform(), torch_threads=torch_threads())
