"""Bearer tokens: 32 random bytes shown once; only their sha256 is stored (a token has 256 bits of
entropy, so a fast hash cannot be brute-forced and lookups stay one indexed query)."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "vcv_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()
