"""Owned folders: every folder the suite creates says what made it, and only that may replace it.

A folder made by the suite (a run folder, an ablation cell, a grid, a rendered site, a synthetic data
set) holds a marker file, :data:`MARKER_FILE`, naming its kind and listing the files it wrote. A command
that replaces such a folder (``--overwrite``, ``--resume``, ``vcval data synth`` into the same folder)
first calls :func:`check_replaceable`, which refuses, naming the path,

* a folder without a marker of that kind (it was not made by this command: it is never deleted), and
* a marked folder that holds files the command did not write (a notebook kept in a run folder): the
  command does not delete them and does not move them; the user does.

New folders are built aside (:func:`staging_folder`, or :func:`built_aside` for the whole sequence) and
renamed into place complete (:func:`move_into_place`, with SIGINT and SIGTERM held back during the two
renames), so an interrupted command leaves the old folder or the new one, never a mix.

The API (``write_marker``, ``read_marker``, ``owned_by``, ``check_replaceable``, ``staging_folder``,
``move_into_place``, ``built_aside``) is kept stable for every folder kind; docs/files.md describes it for
users.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import ConfigError
from benchmark.outputs import refuse_under_file, write_json

MARKER_FILE = ".vcval-owner.json"
STAGING_PREFIX = ".staging-"
# The kinds of folder the suite makes; a marker of another kind is read as "not ours".
KINDS = ("run", "ablation-cell", "grid", "site", "synthetic-data", "encoder", "results")


class OwnershipError(ConfigError):
    """A folder the command may not replace: not made by it, or holding files it did not write."""


@dataclass(frozen=True)
class Marker:
    kind: str
    made_by: str
    files: tuple[str, ...]  # paths relative to the folder, '/'-separated, the marker itself excluded


def write_marker(folder: str | Path, kind: str, *, made_by: str | None = None,
                 files: Iterable[str] | None = None) -> Marker:
    """Mark ``folder`` as made by the suite as a ``kind``; ``files`` (default: every file now in it) are
    those the command wrote and may later remove."""
    if kind not in KINDS:
        raise ValueError(f"unknown folder kind {kind!r}, expected one of {KINDS}")
    folder = Path(folder)
    listed = tuple(sorted(files if files is not None else folder_files(folder)))
    marker = Marker(kind, made_by or f"vcval ({kind})", listed)
    write_json(folder / MARKER_FILE, {"kind": marker.kind, "made_by": marker.made_by, "files": list(marker.files)},
               indent=1)
    return marker


def read_marker(folder: str | Path) -> Marker | None:
    """The folder's marker, or None when it has none (or one that cannot be read)."""
    try:
        value = json.loads((Path(folder) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or value.get("kind") not in KINDS or not isinstance(value.get("files"), list):
        return None
    return Marker(value["kind"], str(value.get("made_by", "")), tuple(str(name) for name in value["files"]))


def owned_by(folder: str | Path, kind: str) -> bool:
    """Whether ``folder`` carries a marker of ``kind``."""
    marker = read_marker(folder)
    return marker is not None and marker.kind == kind


def folder_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (not the marker), relative and '/'-separated; links are not followed."""
    names = []
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            relative = Path(root, name).relative_to(folder).as_posix()
            if relative != MARKER_FILE:
                names.append(relative)
    return names


def foreign_files(folder: str | Path) -> list[str]:
    """Files in a marked ``folder`` that its marker does not list (all of them when it has no marker)."""
    folder = Path(folder)
    marker = read_marker(folder)
    listed = set(marker.files) if marker is not None else set()
    return sorted(name for name in folder_files(folder) if name not in listed)


def is_free(folder: str | Path) -> bool:
    """Absent, or an empty folder."""
    folder = Path(folder)
    return not folder.exists() and not folder.is_symlink() or folder.is_dir() and not any(folder.iterdir())


def check_replaceable(folder: str | Path, kind: str, *, what: str, made_by: str | None = None,
                      legacy: Callable[[str], bool] | None = None) -> None:
    """Raise :class:`OwnershipError` unless ``folder`` is free, or was made as a ``kind`` (by ``made_by``,
    when given: the leaderboard and the paper tables are both sites) and holds only the files it wrote.
    ``what`` names the command to the user (``vcval run``). ``legacy`` recognises the files of a folder
    written before markers existed: an unmarked folder holding only such files may be replaced too."""
    folder = Path(folder)
    refuse_under_file(folder, str(folder))
    if is_free(folder):
        return
    if folder.is_symlink() or not folder.is_dir():
        raise OwnershipError(f"{folder} is {'a link' if folder.is_symlink() else 'a file'}, not a folder; give "
                             "another output folder")
    marker = read_marker(folder)
    if marker is None and legacy is not None and not (folder / MARKER_FILE).exists():
        unknown = [name for name in folder_files(folder) if not legacy(name)]
        if not unknown:
            return
        raise OwnershipError(f"{folder} was not written by {what} (it holds {_shown(folder, unknown)}); it is "
                             "left as it is: give a new or empty output folder")
    if marker is None or marker.kind != kind or (made_by is not None and marker.made_by != made_by):
        made = (f"a folder made by '{marker.made_by}'" if marker is not None
                else f"not made by {what} (no {MARKER_FILE})")
        raise OwnershipError(f"{folder} is {made}, so {what} does not replace it; give a new or empty folder")
    foreign = foreign_files(folder)
    if foreign:
        raise OwnershipError(f"{folder} holds {len(foreign)} file(s) that {what} did not write "
                             f"({_shown(folder, foreign)}); they are not deleted: move them out of the folder first")


def shown_paths(paths: list) -> str:
    """The first three paths of a refusal message, then `...` when there are more."""
    return ", ".join(map(str, paths[:3])) + (" ..." if len(paths) > 3 else "")


def _shown(folder: Path, names: list[str]) -> str:
    return shown_paths([folder / name for name in names])


def staging_folder(out_dir: str | Path) -> Path:
    """A new, empty hidden folder beside ``out_dir`` (same file system, so the final rename is atomic)."""
    out_dir = Path(out_dir)
    refuse_under_file(out_dir, str(out_dir))
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name[:40]}-", dir=out_dir.parent))
    except OSError as error:
        raise OwnershipError(f"cannot create a folder beside {out_dir}: {error.strerror or error}") from None


def move_into_place(staging: Path, out_dir: str | Path) -> None:
    """Rename the complete ``staging`` folder to ``out_dir``; an existing ``out_dir`` (which the caller
    checked may be replaced) is moved aside first and removed after, so no moment mixes two folders. A
    failed rename puts the old folder back; SIGINT and SIGTERM wait until the swap is over."""
    out_dir = Path(out_dir)
    os.chmod(staging, 0o755)  # mkdtemp makes it private; an output folder is as readable as any other
    replaced = None
    with _signals_deferred():
        if out_dir.exists():
            replaced = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name[:40]}-replaced-",
                                             dir=out_dir.parent))
            os.rename(out_dir, replaced / "old")
        try:
            os.rename(staging, out_dir)
        except OSError:
            if replaced is not None:
                os.rename(replaced / "old", out_dir)
            raise
        if replaced is not None:  # before a deferred signal ends the process
            shutil.rmtree(replaced, ignore_errors=True)


@contextmanager
def built_aside(out_dir: str | Path, kind: str, *, what: str, made_by: str | None = None,
                legacy: Callable[[str], bool] | None = None) -> Iterator[Path]:
    """Yield an empty staging folder beside ``out_dir`` to write into; when the block ends normally, mark
    it (every file in it) and swap it in for ``out_dir``, checked with :func:`check_replaceable` before and
    again just before the swap (another command may have been quicker). On any error or interruption the
    staging folder is removed and ``out_dir`` is left as it was."""
    out_dir = Path(out_dir)
    check_replaceable(out_dir, kind, what=what, made_by=made_by, legacy=legacy)
    staging = staging_folder(out_dir)
    try:
        yield staging
        write_marker(staging, kind, made_by=made_by or what)
        check_replaceable(out_dir, kind, what=what, made_by=made_by, legacy=legacy)
        move_into_place(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM received inside the block are delivered when it ends (main thread only: that is
    where Python runs signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is not None:
            previous[number] = signal.signal(number, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in received[:1]:
            signal.raise_signal(number)
