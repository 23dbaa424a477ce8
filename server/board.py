"""The public board: which entries are shown, their numbers with 95% intervals over the visible questions
(the public subset until the admin reveals the private part), and tied-rank groups.

Ranking: entries sorted by the protocol's primary metric; the first entry leads a group, and every
following entry that a paired test (approximate randomization, Holm over the entries tested) cannot
separate from that leader shares its rank; the first entry it can separate leads the next group, ranked
by its position (1, 1, 1, 4, ...). An entry without a score is never on the board."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leaderboard.significance import p_values_against_best
from leaderboard.table import ALPHA
from server.challenge import Aggregate
from server.models import SCORED, AuditEvent, Submission, Team
from server.service import NAMES_REVEALED, PRIVATE_REVEALED, Service

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class BoardRow:
    rank: int
    submission: int
    team: str
    method: str
    authors: str
    description: str
    code_url: str
    paper_url: str
    baseline: bool
    anonymous: bool  # shown as "anonymous" (names not revealed yet)
    submitted: str
    scorer_version: str
    metrics: dict[str, float]
    ci: dict[str, list[float]]
    p_vs_group_leader: float | None  # Holm-adjusted; None for a group's leader
    previous_rank: int | None  # the rank before the last rescore, when it differs

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Board:
    phase: str  # "public" (subset) or "final" (every question)
    n_questions: int
    primary: str
    keys: tuple[str, ...]
    scorer_versions: tuple[str, ...]
    answer_key_sha256: str
    protocol: str
    protocol_hash: str
    rows: tuple[BoardRow, ...]

    def to_dict(self) -> dict:
        return {"phase": self.phase, "questions": self.n_questions, "primary_metric": self.primary,
                "metrics": list(self.keys), "scorer_versions": list(self.scorer_versions),
                "answer_key_sha256": self.answer_key_sha256, "protocol": self.protocol,
                "protocol_hash": self.protocol_hash, "alpha": ALPHA, "entries": [r.to_dict() for r in self.rows]}


def current_board(service: Service) -> Board:
    """The board, rebuilt only when something changed: every change appends an audit event, so the last
    event's id is the board's version (the paired tests are the costly part of a rebuild)."""
    with service.db.reading() as session:
        version = session.execute(select(func.max(AuditEvent.id))).scalar_one()
        cached = service.cache.get("board")
        if cached is not None and cached[0] == version:
            return cached[1]
        board = build_board(service, session)
    service.cache["board"] = (version, board)
    return board


def build_board(service: Service, session: Session) -> Board:
    challenge = service.challenge
    private_revealed = service.switch(session, PRIVATE_REVEALED) or not challenge.has_private_part
    names_revealed = service.switch(session, NAMES_REVEALED)
    rows_visible = challenge.visible_rows(private_revealed)
    shown = _shown_submissions(service, session)
    primary_column = challenge.keys.index(challenge.primary)
    scored = []
    for submission in shown:
        score = submission.current_score
        if score is None:
            continue
        aggregate = Aggregate.from_json(score.full_json if private_revealed else score.public_json)
        if not np.isfinite(aggregate.metrics.get(challenge.primary, np.nan)):
            continue
        values = service.measurement(score).matrix[:, primary_column]
        values = values if rows_visible is None else values[rows_visible]
        scored.append((submission, score, aggregate, values))
    scored.sort(key=lambda item: (-item[2].metrics[challenge.primary], item[0].id))
    ranks, p_values = tied_ranks([values for _, _, _, values in scored])
    rows = []
    for (submission, score, aggregate, _), rank, p_value in zip(scored, ranks, p_values, strict=True):
        hidden = submission.anonymous and not names_revealed and not submission.team.is_baseline
        previous = score.previous_rank if score.previous_rank not in (None, rank) else None
        rows.append(BoardRow(
            rank=rank, submission=submission.id, team=ANONYMOUS if hidden else submission.team.name,
            method=ANONYMOUS if hidden else submission.method, authors="" if hidden else submission.authors,
            description="" if hidden else submission.description, code_url="" if hidden else submission.code_url,
            paper_url="" if hidden else submission.paper_url, baseline=submission.team.is_baseline, anonymous=hidden,
            submitted=submission.created_at.isoformat(timespec="seconds"), scorer_version=score.scorer_version,
            metrics=aggregate.metrics, ci=aggregate.ci, p_vs_group_leader=p_value, previous_rank=previous))
    versions = tuple(sorted({row.scorer_version for row in rows}))
    return Board("public" if rows_visible is not None else "final",
                 challenge.n_questions if rows_visible is None else len(rows_visible), challenge.primary,
                 challenge.keys, versions, challenge.answer_key_sha256[:16], challenge.protocol.name,
                 challenge.protocol.hash[:12], tuple(rows))


def tied_ranks(values: list[np.ndarray], alpha: float = ALPHA) -> tuple[list[int], list[float | None]]:
    """Ranks of entries already sorted best first: each group's leader is tested against the entries after
    it (Holm over them); the leading run it cannot separate shares its rank."""
    ranks: list[int] = []
    p_out: list[float | None] = []
    start = 0
    while start < len(values):
        leader = values[start]
        ranks.append(start + 1)
        p_out.append(None)
        rest = values[start + 1:]
        adjusted = p_values_against_best([(leader, other) for other in rest]) if rest else []
        following = start + 1
        for p_value in adjusted:
            if p_value < alpha:
                break
            ranks.append(start + 1)
            p_out.append(p_value)
            following += 1
        start = following
    return ranks, p_out


def _shown_submissions(service: Service, session: Session) -> list[Submission]:
    """Every baseline entry, and each team's public entry (its choice, or its best when the server says so)."""
    shown: list[Submission] = []
    primary = service.challenge.primary
    for team in session.execute(select(Team).order_by(Team.id)).scalars():
        scored = [s for s in team.submissions if s.status == SCORED and s.current_score is not None]
        if team.is_baseline:
            shown.extend(scored)
        elif team.public_submission_id is not None:
            shown.extend(s for s in scored if s.id == team.public_submission_id)
        elif service.settings.public_default == "best" and scored:
            shown.append(max(scored, key=lambda s: (service.visible(session, s.current_score).metrics[primary], -s.id)))
    return shown
