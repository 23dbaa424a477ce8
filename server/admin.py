"""The organiser's operations (``vcval serve admin ...``): teams and tokens, baselines, reveals, rescoring.
They write the database directly, each change with its audit event in the same transaction."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from server import audit
from server.board import build_board
from server.metadata import Metadata
from server.models import SCORED, Submission, Switch, Team
from server.service import NAMES_REVEALED, PRIVATE_REVEALED, Refused, Service
from server.tokens import new_token, token_hash
from server.uploads import save_upload

BASELINE_TEAM = "baselines"


class AdminError(Exception):
    pass


def add_team(service: Service, name: str) -> str:
    """Create a team and return its bearer token (shown once; only its hash is stored)."""
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise AdminError("a team name needs 1 to 200 characters")
    token = new_token()
    with service.db.writing() as session:
        if session.execute(select(Team).where(Team.name == name)).scalar_one_or_none() is not None:
            raise AdminError(f"a team named {name!r} exists already (new token: revoke-token, then add-team)")
        session.add(Team(name=name, token_hash=token_hash(token), created_at=_now()))
        session.flush()
        audit.append(service.db, session, "team added", {}, name)
    return token


def revoke_token(service: Service, name: str, reissue: bool = False) -> str | None:
    """Revoke a team's token; with ``reissue`` give it a new one (returned)."""
    token = new_token() if reissue else None
    with service.db.writing() as session:
        team = session.execute(select(Team).where(Team.name == name)).scalar_one_or_none()
        if team is None or team.is_baseline:
            raise AdminError(f"no team named {name!r}")
        service.db.lock_team(session, team.id)
        if token is None:
            team.revoked_at, team.token_hash = _now(), None
        else:
            team.revoked_at, team.token_hash = None, token_hash(token)
        audit.append(service.db, session, "token reissued" if token else "token revoked", {}, name)
    return token


def list_teams(service: Service) -> list[dict]:
    with service.db.reading() as session:
        rows = []
        for team in session.execute(select(Team).order_by(Team.id)).scalars():
            quota = service.quota(session, team.id)
            rows.append({"team": team.name, "baseline": team.is_baseline,
                         "token": "revoked" if team.revoked_at else ("none" if team.is_baseline else "active"),
                         "entries": len(team.submissions), "scored": quota.scored_total,
                         "scored_today": quota.scored_today, "refused_today": quota.refused_today,
                         "public_entry": team.public_submission_id})
    return rows


def add_baseline(service: Service, path: Path, method: str, description: str = "") -> dict:
    """Score a predictions file as a baseline entry (always on the board, marked B, no quota)."""
    with service.db.writing() as session:
        team = session.execute(select(Team).where(Team.name == BASELINE_TEAM)).scalar_one_or_none()
        if team is None:
            team = Team(name=BASELINE_TEAM, token_hash=None, is_baseline=True, created_at=_now())
            session.add(team)
            session.flush()
            audit.append(service.db, session, "team added", {"baseline": True}, BASELINE_TEAM)
        team_id = team.id
    with service.db.reading() as session:
        team = session.get(Team, team_id)
    service.settings.upload_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="baseline-", dir=service.settings.upload_dir))
    try:
        with open(path, "rb") as source:
            saved = save_upload(source, work / "upload", path.name, service.settings.max_upload_bytes,
                                service.settings.max_expanded_bytes)
        loaded, problems = service.check_file(saved)
        if problems:
            raise Refused(422, "the baseline file is not valid", problems=problems)
        metadata = Metadata(method=method, description=description)
        with service.db.writing() as session:
            submission = service.new_submission(team_id, saved, metadata)
            session.add(submission)
            session.flush()
            submission_id = submission.id
        return service.score_submission(team, submission_id, saved, metadata, validated=loaded)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def reveal(service: Service, switch: str) -> bool:
    """Turn a one-way switch on (names, or the private board); False when it was on already."""
    with service.db.writing() as session:
        row = session.get(Switch, switch)
        if row is not None and row.on:
            return False
        if row is None:
            session.add(Switch(name=switch, on=True))
        else:
            row.on = True
        audit.append(service.db, session, "reveal", {"switch": switch})
    return True


def reveal_names(service: Service) -> bool:
    return reveal(service, NAMES_REVEALED)


def reveal_private(service: Service) -> bool:
    return reveal(service, PRIVATE_REVEALED)


def rescore(service: Service) -> list[dict]:
    """Score every scored entry again with the installed scorer; old scores stay (no longer current) and
    each new score remembers the entry's rank before, so the board can mark ranks that changed."""
    with service.db.reading() as session:
        before = {row.submission: row.rank for row in build_board(service, session).rows}
        targets = [(s.id, s.entry_id) for s in
                   session.execute(select(Submission).where(Submission.status == SCORED).order_by(Submission.id)).scalars()]
    changed = []
    for submission_id, entry_id in targets:
        entry = service.challenge.store.get(entry_id)
        if entry is None:
            raise AdminError(f"entry {entry_id} of submission {submission_id} is missing from the store "
                             f"{service.challenge.store.root}")
        measurement = service.challenge.rescore(entry)
        service.record_score(submission_id, entry_id, measurement, "entry rescored", before.get(submission_id))
        changed.append({"submission": submission_id, "scorer_version": measurement.scorer_version})
    with service.db.writing() as session:
        audit.append(service.db, session, "rescore", {"entries": len(changed)})
    return changed


def _now() -> datetime:
    return datetime.now(timezone.utc)
