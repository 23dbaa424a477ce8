"""System configurations from files and ``--set key=value`` overrides: raw values, read as YAML 1.2
scalars; each system casts and checks them by its options' types (:mod:`benchmark.options`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import ConfigError
from benchmark.options import load_yaml


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON mapping of system options."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration file: {error.strerror or error}") from error
    try:
        value = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from error
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: a configuration must be a mapping of options, got {type(value).__name__}")
    return dict(value)


def parse_assignments(assignments: Iterable[str]) -> dict[str, Any]:
    """``["bm25.k1=1.2", "visual=false"]`` -> ``{"bm25": {"k1": 1.2}, "visual": False}``; values are read as
    YAML 1.2 scalars or lists (``3``, ``5e-5``, ``true``, ``null``, ``[1, 2]``; ``no`` and ``on`` stay strings,
    which a boolean option reads as false and true), anything else stays a string."""
    config: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {assignment!r}: expected key=value (a dotted key for nested options)")
        try:
            value = load_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        merge_config(config, nested_setting(key, value))
    return config


def merge_config(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``overrides`` into ``base`` in place, recursing into nested mappings; returns ``base``."""
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = merge_config(dict(base[key]), value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
    return base


def resolve_config(config_file: str | Path | None = None, assignments: Iterable[str] = (),
                   base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``base``, then the file, then the ``--set`` assignments (later wins)."""
    config = merge_config({}, base or {})
    if config_file is not None:
        merge_config(config, load_config_file(config_file))
    return merge_config(config, parse_assignments(assignments))


def nested_setting(dotted: str, value: Any) -> dict[str, Any]:
    """``nested_setting("a.b", 1)`` -> ``{"a": {"b": 1}}``."""
    first, _, rest = dotted.partition(".")
    return {first: nested_setting(rest, value) if rest else value}
