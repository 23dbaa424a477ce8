"""The one way the suite writes a file a user named: checked first, written whole or not at all.

* :func:`check_output` refuses, before any work is done, an output that is one of the command's inputs
  (the same path, a symbolic link to it or a hard link of it), lies inside one of its data folders, is a
  folder, or sits under a file;
* :func:`open_output`, :func:`write_text` and :func:`write_json` write into a hidden temporary file in
  the output's folder and rename it over the output only once it is complete, so an interrupted or failed
  write leaves the old file as it was. ``-`` means standard output. A device or a FIFO (``/dev/null``,
  ``/dev/full``) is written directly. Every ``OSError`` becomes an :class:`OutputError` naming the path,
  which the CLI prints as one line (exit 2).

docs/files.md says what the suite promises about the files it writes.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from benchmark.errors import VcvalError

STDOUT = "-"
PARTIAL_PREFIX = ".partial-"


class OutputError(VcvalError):
    """An output that may not or cannot be written; names the path and why."""


def is_stdout(path: str | Path) -> bool:
    return str(path) == STDOUT


def check_output(path: str | Path, protected: Iterable[str | Path | None] = (), *, option: str = "output") -> None:
    """Raise :class:`OutputError` unless ``path`` may be written.

    ``protected`` holds the command's inputs: a file in it may not be the output (by path, through a
    link, or as a hard link of the same file), and a folder in it (a data folder) may not contain it.
    ``option`` names the output to the user (``--json``)."""
    if is_stdout(path):
        return
    path = Path(path)
    where = f"{option} {path}"
    if path.is_dir():
        raise OutputError(f"{where} is a folder; give a file name")
    refuse_under_file(path, where)
    resolved = path.resolve()
    for item in protected:
        if item is None or is_stdout(item):
            continue
        item = Path(item)
        if item.is_dir():
            if resolved.is_relative_to(item.resolve()):
                raise OutputError(f"{where} lies inside the data folder {item}, which the command reads; "
                                  "write it elsewhere")
        elif resolved == item.resolve() or _same_file(path, item):
            raise OutputError(f"{where} is the input {item}: writing it would destroy the input; "
                              "give another output path")


def refuse_under_file(path: Path, where: str) -> None:
    """Raise :class:`OutputError` when the nearest existing parent of ``path`` is not a folder."""
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise OutputError(f"{where} lies under {parent}, which is a file, not a folder")
            return


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def open_output(path: str | Path, *, compress: bool | None = None) -> Iterator[TextIO]:
    """A text handle on ``path`` (UTF-8; gzip when ``compress`` or, by default, when the name ends in
    ``.gz``) whose content replaces ``path`` only when the ``with`` block ends without an error."""
    if is_stdout(path):
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(path)
    check_output(path)
    compress = path.suffix == ".gz" if compress is None else compress
    target = path.resolve()  # a symbolic link keeps pointing at the file it names
    try:
        if target.exists() and not stat.S_ISREG(target.stat().st_mode):  # /dev/null, /dev/full, a FIFO
            with _text_handle(open(target, "wb"), compress) as handle:
                yield handle
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, partial = tempfile.mkstemp(prefix=f"{PARTIAL_PREFIX}{target.name}-", dir=target.parent)
    except OSError as error:
        raise _output_error(path, error) from None
    try:
        with _text_handle(os.fdopen(descriptor, "wb"), compress) as handle:
            yield handle
        os.chmod(partial, _mode_for(target))
        os.replace(partial, target)
    except OSError as error:
        _remove(partial)
        raise _output_error(path, error) from None
    except BaseException:
        _remove(partial)
        raise


def write_text(path: str | Path, text: str) -> Path | str:
    """Write ``text`` to ``path`` (``-``: standard output) through :func:`open_output`."""
    with open_output(path, compress=False) as handle:
        handle.write(text)
    return path


def write_json(path: str | Path, value: Any, *, indent: int | None = 2, **dumps: Any) -> Path | str:
    """``value`` as JSON (one trailing newline) through :func:`open_output`."""
    return write_text(path, json.dumps(value, indent=indent, **dumps) + "\n")


@contextlib.contextmanager
def _text_handle(raw, compress: bool) -> Iterator[TextIO]:
    with raw:
        if compress:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
                    io.TextIOWrapper(zipped, encoding="utf-8", newline="\n") as handle:
                yield handle
        else:
            with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as handle:
                yield handle


def _mode_for(target: Path) -> int:
    """An existing file keeps its permissions; a new one gets the usual 0o666 minus the umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _output_error(path: Path, error: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {error.strerror or error}")
