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
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from benchmark.options import field_docs, first_sentence


def add_option_flags(group: Any, cls: type, names: Iterable[str] | None = None, *,
                     aliases: Mapping[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """Add a flag for each field of ``cls`` named in ``names`` (default: every field) to ``group`` (a parser
    or argument group); ``aliases`` gives a field further flag names. The dests added (the field names), in
    field order."""
    hints, docs, aliases = typing.get_type_hints(cls), field_docs(cls), aliases or {}
    wanted = None if names is None else set(names)
    added = []
    for field in dataclasses.fields(cls):
        if wanted is not None and field.name not in wanted:
            continue
        flags = (f"--{field.name.replace('_', '-')}", *aliases.get(field.name, ()))
        help_text = first_sentence(docs.get(field.name, "")).replace("`", "").replace("%", "%%")
        group.add_argument(*flags, dest=field.name, default=None, help=help_text, **_kind(hints[field.name]))
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
