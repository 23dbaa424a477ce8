"""The organiser's settings of one server: what is served and the limits. One frozen record, passed to
:func:`server.app.create_app`; ``vcval serve`` builds it from its options."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from benchmark.errors import ConfigError
from benchmark.protocol import DEFAULT_PROTOCOL

DEFAULT_DB = "sqlite:///vcval-server.db"
DEFAULT_STORE = "submissions"
PUBLIC_CHOICES = ("none", "best")


@dataclass(frozen=True)
class ServerSettings:
    """Everything ``vcval serve`` needs; defaults are those of the issue (5 scored a day, 100 in total)."""

    data_dir: str
    protocol: str = DEFAULT_PROTOCOL
    db_url: str = DEFAULT_DB
    store: str = DEFAULT_STORE
    daily_quota: int = 5
    total_quota: int = 100
    daily_failures: int = 50  # refused (invalid) uploads a team may make per UTC day
    max_upload_bytes: int = 64 << 20
    max_expanded_bytes: int = 512 << 20  # what a gzip upload may expand to
    public_default: str = "none"  # which entry represents a team that chose none: "none" or "best"
    public_questions: int = 0  # size of the seeded public subset of the test questions (0: the whole split)
    public_seed: int = 0
    busy_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.public_default not in PUBLIC_CHOICES:
            raise ConfigError(f"public_default must be one of {list(PUBLIC_CHOICES)}, got {self.public_default!r}")
        for name in ("daily_quota", "total_quota", "daily_failures", "max_upload_bytes", "max_expanded_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.public_questions < 0:
            raise ConfigError(f"public_questions must be 0 (no subset) or more, got {self.public_questions}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def upload_dir(self) -> Path:
        """Where uploads wait while they are checked and scored: beside the store, emptied at each start."""
        store = Path(self.store)
        return store.parent / f".{store.name}-uploads"
