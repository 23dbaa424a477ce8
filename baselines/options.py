"""Component options as typed dataclasses, built from a flat or nested config mapping.

A system's config is one mapping; each component reads the keys under its own prefix (``bm25.k1``,
``textspan.epochs``, or nested: ``{"bm25": {"k1": 1.2}}``). Keys nobody reads are a :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from benchmark.errors import ConfigError

OptionsT = TypeVar("OptionsT")


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
    """Hands each component its keys and remembers which were read, so leftovers can be reported."""

    def __init__(self, config: Mapping[str, Any] | None, system: str) -> None:
        self.values = flatten_config(config)
        self.system = system
        self.used: set[str] = set()
        self.known: set[str] = set()

    def options(self, cls: type[OptionsT], prefix: str) -> OptionsT:
        """An instance of the dataclass ``cls`` from the keys ``<prefix>.<field>`` (or bare ``<field>`` when
        ``prefix`` is empty), converted to the field's type."""
        hints = typing.get_type_hints(cls)
        values = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = f"{prefix}.{field.name}" if prefix else field.name
            self.known.add(key)
            if key in self.values:
                values[field.name] = _convert(self.values[key], hints[field.name], key, self.system)
                self.used.add(key)
        try:
            return cls(**values)
        except ValueError as error:
            raise ConfigError(f"system '{self.system}': {error}") from error

    def check_all_used(self) -> None:
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            raise ConfigError(f"system '{self.system}' has no option {', '.join(repr(k) for k in unknown)}; "
                              f"its options are: {', '.join(sorted(self.known)) or 'none'}")


def _convert(value: Any, hint: Any, key: str, system: str) -> Any:
    """Convert a config value (possibly a string from the command line) to ``hint``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        arguments = typing.get_args(hint)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in arguments:
                return None
        for argument in arguments:
            if argument is type(None):
                continue
            try:
                return _convert(value, argument, key, system)
            except ConfigError:
                continue
        raise ConfigError(f"system '{system}', option '{key}': cannot use {value!r} as {hint}")
    if origin is tuple:
        (element,) = typing.get_args(hint)[:1]
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"system '{system}', option '{key}': expected a list, got {value!r}")
        return tuple(_convert(item, element, key, system) for item in items)
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
                return value.lower() in ("true", "yes", "1")
            raise ValueError
        if hint is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise ConfigError(f"system '{system}', option '{key}': expected {hint.__name__}, got {value!r}") from None
    raise ConfigError(f"system '{system}', option '{key}': unsupported option type {hint}")
