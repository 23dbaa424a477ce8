"""The audit log: every event appended to a hash chain in the same transaction as the change it records.

Each row's hash is sha256 over the previous row's hash and the row's own canonical content, so editing,
deleting or reordering any row breaks the chain from that row on; :func:`verify` names the first."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import Database
from server.models import AuditEvent

GENESIS = "0" * 64


def append(db: Database, session: Session, kind: str, detail: Mapping[str, object], team: str = "") -> AuditEvent:
    """Add one event after the chain's last row (serialised: SQLite's reserved write, PostgreSQL's lock)."""
    db.lock_audit(session)
    last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
    at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    event = AuditEvent(id=(last.id + 1) if last else 1, at=at, kind=kind, team=team,
                       detail=json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=True),
                       previous_hash=last.hash if last else GENESIS)
    event.hash = row_hash(event)
    session.add(event)
    session.flush()
    return event


def row_hash(event: AuditEvent) -> str:
    content = json.dumps([event.id, event.at, event.kind, event.team, event.detail, event.previous_hash],
                         separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verification:
    rows: int
    first_broken: int | None  # the id of the first row whose hash or link does not hold
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken is None


def verify(db: Database) -> Verification:
    """Recompute the chain from the first row; the first row that does not hold ends the check."""
    previous, expected_id, rows = GENESIS, 1, 0
    with db.reading() as session:
        for event in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
            rows += 1
            if event.id != expected_id:
                return Verification(rows, event.id, f"row {expected_id} is missing")
            if event.previous_hash != previous:
                return Verification(rows, event.id, "its link to the previous row does not match")
            if row_hash(event) != event.hash:
                return Verification(rows, event.id, "its content does not match its hash")
            previous, expected_id = event.hash, expected_id + 1
    return Verification(rows, None)
