"""The server's tables, as SQLAlchemy 2 typed models. Plain tables: teams, submissions, their scores
(one row per scorer version: a rescore adds rows and keeps the old ones), refused uploads (counted on
their own cap), the hash-chained audit log, and the server's switches (names and private board revealed).

Per-question values are kept only inside the database, for the board's paired tests and the public
subset's intervals; no route returns them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Submission states. "scoring" holds a quota slot while the scorer runs; a server killed meanwhile
# leaves it, and the next start resolves it (server.submissions.recover_interrupted).
SCORING, SCORED, INTERRUPTED = "scoring", "scored", "interrupted"
COUNTED_STATES = (SCORING, SCORED)  # what spends scored quota


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # sha256 of the bearer token
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    public_submission_id: Mapped[int | None] = mapped_column(Integer)  # the entry it chose for the board

    submissions: Mapped[list[Submission]] = relationship(back_populates="team", order_by="Submission.id")


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_team_day", "team_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[str] = mapped_column(String(10))  # UTC date, for the daily quota
    entry_id: Mapped[str] = mapped_column(String(40))  # the submissions store's entry
    content_sha256: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[str] = mapped_column(String(500), default="")
    code_url: Mapped[str] = mapped_column(String(500), default="")
    paper_url: Mapped[str] = mapped_column(String(500), default="")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)

    team: Mapped[Team] = relationship(back_populates="submissions")
    scores: Mapped[list[Score]] = relationship(back_populates="submission", order_by="Score.id")

    @property
    def current_score(self) -> Score | None:
        return next((score for score in reversed(self.scores) if score.current), None)


class Score(Base):
    """One scoring of a submission: aggregate numbers (full split and public subset) with intervals, the
    scorer version and the hash of the answer key that produced them, and the per-question matrix."""

    __tablename__ = "scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scorer_version: Mapped[str] = mapped_column(String(20))
    answer_key_sha256: Mapped[str] = mapped_column(String(64))
    full_json: Mapped[str] = mapped_column(Text)  # {"metrics": {...}, "ci": {...}, "n_questions": N}
    public_json: Mapped[str] = mapped_column(Text)  # the same over the public subset
    per_question: Mapped[bytes] = mapped_column(LargeBinary)  # npz: never leaves the server
    previous_rank: Mapped[int | None] = mapped_column(Integer)  # the board rank before the rescore that made it

    submission: Mapped[Submission] = relationship(back_populates="scores")


class Refusal(Base):
    """An upload refused as invalid: counted on the separate failure cap, never on the scored quota."""

    __tablename__ = "refusals"
    __table_args__ = (Index("ix_refusals_team_day", "team_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(500))


class AuditEvent(Base):
    """Append-only and hash-chained: ``hash = sha256(previous hash + this row's canonical content)``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC, kept as text so the hash is stable
    kind: Mapped[str] = mapped_column(String(40))
    team: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Switch(Base):
    """The server's one-way switches: ``names_revealed``, ``private_revealed``."""

    __tablename__ = "switches"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    on: Mapped[bool] = mapped_column(Boolean, default=False)
