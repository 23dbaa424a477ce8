"""``vcval upload``'s client: one multipart POST with the standard library (no extra dependency)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import InputError, VcvalError

TIMEOUT_S = 600


class ServerError(VcvalError):
    """The server refused the request for a reason other than the file's format (token, size, quota, ...)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict


def upload(path: Path, server: str, token: str, fields: dict[str, str], dry_run: bool = False) -> Reply:
    """POST ``path`` to ``/api/validate`` (dry run) or ``/api/submissions``; a 4xx/5xx reply is returned too."""
    if not path.is_file():
        raise InputError("no such predictions file", path=str(path))
    boundary = "vcval-" + secrets.token_hex(16)
    body = _multipart(boundary, fields, path)
    url = server.rstrip("/") + ("/api/validate" if dry_run else "/api/submissions")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return Reply(response.status, _json(response.read()))
    except urllib.error.HTTPError as error:
        return Reply(error.code, _json(error.read()))
    except (urllib.error.URLError, OSError) as error:
        raise ServerError(f"cannot reach {server}: {getattr(error, 'reason', error)}") from error


def _multipart(boundary: str, fields: dict[str, str], path: Path) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    filename = path.name.replace('"', "_")
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n".encode())
    parts.append(path.read_bytes())
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts)


def _json(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        return {"detail": data[:500].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"detail": value}
