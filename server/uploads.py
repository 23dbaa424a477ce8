"""Receiving an upload without trusting it: a body limit enforced while the request streams in (an ASGI
middleware, so an oversized upload is cut off instead of read), and a copy to a private temporary file
that counts what a gzip file expands to as it goes (a gzip bomb stops at the limit, never in memory).

The client's file name is never used as a path: only a cleaned base name is kept, as a label."""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
MULTIPART_SLACK = 64 << 10  # room for the form's other fields and boundaries
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_GZIP_MAGIC = b"\x1f\x8b"


class UploadTooLarge(Exception):
    """The upload, or what its gzip expands to, is over the server's limit (HTTP 413)."""


@dataclass(frozen=True)
class SavedUpload:
    path: Path
    filename: str  # cleaned label, never a path
    size: int  # bytes received
    expanded: int  # bytes after decompression (= size for a plain file)
    content_sha256: str  # of the decompressed content: a file and its gzip are the same submission


def clean_filename(name: str | None) -> str:
    """The last component of a client-given name, reduced to ``[A-Za-z0-9._-]``, at most 100 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._")[:100]
    return cleaned or "predictions.jsonl"


def save_upload(source: BinaryIO, target: Path, filename: str | None, max_bytes: int,
                max_expanded: int) -> SavedUpload:
    """Copy ``source`` to ``target`` chunk by chunk; raise :class:`UploadTooLarge` past either limit."""
    size = 0
    counter: _ExpansionCounter | None = None
    plain_digest = hashlib.sha256()
    with open(target, "wb") as out:
        while True:
            chunk = source.read(CHUNK)
            if not chunk:
                break
            if size == 0 and chunk[:2] == _GZIP_MAGIC:
                counter = _ExpansionCounter(max_expanded)
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(f"the upload is larger than the server's limit of {max_bytes} bytes")
            out.write(chunk)
            if counter is not None:
                counter.feed(chunk)
            else:
                plain_digest.update(chunk)
    if counter is None:
        return SavedUpload(target, clean_filename(filename), size, size, plain_digest.hexdigest())
    return SavedUpload(target, clean_filename(filename), size, counter.expanded, counter.digest.hexdigest())


class _ExpansionCounter:
    """Decompresses gzip members as they arrive, a bounded piece at a time, counting and hashing the output.
    A stream that is not valid gzip stops being counted: the validator then reports it as unreadable."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.expanded = 0
        self.digest = hashlib.sha256()
        self.broken = False
        self._decompressor = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> None:
        while data and not self.broken:
            try:
                output = self._decompressor.decompress(data, CHUNK)
            except zlib.error:
                self.broken = True
                return
            self._count(output)
            data = self._decompressor.unconsumed_tail
            if self._decompressor.eof:  # the next gzip member, if any
                rest = self._decompressor.unused_data
                self._decompressor = zlib.decompressobj(wbits=31)
                data = rest
            elif not data:
                return

    def _count(self, output: bytes) -> None:
        self.expanded += len(output)
        if self.expanded > self.limit:
            raise UploadTooLarge(f"the upload expands (gzip) past the server's limit of {self.limit} bytes")
        self.digest.update(output)


class BodyLimit:
    """ASGI middleware: a POST body over ``limit`` bytes is refused with 413 from its Content-Length, or
    cut off while it streams (chunked uploads state no length)."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit + MULTIPART_SLACK

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(send, self.limit)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise UploadTooLarge(f"the upload is larger than the server's limit of "
                                         f"{self.limit - MULTIPART_SLACK} bytes")
            return message

        return await self.app(scope, limited_receive, send)


async def _too_large(send, limit: int) -> None:
    body = (b'{"detail":"the upload is larger than the server\'s limit of %d bytes"}' % (limit - MULTIPART_SLACK))
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
