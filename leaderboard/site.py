"""A rendered folder (the leaderboard site, the paper tables) is built aside and swapped in whole.

The folder is written into a hidden staging folder beside it, marked as made by its command
(:data:`MARKER_FILE`, listing the files written), and renamed into place; the folder it replaces is moved
aside first and removed after. SIGINT and SIGTERM wait during the two renames, so an interrupted render
leaves the old folder or the new one, never a mix, and a failed one leaves the old folder untouched.

Only a folder that is free (absent or empty) or was made by the same command, holding only the files it
wrote, is replaced; a site written before markers existed (nothing in it but the site's own files) too.
Anything else is refused with the path, and nothing is deleted.

The marker's format (``{"kind", "made_by", "files"}``) is that of the suite's owned folders; this module
holds only what the renderers need.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from benchmark.errors import ConfigError

MARKER_FILE = ".vcval-owner.json"
STAGING_PREFIX = ".staging-"
SITE_KIND = "site"


def read_marker(folder: Path) -> dict | None:
    try:
        value = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("files"), list):
        return None
    return value


def _files_under(folder: Path) -> list[str]:
    names = []
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            relative = Path(root, name).relative_to(folder).as_posix()
            if relative != MARKER_FILE:
                names.append(relative)
    return sorted(names)


def check_replaceable(folder: Path, made_by: str, legacy: Callable[[str], bool]) -> None:
    """Raise :class:`ConfigError` unless ``folder`` may be replaced by a render of ``made_by``: it is absent
    or empty, or marked as made by ``made_by`` and holding only the files listed, or unmarked and holding
    only files that ``legacy`` recognises as the command's own (a folder rendered before markers)."""
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_symlink() or not folder.is_dir():
        raise ConfigError(f"{folder} is {'a link' if folder.is_symlink() else 'a file'}, not a folder {made_by} "
                          "wrote: give another output folder")
    present = _files_under(folder)
    marker = read_marker(folder)
    if marker is None:
        foreign = [name for name in present if not legacy(name)]
        if foreign or (folder / MARKER_FILE).exists():
            raise ConfigError(f"{folder} was not written by {made_by} (it holds {_shown(folder, foreign or present)}); "
                              "it is left as it is: give a new or empty output folder")
        return
    if marker.get("kind") != SITE_KIND or marker.get("made_by") != made_by:
        raise ConfigError(f"{folder} was written by {marker.get('made_by')!r}, not {made_by}; it is left as it is: "
                          "give a new or empty output folder")
    listed = {str(name) for name in marker["files"]}
    foreign = [name for name in present if name not in listed]
    if foreign:
        raise ConfigError(f"{folder} holds {len(foreign)} file(s) that {made_by} did not write "
                          f"({_shown(folder, foreign)}); nothing was replaced: move them out of the folder first")


def _shown(folder: Path, names: Sequence[str]) -> str:
    return ", ".join(str(folder / name) for name in names[:3]) + (" ..." if len(names) > 3 else "")


@contextmanager
def built_aside(out_dir: Path, made_by: str, legacy: Callable[[str], bool]) -> Iterator[Path]:
    """Yield an empty staging folder beside ``out_dir`` to write into; when the block ends normally, mark
    it and swap it in for ``out_dir`` (checked first with :func:`check_replaceable`). On any error or
    interruption the staging folder is removed and ``out_dir`` is left as it was."""
    check_replaceable(out_dir, made_by, legacy)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name[:40]}-", dir=out_dir.parent))
    try:
        yield staging
        (staging / MARKER_FILE).write_text(json.dumps({"kind": SITE_KIND, "made_by": made_by,
                                                       "files": _files_under(staging)}, indent=1) + "\n",
                                           encoding="utf-8")
        check_replaceable(out_dir, made_by, legacy)  # again: another render may have been quicker
        _swap_in(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, out_dir: Path) -> None:
    os.chmod(staging, 0o755)  # mkdtemp makes it private; a site is as readable as any other folder
    replaced = None
    with _signals_deferred():
        if out_dir.exists():
            replaced = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name[:40]}-old-", dir=out_dir.parent))
            os.rename(out_dir, replaced / "old")
        try:
            os.rename(staging, out_dir)
        except OSError:
            if replaced is not None:
                os.rename(replaced / "old", out_dir)  # put the old one back
            raise
        if replaced is not None:  # before a deferred signal ends the process
            shutil.rmtree(replaced, ignore_errors=True)


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
        handler = signal.getsignal(number)
        if handler is not None:
            previous[number] = signal.signal(number, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in received[:1]:
            signal.raise_signal(number)
