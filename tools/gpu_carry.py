"""The folder that the GPU job of issue 22 (``tools/gpu_tutorialvqa.sh``) carries to a lent GPU machine, and
the account of the 64 MiB that may travel there (the device tool's limit: working tree plus carried paths).

    python tools/gpu_carry.py build --out .carry        # all-MiniLM-L6-v2 + ../shared/data/tutorialvqa
    python tools/gpu_carry.py build --out .carry-dry --model ENCODER_DIR --data DATA_DIR   # the rehearsal's
    python tools/gpu_carry.py size .carry               # what a call carrying .carry would send
    python tools/gpu_carry.py hide benchmarks/results   # before the call: that folder stops travelling
    python tools/gpu_carry.py restore benchmarks/results   # right after the call, before any commit

``build`` writes (an ignored folder, never committed: the data is not ours to publish):

* ``model/``: the encoder's files, its float32 weights stored as float16 safetensors (half the bytes; the
  job widens them back to float32 before training, so the run loads a float32 model as the CPU run did);
* ``data.tar.xz``: the data folder (TutorialVQA: 43 MB of JSON, 0.2 MB in xz: every question repeats its
  video's subtitles);
* ``whl/``: wheels (Python 3.12, x86-64) of what ``vcval run ccgs`` / ``vcval score`` import that the GPU
  machine's Python lacks (device/KINDS.md's package list), at the versions installed here, plus a wheel
  of this repository for its entry points (the system catalogs); the job puts the repository first on the
  path, so the code that runs is the working tree's;
* ``carry.json``: what is inside, with sizes and the sha256 of the source weights.

Why ``hide``: the tracked tree is about 52 MiB, nearly all of it committed predictions under
``benchmarks/results/``, and the model alone is 43 MiB in float16, so one call cannot carry both. ``hide``
takes the folder out of git's index (the files stay on disk) and ignores it with a ``.gitignore`` of its own,
so that it is neither tracked nor untracked-not-ignored and does not travel; ``restore`` undoes both.
Never commit between the two: the commit would delete the folder from the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT_BYTES = 64 * 2**20
"""What one call of the device tool may send: working tree, shared/ and carried paths together."""

MISSING_ON_DEVICE = ("datasets", "dill", "multiprocess", "pydantic", "pydantic-core", "annotated-types",
                     "typing-inspection", "typing-extensions", "orjson", "bm25s", "PyStemmer")
"""Distributions that ``vcval run ccgs``, ``vcval score`` and ``tools/ccgs_probe.py`` import and that the
GPU machine's Python lacks (typing-extensions: pydantic needs >= 4.16). Found by ``python -X importtime``
over those commands on the rehearsal data, against device/KINDS.md's list; mlflow is not imported with
``--no-track``."""

PLATFORM_FLAGS = ("--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
                  "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_27_x86_64",
                  "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
                  "--platform", "manylinux1_x86_64")
"""The device machine's interpreter (Python 3.12, x86-64), as device/README.md gives them to pip."""


def default_model() -> Path:
    from baselines.dense import DEFAULT_MODEL, resolve_model

    return Path(resolve_model(DEFAULT_MODEL))


def write_half_precision_model(source: Path, target: Path) -> str:
    """Copy the encoder folder ``source`` to ``target`` with its float32 safetensors weights as float16;
    returns the sha256 of the source weights."""
    from safetensors.numpy import load_file, save_file

    weights = source / "model.safetensors"
    if not weights.is_file():
        raise SystemExit(f"{source}: no model.safetensors (an encoder folder with safetensors weights is needed)")
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file() and path.suffix not in (".safetensors", ".bin", ".h5", ".msgpack", ".onnx"):
            shutil.copy2(path, target / path.name)
    tensors = load_file(weights)
    half = {name: (array.astype("float16") if array.dtype.name == "float32" else array)
            for name, array in tensors.items()}
    save_file(half, target / "model.safetensors", metadata={"format": "pt"})
    return hashlib.sha256(weights.read_bytes()).hexdigest()


def write_data_archive(data_dir: Path, archive: Path) -> None:
    """``data_dir``'s files as one tar.xz whose members are relative to it (``text/train.json`` ...)."""
    with tarfile.open(archive, "w:xz", preset=9) as tar:
        for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
            tar.add(path, arcname=str(path.relative_to(data_dir)))


def download_wheels(folder: Path) -> list[str]:
    """The wheels of :data:`MISSING_ON_DEVICE` at the versions installed here, and one of this repository."""
    folder = folder.resolve()
    folder.mkdir(parents=True)
    pins = [f"{name}=={version(name)}" for name in MISSING_ON_DEVICE]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *PLATFORM_FLAGS,
                    "-d", str(folder), *pins], check=True)
    with tempfile.TemporaryDirectory() as build:  # the repository's own wheel, built outside the tree
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "-w", str(folder), str(ROOT)], check=True, cwd=build)
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' scratch folder (ignored, but not ours)
    return sorted(p.name for p in folder.glob("*.whl"))


def build(out: Path, model: Path, data: Path, wheels: bool) -> None:
    if out.exists():
        raise SystemExit(f"{out} exists: remove it first (it is a build output)")
    if not data.is_dir():
        raise SystemExit(f"{data}: no such data folder")
    out.mkdir(parents=True)
    digest = write_half_precision_model(model, out / "model")
    write_data_archive(data, out / "data.tar.xz")
    names = download_wheels(out / "whl") if wheels else []
    manifest = {"model": {"source": str(model), "source_sha256": digest, "stored_as": "float16 safetensors"},
                "data": {"source": str(data.resolve()), "archive": "data.tar.xz"},
                "wheels": names, "python": "3.12 x86-64 (the device machine's)"}
    (out / "carry.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}: model {_mib(_size(out / 'model'))}, data {_mib(_size(out / 'data.tar.xz'))}, "
          f"wheels {_mib(_size(out / 'whl'))} ({len(names)})")
    report_size([out])


# -- what travels -------------------------------------------------------------------------------------------
def travelling_files() -> list[Path]:
    """What the device tool sends besides carried paths: tracked and untracked-not-ignored files that exist."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True).stdout.decode().split("\0")
    return [ROOT / name for name in dict.fromkeys(listed) if name and (ROOT / name).is_file()]


def report_size(carried: list[Path]) -> int:
    tree = travelling_files()
    tree_bytes = sum(p.stat().st_size for p in tree)
    by_folder: dict[str, int] = {}
    for path in tree:
        top = "/".join(path.relative_to(ROOT).parts[:2])
        by_folder[top] = by_folder.get(top, 0) + path.stat().st_size
    carried_bytes = {str(p): _size(p) for p in carried}
    total = tree_bytes + sum(carried_bytes.values())
    print(f"working tree that travels: {_mib(tree_bytes)} in {len(tree)} files; largest: " +
          ", ".join(f"{name} {_mib(size)}" for name, size in sorted(by_folder.items(), key=lambda x: -x[1])[:3]))
    for name, size in carried_bytes.items():
        print(f"carried {name}: {_mib(size)}")
    verdict = "fits" if total <= LIMIT_BYTES else "OVER the limit"
    print(f"total {_mib(total)} of {_mib(LIMIT_BYTES)}: {verdict}")
    if total > LIMIT_BYTES and by_folder.get("benchmarks/results", 0) > total - LIMIT_BYTES:
        print("  `python tools/gpu_carry.py hide benchmarks/results` for the call (then `restore`) would make it fit")
    return total


# -- hide / restore a tracked folder for one call -----------------------------------------------------------
HIDING = "# written by `tools/gpu_carry.py hide`: removed by `restore`\n*\n"
"""The hidden folder's own .gitignore: it ignores everything in the folder, itself included, in this
checkout only (``.git/info/exclude`` would be shared by every worktree of the repository)."""


def hide(folder: str) -> None:
    marker = ROOT / folder / ".gitignore"
    if marker.exists():
        raise SystemExit(f"{marker} exists: {folder} is hidden already, or has an ignore file of its own")
    marker.write_text(HIDING, encoding="utf-8")
    subprocess.run(["git", "-C", str(ROOT), "rm", "-r", "-q", "--cached", "--", folder], check=True)
    print(f"{folder} is out of the index and ignored (files kept on disk): run `restore {folder}` after the call, "
          "and commit nothing before that")


def restore(folder: str) -> None:
    subprocess.run(["git", "-C", str(ROOT), "reset", "-q", "--", folder], check=True)
    marker = ROOT / folder / ".gitignore"
    if marker.exists() and marker.read_text(encoding="utf-8") == HIDING:
        marker.unlink()
    changed = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", folder], check=True,
                             capture_output=True, text=True).stdout
    print(f"{folder} is tracked again" + ("" if not changed else f"; differs from the index:\n{changed}"))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="write the carried folder")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--model", type=Path, default=None, help="encoder folder (default: all-MiniLM-L6-v2)")
    make.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "tutorialvqa",
                      help="data folder (default: ../shared/data/tutorialvqa)")
    make.add_argument("--no-wheels", action="store_true", help="leave the wheels out")
    size = commands.add_parser("size", help="what a call carrying these paths would send")
    size.add_argument("carried", type=Path, nargs="*")
    for name in ("hide", "restore"):
        commands.add_parser(name, help=f"{name} a tracked folder for one call").add_argument("folder")
    args = parser.parse_args()
    if args.command == "build":
        build(args.out, args.model or default_model(), args.data, not args.no_wheels)
    elif args.command == "size":
        return 0 if report_size(args.carried) <= LIMIT_BYTES else 1
    elif args.command == "hide":
        hide(args.folder)
    else:
        restore(args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
