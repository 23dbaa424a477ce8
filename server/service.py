"""What the routes and the admin commands do, as plain methods over the database and the challenge:
authenticate, validate, submit (quota reserved atomically, scored synchronously), choose the public
entry, describe a team, recover from a killed server. Route functions only translate HTTP to these calls.

Every change is written with its audit event in one transaction."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from benchmark.errors import InputError
from benchmark.predictions import LoadedPredictions
from leaderboard.entry import SubmissionInfo
from leaderboard.store import make_entry_id
from server import audit
from server.challenge import Aggregate, Challenge, Measurement, problem_lines
from server.db import Database
from server.metadata import Metadata
from server.models import (
    COUNTED_STATES,
    INTERRUPTED,
    SCORED,
    SCORING,
    Refusal,
    Score,
    Submission,
    Switch,
    Team,
)
from server.settings import ServerSettings
from server.tokens import token_hash
from server.uploads import SavedUpload

log = logging.getLogger("vcval.server")
NAMES_REVEALED, PRIVATE_REVEALED = "names_revealed", "private_revealed"
# Fault drill: seconds to wait after reserving quota and before scoring (docs/server.md, "Fault drills").
SCORE_DELAY_ENV = "VCVAL_SERVE_SCORE_DELAY_S"


class Refused(Exception):
    """A request the server turns down: an HTTP status, a message, and for a bad file its problems."""

    def __init__(self, status: int, message: str, *, problems: list[dict] | None = None,
                 resets_at: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []
        self.resets_at = resets_at

    def to_dict(self) -> dict:
        body: dict = {"detail": self.message}
        if self.problems:
            body["problems"] = self.problems
        if self.resets_at is not None:
            body["resets_at"] = self.resets_at
        return body


@dataclass(frozen=True)
class Quota:
    scored_today: int
    scored_total: int
    daily: int
    total: int
    refused_today: int
    daily_failures: int
    resets_at: str  # next UTC midnight

    @property
    def left(self) -> int:
        return max(0, min(self.daily - self.scored_today, self.total - self.scored_total))

    def to_dict(self) -> dict:
        return {"left": self.left, "scored_today": self.scored_today, "scored_total": self.scored_total,
                "daily_limit": self.daily, "total_limit": self.total, "refused_today": self.refused_today,
                "refused_daily_limit": self.daily_failures, "resets_at": self.resets_at}


@dataclass
class Service:
    settings: ServerSettings
    db: Database
    challenge: Challenge
    _measurements: dict[int, Measurement] = field(default_factory=dict)
    cache: dict[str, tuple] = field(default_factory=dict)  # derived views keyed by a database version

    # ------------------------------------------------------------------------------------------- teams

    def authenticate(self, token: str | None) -> Team:
        if not token or not token.strip():
            raise Refused(401, "a bearer token is required (Authorization: Bearer TOKEN)")
        with self.db.reading() as session:
            team = session.execute(select(Team).where(Team.token_hash == token_hash(token))).scalar_one_or_none()
        if team is None or team.is_baseline:
            raise Refused(401, "unknown token")
        if team.revoked_at is not None:
            raise Refused(401, "this token has been revoked")
        return team

    def quota(self, session: Session, team_id: int) -> Quota:
        today = _today()
        counted = select(func.count()).select_from(Submission).where(
            Submission.team_id == team_id, Submission.status.in_(COUNTED_STATES))
        scored_total = session.execute(counted).scalar_one()
        scored_today = session.execute(counted.where(Submission.day == today)).scalar_one()
        refused_today = session.execute(select(func.count()).select_from(Refusal).where(
            Refusal.team_id == team_id, Refusal.day == today)).scalar_one()
        return Quota(scored_today, scored_total, self.settings.daily_quota, self.settings.total_quota,
                     refused_today, self.settings.daily_failures, _next_midnight())

    # ------------------------------------------------------------------------------------- validating

    def check_file(self, saved: SavedUpload) -> tuple[LoadedPredictions | None, list[dict]]:
        """The file as the validator loaded it (None when unreadable) and its problems (empty when it can
        be scored)."""
        try:
            loaded = self.challenge.validate(saved.path, self.settings.max_expanded_bytes)
        except InputError as error:  # unreadable gzip, a line too long, over the size limit
            where = f"line {error.line}: " if error.line is not None else ""
            return None, [{"line": error.line, "qid": None, "field": error.field, "message": error.message,
                           "text": f"{where}{error.message}"}]
        return loaded, problem_lines(loaded)

    def validate(self, team: Team, saved: SavedUpload) -> dict:
        _, problems = self.check_file(saved)
        return {"valid": not problems, "problems": problems, "questions": self.challenge.n_questions,
                "split": self.challenge.split.name}

    # ------------------------------------------------------------------------------------- submitting

    def submit(self, team: Team, saved: SavedUpload, metadata: Metadata) -> dict:
        """Refuse (failure cap, quota), validate, reserve a quota slot atomically, score, record."""
        with self.db.reading() as session:
            quota = self.quota(session, team.id)
        if quota.refused_today >= quota.daily_failures:
            self._refuse(team, f"{quota.refused_today} refused uploads today (limit {quota.daily_failures})")
            raise Refused(429, f"too many refused uploads today ({quota.daily_failures}); the count resets at "
                               f"{quota.resets_at}", resets_at=quota.resets_at)
        self._check_quota(team, quota)
        loaded, problems = self.check_file(saved)
        if problems:
            self._refuse(team, f"invalid file: {len(problems)} problem(s)", count=True)
            raise Refused(422, "the predictions file is not valid: nothing was scored and no scored quota was "
                               "spent", problems=problems)
        submission_id = self._reserve(team, saved, metadata)
        return self.score_submission(team, submission_id, saved, metadata, validated=loaded)

    def _check_quota(self, team: Team, quota: Quota) -> None:
        if quota.scored_total >= quota.total:
            self._refuse(team, "total quota used")
            raise Refused(429, f"the team has used its total quota of {quota.total} scored submissions")
        if quota.scored_today >= quota.daily:
            self._refuse(team, "daily quota used")
            raise Refused(429, f"the team has used today's quota of {quota.daily} scored submissions; it "
                               f"resets at {quota.resets_at}", resets_at=quota.resets_at)

    def _reserve(self, team: Team, saved: SavedUpload, metadata: Metadata) -> int:
        """Check the quota and insert the submission in one serialised transaction (no count-then-insert race)."""
        refusal: Quota | None = None
        with self.db.writing() as session:
            locked = self.db.lock_team(session, team.id)
            if locked.revoked_at is not None:
                raise Refused(401, "this token has been revoked")
            quota = self.quota(session, team.id)
            if quota.left <= 0:
                refusal = quota
            else:
                submission = self.new_submission(team.id, saved, metadata)
                session.add(submission)
                session.flush()
                return submission.id
        assert refusal is not None
        self._check_quota(team, refusal)
        raise AssertionError("unreachable: a quota with nothing left refuses")

    def new_submission(self, team_id: int, saved: SavedUpload, metadata: Metadata) -> Submission:
        """A submission row in state "scoring", its store entry id known before scoring (for recovery)."""
        now = _now()
        return Submission(team_id=team_id, status=SCORING, created_at=now, day=now.date().isoformat(),
                          entry_id=make_entry_id(saved.content_sha256, self.challenge.split.name,
                                                 self.challenge.protocol.hash),
                          content_sha256=saved.content_sha256, method=metadata.method,
                          description=metadata.description, authors=metadata.authors, code_url=metadata.code_url,
                          paper_url=metadata.paper_url, anonymous=metadata.anonymous)

    def score_submission(self, team: Team, submission_id: int, saved: SavedUpload, metadata: Metadata,
                         validated: LoadedPredictions | None = None) -> dict:
        delay = float(os.environ.get(SCORE_DELAY_ENV) or 0)
        if delay:
            time.sleep(delay)
        info = SubmissionInfo(metadata.method, metadata.authors, metadata.code_url, metadata.paper_url,
                              metadata.description)
        started = time.perf_counter()
        try:
            entry = self.challenge.store_entry(saved.path, info, source=f"server:{team.name}:{saved.filename}",
                                               validated=validated)
            measurement = self.challenge.measure_entry(entry)
            score = self.record_score(submission_id, entry.meta.entry_id, measurement, "entry scored",
                                      full=self.challenge.entry_aggregate(entry))
        except BaseException:
            self._release(submission_id, "scoring failed")
            raise
        log.info("team %r: submission %d scored in %.2f s", team.name, submission_id, time.perf_counter() - started)
        return self.submission_view(submission_id, score)

    def record_score(self, submission_id: int, entry_id: str, measurement: Measurement, event: str,
                      previous_rank: int | None = None, full: Aggregate | None = None) -> Score:
        """Make ``measurement`` the submission's current score (``full``: its aggregate when already known)."""
        full = full or self.challenge.aggregate(measurement)
        public = (self.challenge.aggregate(measurement, self.challenge.public_rows)
                  if self.challenge.has_private_part else full)
        with self.db.writing() as session:
            submission = session.get(Submission, submission_id)
            assert submission is not None
            for old in submission.scores:
                old.current = False
            submission.status, submission.entry_id = SCORED, entry_id
            score = Score(submission_id=submission_id, current=True, created_at=_now(),
                          scorer_version=measurement.scorer_version,
                          answer_key_sha256=self.challenge.answer_key_sha256, full_json=_json(full),
                          public_json=_json(public), per_question=measurement.to_bytes(), previous_rank=previous_rank)
            session.add(score)
            session.flush()
            audit.append(self.db, session, event, {
                "submission": submission_id, "entry": entry_id, "scorer_version": measurement.scorer_version,
                "answer_key_sha256": self.challenge.answer_key_sha256,
                self.challenge.primary: round(full.metrics[self.challenge.primary], 4)}, submission.team.name)
        return score

    def _release(self, submission_id: int, reason: str) -> None:
        with self.db.writing() as session:
            submission = session.get(Submission, submission_id)
            if submission is not None and submission.status == SCORING:
                submission.status = INTERRUPTED
                audit.append(self.db, session, "scoring interrupted",
                             {"submission": submission_id, "reason": reason}, submission.team.name)

    def _refuse(self, team: Team, reason: str, count: bool = False) -> None:
        """Record a refused upload in the audit log (and on the failure cap when ``count``)."""
        with self.db.writing() as session:
            if count:
                now = _now()
                session.add(Refusal(team_id=team.id, created_at=now, day=now.date().isoformat(), reason=reason))
            audit.append(self.db, session, "upload refused", {"reason": reason}, team.name)

    # ---------------------------------------------------------------------------------------- reading

    def switch(self, session: Session, name: str) -> bool:
        row = session.get(Switch, name)
        return bool(row and row.on)

    def visible(self, session: Session, score: Score) -> Aggregate:
        """What may be shown of a score now: the public subset's numbers until the private part is revealed."""
        revealed = self.switch(session, PRIVATE_REVEALED) or not self.challenge.has_private_part
        return Aggregate.from_json(score.full_json if revealed else score.public_json)

    def measurement(self, score: Score) -> Measurement:
        cached = self._measurements.get(score.id)
        if cached is None:
            cached = Measurement.from_bytes(score.per_question, score.scorer_version)
            self._measurements[score.id] = cached
        return cached

    def submission_view(self, submission_id: int, score: Score | None = None) -> dict:
        with self.db.reading() as session:
            submission = session.get(Submission, submission_id)
            assert submission is not None
            score = submission.current_score if score is None else session.get(Score, score.id)
            view = {"submission": submission.id, "entry": submission.entry_id, "status": submission.status,
                    "method": submission.method, "anonymous": submission.anonymous,
                    "submitted": submission.created_at.isoformat(timespec="seconds"),
                    "public": submission.team.public_submission_id == submission.id}
            if score is not None:
                shown = self.visible(session, score)
                view["scores"] = {**shown.to_dict(), "scorer_version": score.scorer_version,
                                  "answer_key_sha256": score.answer_key_sha256[:16],
                                  "subset": "public" if shown.n_questions < self.challenge.n_questions else "full"}
            view["quota"] = self.quota(session, submission.team_id).to_dict()
        return view

    def team_view(self, team: Team) -> dict:
        with self.db.reading() as session:
            fresh = session.get(Team, team.id)
            assert fresh is not None
            entries = [self.submission_view(s.id) for s in fresh.submissions]
            return {"team": fresh.name, "public_entry": fresh.public_submission_id,
                    "quota": self.quota(session, team.id).to_dict(),
                    "entries": [{k: v for k, v in e.items() if k != "quota"} for e in entries]}

    # ----------------------------------------------------------------------------------- public choice

    def choose_public(self, team: Team, submission_id: int) -> dict:
        with self.db.writing() as session:
            locked = self.db.lock_team(session, team.id)
            submission = session.get(Submission, submission_id)
            if submission is None or submission.team_id != team.id:
                raise Refused(404, f"the team has no entry {submission_id}")
            if submission.status != SCORED:
                raise Refused(409, f"entry {submission_id} has no score: only scored entries can be public")
            locked.public_submission_id = submission_id
            audit.append(self.db, session, "public entry chosen", {"submission": submission_id}, locked.name)
        return self.submission_view(submission_id)

    # -------------------------------------------------------------------------------------- recovery

    def recover(self) -> list[int]:
        """What a starting server does before it answers: remove uploads a killed server left, and resolve
        the submissions it left in scoring (:meth:`recover_interrupted`)."""
        shutil.rmtree(self.settings.upload_dir, ignore_errors=True)
        return self.recover_interrupted()

    def recover_interrupted(self) -> list[int]:
        """After a crash: a submission left "scoring" is finished from its complete store entry if the store
        has one, else released (its quota slot is given back). Returns the ids resolved."""
        with self.db.reading() as session:
            pending = [(s.id, s.entry_id) for s in
                       session.execute(select(Submission).where(Submission.status == SCORING)).scalars()]
        for submission_id, entry_id in pending:
            entry = self.challenge.store.get(entry_id)
            if entry is None:
                self._release(submission_id, "the server stopped while scoring")
            else:
                self.record_score(submission_id, entry_id, self.challenge.measure_entry(entry),
                                   "entry scored (recovered after restart)")
        return [submission_id for submission_id, _ in pending]


def _json(aggregate: Aggregate) -> str:
    return json.dumps(aggregate.to_dict(), allow_nan=True)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _today() -> str:
    return _now().date().isoformat()


def _next_midnight() -> str:
    tomorrow = _now().date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=timezone.utc).isoformat()


def make_service(settings: ServerSettings, challenge: Challenge | None = None) -> Service:
    db = Database(settings.db_url, settings.busy_timeout_s)
    db.create_tables()
    challenge = challenge or Challenge.load(settings.data_dir, settings.protocol, settings.store,
                                            settings.public_questions, settings.public_seed)
    return Service(settings, db, challenge)
