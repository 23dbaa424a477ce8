"""Command-line flags generated from an options dataclass: one flag per field, named after it
(``max_len`` -> ``--max-len``), typed and with choices from its type hint, help from its docstring.

Every flag defaults to ``None`` (left out of the configuration), so a flag the user does not give never
overrides a preset. Booleans get ``--x`` / ``--no-x``, ``Literal`` fields their choices, tuples a list of
values; each value is cast again and checked by :func:`benchmark.options.read_options` when the system is
built.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from benchmark.options import field_docs


def add_option_flags(group: Any, cls: type, *, skip: Iterable[str] = (),
                     aliases: Mapping[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """Add a flag for each field of ``cls`` not in ``skip`` to ``group`` (a parser or argument group);
    ``aliases`` gives a field further flag names. The dests added (the field names), in field order."""
    hints, docs, skipped, aliases = typing.get_type_hints(cls), field_docs(cls), set(skip), aliases or {}
    added = []
    for field in dataclasses.fields(cls):
        if field.name in skipped:
            continue
        names = (f"--{field.name.replace('_', '-')}", *aliases.get(field.name, ()))
        help_text = _first_sentence(docs.get(field.name, ""))
        group.add_argument(*names, dest=field.name, default=None, help=help_text, **_kind(hints[field.name]))
        added.append(field.name)
    return tuple(added)


def _kind(hint: Any) -> dict[str, Any]:
    """argparse's ``type`` / ``choices`` / ``action`` / ``nargs`` for a field's type hint."""
    arguments = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None: a flag gives an X
        hint = next(argument for argument in arguments if argument is not type(None))
        arguments = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is typing.Literal:
        return {"choices": arguments}
    if origin is tuple:
        return {"nargs": "*", "type": arguments[0], "metavar": arguments[0].__name__.upper()}
    if hint in (int, float):
        return {"type": hint, "metavar": hint.__name__.upper()}
    return {"metavar": "TEXT"}


def _first_sentence(doc: str) -> str:
    """The docstring's first sentence on one line, without reST markup (and ``%`` escaped for argparse)."""
    text = re.sub(r":\w+:`([^`]*)`", r"\1", " ".join(doc.split())).replace("``", "")
    match = re.match(r"(.*?\S\.)(\s|$)", text)
    return (match.group(1) if match else text).replace("%", "%%")
