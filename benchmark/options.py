"""Typed options: the one reader that casts and checks every system setting.

Each system component declares its settings as a frozen dataclass whose type hints say what a value must
be; ``--set key=value``, configuration files (``--config``, grids) and CLI flags all go through
:func:`read_options`, which validates with pydantic's :class:`~pydantic.TypeAdapter`:

* floats in any notation (``5e-5``), integers (``3``; ``3.5`` is refused), strings;
* booleans from ``true/false/yes/no/on/off`` (and ``1/0``);
* ``Literal`` choices, optional values (``null``), tuples from lists (or ``"2,4"``);
* every number finite (``.nan`` and ``.inf`` are refused) unless the field says otherwise (:data:`NONFINITE`).

A wrong value is one line naming the key, the value and what was expected, raised when the system is
built, before any data is loaded or any model trained.

A component also declares, next to its options, which of them the protocol fixes: a ``PROTOCOL_KEYS``
class attribute mapping an option to ``seed`` (the run seed) or a protocol field (``max_tokens``,
``feature_clips``, ``selection_metric``, ``max_candidates``). The harness fills those in and reports deviations.

YAML here is read with YAML 1.2 scalars (:func:`load_yaml`): ``5e-5`` is a float and ``no`` / ``on`` stay
strings, so that ``mixed_precision: no`` is the choice ``"no"`` and ``visual: no`` still reads as false.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from benchmark.errors import ConfigError

OptionsT = TypeVar("OptionsT")

# Protocol settings a component may take as options (the values of ``PROTOCOL_KEYS``).
PROTOCOL_SOURCES = ("seed", "max_tokens", "feature_clips", "selection_metric", "max_candidates")
# Every number an option takes must be finite (no NaN, no infinity) unless its field's metadata says
# ``{NONFINITE: True}`` (``field(default=..., metadata={NONFINITE: True})``).
NONFINITE = "nonfinite"


# -- YAML with YAML 1.2 scalars ----------------------------------------------------------------------------
class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans (only true/false) and floats (``5e-5`` without a dot)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.VERBOSE),
    list("-+0123456789."))


def load_yaml(text: str) -> Any:
    """Parse YAML with YAML 1.2 scalars (raises :class:`yaml.YAMLError`)."""
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


# -- reading options ----------------------------------------------------------------------------------------
def read_options(cls: type[OptionsT], values: Mapping[str, Any], *, where: str, prefix: str = "",
                 noun: str = "option") -> OptionsT:
    """An instance of the options dataclass ``cls`` from ``values`` (field name -> raw value), every value
    cast to its field's type hint. ``where`` starts every error (``system 'bm25'``); ``prefix`` is how the
    keys are named to the user (``bm25.`` for ``bm25.k1``), ``noun`` what they are called (``option``, or
    ``field`` for a record read from a file). Unknown names are an error."""
    fields = {field.name: field for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    known = set(fields)
    unknown = sorted(f"{prefix}{key}" for key in set(values) - known)  # a YAML key may be a number
    if unknown:
        raise ConfigError(f"{where} has no {noun} {', '.join(map(repr, unknown))}; its {noun}s "
                          f"are: {', '.join(prefix + k for k in sorted(known))}")
    hints = _hints(cls)
    prepared = {}
    for name, value in values.items():
        hint = hints[name]
        if isinstance(value, bool) and not _admits(hint, bool):
            raise ConfigError(f"{where}: {noun} '{prefix}{name}' = {value!r}: expected {_expectation(hint)}")
        if isinstance(value, str) and _admits_tuple(hint) and not _admits(hint, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not fields[name].metadata.get(NONFINITE) and not _admits(hint, str) and not _finite(value):
            raise ConfigError(f"{where}: {noun} '{prefix}{name}' = {value!r}: expected a finite number")
        prepared[name] = value
    try:
        return _adapter(cls).validate_python(prepared)
    except ValidationError as error:
        raise ConfigError(_one_line(error, values, where, prefix, hints, noun)) from None
    except (ConfigError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def _finite(value: Any) -> bool:
    """No NaN or infinity in a number, or in the numbers of a list (a string such as '.nan' is parsed later)."""
    if isinstance(value, (list, tuple)):
        return all(_finite(item) for item in value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return True
    return not isinstance(value, float) or math.isfinite(value)


def protocol_keys_of(cls: type, prefix: str = "") -> dict[str, str]:
    """The ``PROTOCOL_KEYS`` an options class declares, with its keys under ``prefix`` (``window.seed``)."""
    declared = getattr(cls, "PROTOCOL_KEYS", {})
    for key, source in declared.items():
        if source not in PROTOCOL_SOURCES:
            raise ConfigError(f"{cls.__name__}.PROTOCOL_KEYS maps '{key}' to '{source}', expected one of "
                              f"{', '.join(PROTOCOL_SOURCES)}")
    return {f"{prefix}{key}": source for key, source in declared.items()}


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of an options dataclass (the string that follows its line in
    the class body), by field name; fields without one are left out."""
    body = ast.parse(inspect.getsource(cls)).body[0].body  # type: ignore[attr-defined]
    return {line.target.id: inspect.cleandoc(doc.value.value) for line, doc in zip(body, body[1:], strict=False)
            if isinstance(line, ast.AnnAssign) and isinstance(line.target, ast.Name) and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)}


def first_sentence(doc: str) -> str:
    """The first sentence of a docstring on one line, its reST roles and literals as Markdown code
    (``:func:`f``` and a double-backquoted ``x`` become `f` and `x` between single backquotes)."""
    text = re.sub(r":\w+:`([^`]*)`", r"`\1`", " ".join(doc.split())).replace("``", "`")
    match = re.match(r"(.*?\S\.)(\s|$)", text)
    return match.group(1) if match else text


def flatten_config(config: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """``{"bm25": {"k1": 1.2}, "top_k": 5}`` -> ``{"bm25.k1": 1.2, "top_k": 5}``."""
    flat: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if not isinstance(key, str):
            raise ConfigError(f"config keys must be strings, got {key!r}")
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class ConfigReader:
    """Hands each component of a system the keys under its prefix, typed, and remembers which were read,
    so that leftovers can be reported."""

    def __init__(self, config: Mapping[str, Any] | None, system: str) -> None:
        self.values = flatten_config(config)
        self.system = system
        self.used: set[str] = set()
        self.known: set[str] = set()

    def options(self, cls: type[OptionsT], prefix: str) -> OptionsT:
        """``cls`` from the keys ``<prefix>.<field>`` (bare ``<field>`` when ``prefix`` is empty)."""
        dotted = f"{prefix}." if prefix else ""
        values = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = dotted + field.name
            self.known.add(key)
            if key in self.values:
                values[field.name] = self.values[key]
                self.used.add(key)
        return read_options(cls, values, where=f"system '{self.system}'", prefix=dotted)

    def check_all_used(self) -> None:
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            raise ConfigError(f"system '{self.system}' has no option {', '.join(repr(k) for k in unknown)}; "
                              f"its options are: {', '.join(sorted(self.known)) or 'none'}")


@functools.cache
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _arguments(hint: Any) -> tuple[Any, ...]:
    """The alternatives of a union (``int | None`` -> ``(int, NoneType)``), else ``(hint,)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _admits(hint: Any, kind: type) -> bool:
    for argument in _arguments(hint):
        if argument is kind or argument is Any:
            return True
        if typing.get_origin(argument) is typing.Literal and any(type(v) is kind for v in typing.get_args(argument)):
            return True
    return False


def _admits_tuple(hint: Any) -> bool:
    return any(typing.get_origin(argument) in (tuple, list) for argument in _arguments(hint))


def _expectation(hint: Any) -> str:
    """What ``hint`` accepts, in words."""
    words = []
    for argument in _arguments(hint):
        origin = typing.get_origin(argument)
        if argument is type(None):
            words.append("null")
        elif origin is typing.Literal:
            words.append("one of " + ", ".join(repr(v) for v in typing.get_args(argument)))
        elif origin in (tuple, list):
            element = typing.get_args(argument)[0] if typing.get_args(argument) else Any
            words.append(f"a list of {_expectation(element).removeprefix('a ').removeprefix('an ')}s")
        else:
            words.append(_TYPE_WORDS.get(argument, getattr(argument, "__name__", str(argument))))
    return " or ".join(words)


_TYPE_WORDS = {bool: "a boolean (true/false, yes/no, on/off)", int: "an integer", float: "a number",
               str: "a string", Any: "any value"}


def _one_line(error: ValidationError, values: Mapping[str, Any], where: str, prefix: str,
              hints: Mapping[str, Any], noun: str) -> str:
    """The first problem of a pydantic error as one line: key, value, what was expected."""
    first = error.errors(include_url=False)[0]
    location = first.get("loc") or ()
    if not location:  # raised by the dataclass's own checks (__post_init__)
        return f"{where}: {str(first.get('msg', error)).removeprefix('Value error, ')}"
    name = str(location[0])
    if first.get("type") == "missing" and len(location) == 1:
        return f"{where}: {noun} '{prefix}{name}' is missing"
    if name not in values:
        return f"{where}: {noun} '{prefix}{name}': {first.get('msg')}"
    if len(location) > 1 and not isinstance(location[1], int):  # inside a record or mapping: name the path
        path = ".".join(str(part) for part in location)
        return f"{where}: {noun} '{prefix}{path}' = {first.get('input')!r}: {first.get('msg')}"
    return f"{where}: {noun} '{prefix}{name}' = {values[name]!r}: expected {_expectation(hints[name])}"
