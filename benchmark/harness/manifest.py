"""The run manifest (``manifest.json``): one typed, versioned record of what a run was.

:class:`RunManifest` is the only description of the file: the runner builds one and writes
:meth:`RunManifest.to_dict`; every reader gets one from :meth:`RunManifest.from_mapping`, which checks
each field through :func:`benchmark.options.read_options` (numbers and booleans strictly: ``"42"`` is not a
seed; the bound protocol through :func:`benchmark.protocol.protocol_from_mapping`) and names the file and
the field of the first problem.

Every new manifest records :data:`SCHEMA_VERSION`. A manifest without ``schema_version`` was written before
versions were recorded, in the layout of version 1, and is read as version 1 (without ``fitted`` or
``files_sha256`` when it predates them). A version this code does not know is refused, naming it: a layout
changed in a way this reader cannot follow must fail here, not as a missing key somewhere downstream.
Changing the layout means raising :data:`SCHEMA_VERSION` and saying here how an older version is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import StrictBool, StrictFloat, StrictInt

from benchmark.errors import ConfigError, VcvalError
from benchmark.options import read_options
from benchmark.protocol import Protocol, protocol_from_mapping

SCHEMA_VERSION = 1
# The versions this code reads (a manifest without a version is version 1).
READABLE_VERSIONS = (1,)
_UNVERSIONED = 1


class ManifestError(VcvalError):
    """A run manifest that is malformed or written in a layout this version of the suite cannot read."""


@dataclass(frozen=True)
class RunEnvironment:
    """Where a run ran (:func:`benchmark.harness.environment.environment`)."""

    git_commit: str
    """Commit of the suite's source checkout, ``unknown`` for an installed copy outside git."""
    git_dirty: StrictBool | None
    """Whether that checkout had uncommitted changes (null outside git)."""
    versions: dict[str, str]
    """Python's and the installed packages' versions, by name."""
    device: str
    """The GPU(s) torch saw when the system used torch, else the CPU and its core count."""
    platform: str
    """The operating system (``platform.platform()``)."""
    torch_threads: StrictInt | None = None
    """torch's intra-op threads when the system used torch (a CPU-trained model is reproduced bit for bit
    only with as many); null without torch, or in a manifest written before they were recorded."""


@dataclass(frozen=True, kw_only=True)
class RunManifest:
    """One run: what ran, on what, under which protocol, where, and the hashes of its result files."""

    schema_version: StrictInt = SCHEMA_VERSION
    """Layout of this record (:data:`SCHEMA_VERSION` for every new run folder)."""
    system: str
    """The system's registry name (``bm25+window``, ``ccgs``)."""
    config: dict[str, Any]
    """The system's effective configuration: the user's settings with the protocol's filled in."""
    split: str
    """The evaluated split (``test`` or ``validation``)."""
    seed: StrictInt
    """The run's seed (Python, NumPy and torch, and any ``seed`` setting the protocol fixes)."""
    protocol: Protocol
    """The protocol bound to the data (name and fingerprint) and to the evaluated split."""
    protocol_hash: str
    """sha256 of the bound protocol: runs are comparable exactly when these are equal."""
    data_dir: str
    """The data folder the run read."""
    selection: str
    """Which data model selection saw, in words (``validation``, or held-out train videos)."""
    fitted: dict[str, Any] = field(default_factory=dict)
    """What the system chose in ``fit`` (:func:`benchmark.systems.fitted_settings`); empty before it was recorded."""
    deviations: tuple[str, ...]
    """Settings of the config that differ from what the protocol fixes, in words."""
    value_sources: tuple[str, ...] = ()
    """Settings the protocol filled in over a different default of the system's own (its preset), in words:
    ``max_len 1300 from protocol medvidcqa-paper; preset tiny: 256``; empty in a folder written before they
    were recorded."""
    timings_s: dict[str, StrictFloat]
    """Seconds per step (``build``, ``load``, ``fit``, ``predict``, ``score``, ``write``)."""
    wall_time_s: StrictFloat
    """Seconds from start to the manifest being written."""
    finished_at_ms: StrictInt
    """When the run finished, milliseconds since the Unix epoch (MLflow's metric timestamp)."""
    environment: RunEnvironment
    """Where it ran: commit, package versions, device."""
    experiment: str
    """The MLflow experiment it is logged to."""
    run_name: str
    """The MLflow run name."""
    labels: dict[str, str]
    """Extra ``vcval.*`` MLflow tags; an ablation grid's cells record ``grid`` and ``variant``."""
    files_sha256: dict[str, str] | None = None
    """sha256 of ``predictions.jsonl`` and ``scores.json`` (:data:`~benchmark.harness.run_folder.HASHED_FILES`);
    null in a folder written before they were recorded, which is then checked through ``scores.json``."""

    def check_protocol_hash(self, source: str) -> None:
        """Refuse (naming ``source``) a manifest whose recorded protocol does not hash to its ``protocol_hash``."""
        if self.protocol.hash != self.protocol_hash:
            raise ConfigError(f"{source}: the recorded protocol hashes to {self.protocol.short_hash}, not the "
                              f"recorded {self.protocol_hash[:12]}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written as ``manifest.json``, in field order."""
        plain = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        plain["protocol"] = self.protocol.to_dict()
        plain["environment"] = dataclasses.asdict(self.environment)
        plain["deviations"] = list(self.deviations)
        plain["value_sources"] = list(self.value_sources)
        return plain

    @classmethod
    def from_mapping(cls, value: Any, source: str) -> RunManifest:
        """The manifest parsed from ``manifest.json`` at ``source`` (the path, for errors); raises
        :class:`ManifestError` naming ``source`` and the field."""
        if not isinstance(value, Mapping):
            raise ManifestError(f"{source}: not a run manifest (a JSON object), got {type(value).__name__}")
        version = value.get("schema_version", _UNVERSIONED)
        if isinstance(version, bool) or not isinstance(version, int):
            raise ManifestError(f"{source}: field 'schema_version' = {version!r}: expected an integer")
        if version not in READABLE_VERSIONS:
            newer = " (written by a newer vcval: upgrade to read it)" if version > SCHEMA_VERSION else ""
            raise ManifestError(f"{source}: run manifest schema_version {version} cannot be read; this vcval reads "
                                f"version {', '.join(map(str, READABLE_VERSIONS))}{newer}")
        values = dict(value)
        try:
            if "protocol" in values:
                values["protocol"] = protocol_from_mapping(values["protocol"], f"{source}: protocol")
            return read_options(cls, values, where=source, noun="field")
        except ConfigError as error:
            raise ManifestError(str(error)) from None
