"""Project exceptions. Every error a user can cause names where it happened and what was expected."""

from __future__ import annotations


class VcvalError(Exception):
    """Base class of every error the suite raises on purpose; the CLI prints these without a traceback."""


class InputError(VcvalError):
    """A bad input file or record: names the file, the line or record, the field and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.record = record
        self.field = field
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class DataError(InputError):
    """A data folder (annotations, subtitles, features) is missing, malformed or inconsistent."""


class ConfigError(VcvalError):
    """An option, protocol, grid or system configuration is invalid."""
