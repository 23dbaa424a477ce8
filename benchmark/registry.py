"""Which systems ``vcval run`` knows: the baselines' and CCGS's catalogs, plus systems added by users.

Each catalog module exposes ``SYSTEMS: dict[str, SystemFactory]``; a factory takes the system's
configuration mapping (unknown keys raise :class:`~benchmark.errors.ConfigError`) and returns a
:class:`~benchmark.systems.System`. Users add their own systems without editing the suite, three ways:

* in Python, ``register_system("my-system", factory)`` before calling the runner;
* on the command line, a ``module:attribute`` name (``vcval run mypackage.systems:make_system ...``);
* in a package, an entry point in the group ``vcval.systems`` whose value is a factory.

The catalogs themselves (``baselines.catalog``, ``ccgs.catalog``) are found through the entry point group
``vcval.catalogs`` (pyproject.toml), so this library names no package above it. A catalog module that is
missing or broken is an error that names it, never a silently shorter list.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from benchmark.errors import ConfigError
from benchmark.options import PROTOCOL_SOURCES
from benchmark.systems import System

SystemFactory = Callable[[Mapping[str, Any]], System]

CATALOG_GROUP = "vcval.catalogs"
ENTRY_POINT_GROUP = "vcval.systems"

_REGISTERED: dict[str, SystemFactory] = {}


@dataclass(frozen=True)
class SystemEntry:
    name: str
    factory: SystemFactory
    source: str  # the catalog module, "entry point <value>" or "registered"

    @property
    def summary(self) -> str:
        """The first line of the factory's docstring."""
        doc = (self.factory.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


def register_system(name: str, factory: SystemFactory, *, replace: bool = False) -> None:
    """Add a system under ``name`` (the extension point for users' own systems and for tests)."""
    if not callable(factory):
        raise ConfigError(f"the factory of system '{name}' is not callable")
    if name in _REGISTERED and not replace:
        raise ConfigError(f"system '{name}' is already registered; pass replace=True to replace it")
    _REGISTERED[name] = factory


def unregister_system(name: str) -> None:
    _REGISTERED.pop(name, None)


def available_systems() -> dict[str, SystemEntry]:
    """Every known system by name: the catalogs, then entry points, then registered systems (later wins)."""
    entries: dict[str, SystemEntry] = {}
    for module_name in catalog_modules():
        for name, factory in _load_catalog(module_name).items():
            entries[name] = SystemEntry(name, factory, module_name)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        entries[point.name] = SystemEntry(point.name, _load_entry_point(point), f"entry point {point.value}")
    for name, factory in _REGISTERED.items():
        entries[name] = SystemEntry(name, factory, "registered")
    return entries


def resolve_system(name: str) -> SystemEntry:
    """The entry of ``name``: a registered name, an entry point, a catalog name, or ``module:attribute``."""
    if name in _REGISTERED:
        return SystemEntry(name, _REGISTERED[name], "registered")
    if ":" in name:
        return SystemEntry(name, _import_factory(name), "import")
    systems = available_systems()
    if name not in systems:
        raise ConfigError(f"unknown system '{name}'; known systems: {', '.join(sorted(systems))} "
                          "(see `vcval systems`), or give a factory as module:attribute")
    return systems[name]


def protocol_keys(entry: SystemEntry) -> dict[str, str]:
    """The config keys of a system that take the protocol's settings: config key (dotted for nested
    options) -> ``seed`` (the run's seed) or a protocol field (``max_tokens``, ``selection_metric``,
    ``max_candidates``), as its factory declares them in a ``protocol_keys`` attribute (the shipped
    factories derive theirs from the ``PROTOCOL_KEYS`` of their options classes). None declared: none."""
    declared = getattr(entry.factory, "protocol_keys", None) or {}
    unknown = {key: source for key, source in declared.items() if source not in PROTOCOL_SOURCES}
    if unknown:
        key, source = next(iter(unknown.items()))
        raise ConfigError(f"system '{entry.name}' ({entry.source}): protocol_keys maps '{key}' to '{source}', "
                          f"expected one of {', '.join(PROTOCOL_SOURCES)}")
    return dict(declared)


def config_defaults(entry: SystemEntry, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Where a system's defaults for ``config`` come from, in words (``preset tiny``), and those defaults by
    config key, as its factory declares them in a ``config_defaults`` attribute (a function of the config);
    none declared: ``("", {})``. The harness names a protocol setting that replaces one of them."""
    declared = getattr(entry.factory, "config_defaults", None)
    if declared is None:
        return "", {}
    label, values = declared(config)
    return str(label), dict(values)


def create_system(name: str, config: Mapping[str, Any] | None = None) -> System:
    """Build system ``name`` from its configuration and check that it speaks the System interface."""
    entry = resolve_system(name)
    system = entry.factory(dict(config or {}))
    missing = [method for method in ("fit", "predict", "predict_localization") if not callable(getattr(system, method, None))]
    if missing:
        raise ConfigError(f"the factory of system '{name}' ({entry.source}) returned {type(system).__name__}, "
                          f"which lacks {', '.join(missing)}: it is not a benchmark.systems.System")
    return system


def catalog_modules() -> tuple[str, ...]:
    """The catalog modules the installed packages declare (entry point group ``vcval.catalogs``)."""
    modules = tuple(sorted(point.value for point in entry_points(group=CATALOG_GROUP)))
    if not modules:
        raise ConfigError(f"no system catalogs are declared (entry point group '{CATALOG_GROUP}'): is the suite "
                          "installed (pip install -e .)?")
    return modules


def _load_catalog(module_name: str) -> Mapping[str, SystemFactory]:
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ConfigError(f"the system catalog '{module_name}' cannot be imported ({type(error).__name__}: {error}); "
                          "is the suite fully installed (pip install -e .)?") from error
    systems = getattr(module, "SYSTEMS", None)
    if not isinstance(systems, Mapping):
        raise ConfigError(f"the system catalog '{module_name}' has no SYSTEMS mapping of name -> factory")
    return systems


def _load_entry_point(point) -> SystemFactory:
    try:
        factory = point.load()
    except Exception as error:
        raise ConfigError(f"the '{ENTRY_POINT_GROUP}' entry point '{point.name}' = {point.value} cannot be loaded "
                          f"({type(error).__name__}: {error})") from error
    if not callable(factory):
        raise ConfigError(f"the '{ENTRY_POINT_GROUP}' entry point '{point.name}' = {point.value} is not callable")
    return factory


def _import_factory(spec: str) -> SystemFactory:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ConfigError(f"system '{spec}': cannot import module '{module_name}' "
                          f"({type(error).__name__}: {error})") from error
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ConfigError(f"system '{spec}': module '{module_name}' has no callable '{attribute}'")
    return factory
