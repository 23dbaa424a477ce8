"""The evaluation server's API through FastAPI's TestClient, on SQLite and on PostgreSQL: tokens, uploads
(valid, malformed, oversized, gzip bombs, hostile metadata), quotas, public choice, baselines, anonymity,
the public subset, tied ranks, rescoring, the audit log, a database that is unavailable, and a grep of every
response body for gold answers."""

from __future__ import annotations

import gzip
import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from benchmark import scoring
from leaderboard.store import SubmissionStore
from server import admin, audit
from server.app import create_app
from server.db import Database
from server.models import AuditEvent, Submission
from tests.leaderboard_helpers import HOSTILE_NAME
from tests.server_support import (
    Recorder,
    db_url,  # noqa: F401  (fixture)
    gold_leaks,
    postgres_cluster,  # noqa: F401  (fixture)
    predictions_file,
    service_for,
)

RECORDER = Recorder()


class Api:
    """A TestClient that records every response body."""

    def __init__(self, service) -> None:
        self.service = service
        self.app = create_app(service.settings, service)
        self.client = TestClient(self.app, raise_server_exceptions=False)

    def _keep(self, response):
        RECORDER.add(response)
        return response

    def get(self, url, token=None):
        return self._keep(self.client.get(url, headers=_auth(token)))

    def put(self, url, token=None):
        return self._keep(self.client.put(url, headers=_auth(token)))

    def upload(self, path_or_bytes, token, endpoint="/api/submissions", filename="preds.jsonl", **fields):
        content = path_or_bytes.read_bytes() if hasattr(path_or_bytes, "read_bytes") else path_or_bytes
        fields.setdefault("method", "a method")
        return self._keep(self.client.post(endpoint, headers=_auth(token), files={"file": (filename, content)},
                                           data={k: str(v) for k, v in fields.items()}))


def _auth(token):
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture
def make_api(tiny_benchmark, tiny_data_dir, db_url, tmp_path):  # noqa: F811
    def build(**overrides) -> Api:
        return Api(service_for(tiny_benchmark, tiny_data_dir, db_url, tmp_path / "store", **overrides))
    return build


@pytest.fixture
def sqlite_api(tiny_benchmark, tiny_data_dir, tmp_path):
    """For checks that do not touch the database's locking: SQLite only, to keep the suite fast."""
    def build(**overrides) -> Api:
        return Api(service_for(tiny_benchmark, tiny_data_dir, f"sqlite:///{tmp_path / 'server.db'}",
                               tmp_path / "store", **overrides))
    return build


@pytest.fixture
def files(tiny_benchmark, tmp_path):
    folder = tmp_path / "preds"
    folder.mkdir()
    return {"strong": predictions_file(folder, tiny_benchmark, "strong", 0.95, 0.02, 3),
            "strong2": predictions_file(folder, tiny_benchmark, "strong2", 0.95, 0.03, 4),
            "weak": predictions_file(folder, tiny_benchmark, "weak", 0.0, 2.0, 1)}


def test_a_valid_upload_is_scored_stored_and_aggregate_only(make_api, files, tiny_benchmark):
    api = make_api()
    token = admin.add_team(api.service, "alpha")
    response = api.upload(files["strong"], token, method="strong", authors="A. B.", code_url="https://x.org/c")
    assert response.status_code == 201, response.text
    body = response.json()
    scores = body["scores"]
    assert scores["n_questions"] == 12 and scores["subset"] == "full"
    assert scores["scorer_version"] == scoring.SCORER_VERSION
    assert scores["answer_key_sha256"] == scoring.split_fingerprint(tiny_benchmark.split("test"))[:16]
    assert set(scores) == {"metrics", "ci", "n_questions", "scorer_version", "answer_key_sha256", "subset"}
    low, high = scores["ci"]["R1_IoU0.5"]
    assert low <= scores["metrics"]["R1_IoU0.5"] <= high
    assert body["quota"]["left"] == 4
    # the same entry `vcval leaderboard` reads, under the same id
    entries = SubmissionStore(api.service.settings.store).entries()
    assert [entry.meta.entry_id for entry in entries] == [body["entry"]]
    assert entries[0].metrics["R1_IoU0.5"] == pytest.approx(scores["metrics"]["R1_IoU0.5"])
    with api.service.db.reading() as session:
        score = session.get(Submission, body["submission"]).current_score
        assert score.scorer_version == scoring.SCORER_VERSION and len(score.answer_key_sha256) == 64


def test_an_upload_is_read_and_validated_once(sqlite_api, files, monkeypatch):
    """The store scores what the server validated before it reserved the quota slot (at 20,000 questions a
    second validation cost seconds); `vcval submit` still validates in the store."""
    import leaderboard.store as store_module

    def second_validation(*args, **kwargs):
        raise AssertionError("the store validated the upload again")

    monkeypatch.setattr(store_module, "check_predictions", second_validation)
    api = sqlite_api()
    token = admin.add_team(api.service, "alpha")
    response = api.upload(files["strong"], token, method="strong")
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("token", [None, "wrong", "revoked"])
def test_a_missing_invalid_or_revoked_token_is_401(make_api, files, token):
    api = make_api()
    good = admin.add_team(api.service, "alpha")
    if token == "revoked":
        admin.revoke_token(api.service, "alpha")
        token = good
    for response in (api.upload(files["strong"], token), api.upload(files["strong"], token, "/api/validate"),
                     api.get("/api/teams/me", token), api.put("/api/teams/me/public/1", token)):
        assert response.status_code == 401, response.text
    assert api.get("/api/board").status_code == 200  # reading the board needs no token


@pytest.mark.parametrize("content, expected", [
    (b'{"qid": "nope", "candidates": []}\nnot json\n', ["line 1", "line 2"]),
    (bytes(range(256)) * 40, ["line 1"]),
    (b"\x1f\x8b\x08\x00garbage", ["gzip"]),
])
def test_a_malformed_file_is_refused_with_lines_and_costs_no_scored_quota(sqlite_api, content, expected):
    api = sqlite_api()
    token = admin.add_team(api.service, "alpha")
    response = api.upload(content, token)
    assert response.status_code == 422
    texts = " | ".join(problem["text"] for problem in response.json()["problems"])
    for word in expected:
        assert word in texts
    quota = api.get("/api/teams/me", token).json()["quota"]
    assert quota["left"] == 5 and quota["scored_today"] == 0 and quota["refused_today"] == 1
    assert SubmissionStore(api.service.settings.store).entries() == []


def test_a_file_for_another_split_is_refused(sqlite_api, tiny_benchmark, tmp_path):
    from tests.leaderboard_helpers import write_simulated

    api = sqlite_api()
    token = admin.add_team(api.service, "alpha")
    other = write_simulated(tmp_path / "val.jsonl", tiny_benchmark.split("validation"),
                            tiny_benchmark.corpus("validation", "split"), first_rate=0.5, jitter=0.5, seed=0)
    response = api.upload(other, token)
    assert response.status_code == 422
    texts = [problem["text"] for problem in response.json()["problems"]]
    assert any("split" in text for text in texts) and any("unknown question" in text for text in texts)


def test_validate_spends_nothing(make_api, files):
    api = make_api()
    token = admin.add_team(api.service, "alpha")
    assert api.upload(files["strong"], token, "/api/validate").json()["valid"] is True
    assert api.upload(b"{}\n", token, "/api/validate").status_code == 422
    quota = api.get("/api/teams/me", token).json()["quota"]
    assert (quota["left"], quota["refused_today"]) == (5, 0)


def test_quota_exhausted_is_429_with_the_reset_time_and_failures_have_their_own_cap(make_api, files):
    api = make_api(daily_quota=2, daily_failures=2)
    token = admin.add_team(api.service, "alpha")
    assert api.upload(files["strong"], token).status_code == 201
    assert api.upload(files["weak"], token).status_code == 201
    refused = api.upload(files["strong2"], token)
    assert refused.status_code == 429 and "resets_at" in refused.json() and "T00:00:00" in refused.json()["resets_at"]
    other = admin.add_team(api.service, "beta")
    assert api.upload(b"x\n", other).status_code == 422
    assert api.upload(b"x\n", other).status_code == 422
    assert api.upload(files["strong"], other).status_code == 429  # the failure cap stops even a valid file
    assert api.get("/api/teams/me", other).json()["quota"]["scored_total"] == 0


def test_oversized_upload_and_gzip_bomb_are_413(sqlite_api, files):
    api = sqlite_api(max_upload_bytes=4096, max_expanded_bytes=50_000)
    token = admin.add_team(api.service, "alpha")
    big = api.upload(b"x" * 200_000, token)
    assert big.status_code == 413
    bomb = gzip.compress(b" " * 2_000_000, compresslevel=9)  # 2 MB of spaces in about 2 KB
    assert len(bomb) < 4096
    response = api.upload(bomb, token)
    assert response.status_code == 413 and "expands" in response.json()["detail"]
    assert api.get("/api/teams/me", token).json()["quota"]["left"] == 5


@pytest.mark.parametrize("field, value", [
    ("code_url", "javascript:alert(1)"), ("paper_url", "data:text/html,<b>x</b>"), ("method", "x" * 500),
    ("method", "bad\x00name"), ("authors", "a\u202eb"), ("method", ""),
])
def test_hostile_metadata_is_refused(sqlite_api, files, field, value):
    api = sqlite_api()
    token = admin.add_team(api.service, "alpha")
    response = api.upload(files["strong"], token, **{field: value})
    assert response.status_code == 422 and field in response.json()["detail"]
    assert api.get("/api/teams/me", token).json()["quota"]["left"] == 5


def test_html_in_a_name_is_kept_as_text_and_a_path_in_the_filename_is_not_a_path(sqlite_api, files):
    api = sqlite_api()
    token = admin.add_team(api.service, "alpha")
    response = api.upload(files["strong"], token, filename="../../etc/passwd", method=HOSTILE_NAME)
    assert response.status_code == 201
    api.put(f"/api/teams/me/public/{response.json()['submission']}", token)
    page = api.get("/").text
    assert "<script>window.__pwned" not in page and "&lt;script&gt;window.__pwned" in page
    entry = SubmissionStore(api.service.settings.store).entries()[0]
    assert "/" not in entry.meta.source.rsplit(":", 1)[-1] and entry.meta.name == HOSTILE_NAME


def test_public_choice_baselines_and_tied_ranks(make_api, files, tmp_path):
    api = make_api()
    alpha, beta, gamma = (admin.add_team(api.service, name) for name in ("alpha", "beta", "gamma"))
    first = api.upload(files["strong"], alpha, method="alpha strong").json()["submission"]
    api.upload(files["strong2"], beta, method="beta strong")
    api.upload(files["weak"], gamma, method="gamma weak")
    assert api.get("/api/board").json()["entries"] == []  # nothing is public until chosen
    admin.add_baseline(api.service, files["weak"], "weak baseline")
    assert api.put(f"/api/teams/me/public/{first}", beta).status_code == 404  # not beta's entry
    assert api.put(f"/api/teams/me/public/{first}", alpha).status_code == 200
    for token in (beta, gamma):
        mine = api.get("/api/teams/me", token).json()["entries"][0]["submission"]
        assert api.put(f"/api/teams/me/public/{mine}", token).status_code == 200
    board = api.get("/api/board").json()
    rows = {row["method"]: row for row in board["entries"]}
    assert set(rows) == {"alpha strong", "beta strong", "gamma weak", "weak baseline"}
    assert rows["weak baseline"]["baseline"] is True
    assert rows["alpha strong"]["rank"] == rows["beta strong"]["rank"] == 1  # not separable on 12 questions
    assert rows["gamma weak"]["rank"] == rows["weak baseline"]["rank"] == 3
    for row in board["entries"]:
        low, high = row["ci"][board["primary_metric"]]
        assert low <= row["metrics"][board["primary_metric"]] <= high


def test_public_default_best_anonymous_and_reveal_names(sqlite_api, files):
    api = sqlite_api(public_default="best")
    token = admin.add_team(api.service, "alpha")
    api.upload(files["weak"], token, method="mine weak", anonymous="true")
    api.upload(files["strong"], token, method="mine strong", anonymous="true")
    [row] = api.get("/api/board").json()["entries"]
    assert (row["team"], row["method"], row["anonymous"]) == ("anonymous", "anonymous", True)
    assert "mine strong" not in api.get("/").text
    admin.reveal_names(api.service)
    [row] = api.get("/api/board").json()["entries"]
    assert (row["team"], row["method"]) == ("alpha", "mine strong")


def test_public_subset_until_reveal_private(sqlite_api, files):
    api = sqlite_api(public_questions=5, public_seed=1)
    token = admin.add_team(api.service, "alpha")
    body = api.upload(files["strong"], token).json()
    assert body["scores"]["n_questions"] == 5 and body["scores"]["subset"] == "public"
    api.put(f"/api/teams/me/public/{body['submission']}", token)
    assert api.get("/api/board").json()["questions"] == 5
    assert api.get("/api/board").json()["phase"] == "public"
    admin.reveal_private(api.service)
    board = api.get("/api/board").json()
    assert (board["phase"], board["questions"]) == ("final", 12)


def test_rescore_keeps_old_scores_and_records_the_version(sqlite_api, files, monkeypatch):
    api = sqlite_api(public_default="best")
    tokens = [admin.add_team(api.service, name) for name in ("alpha", "beta")]
    api.upload(files["strong"], tokens[0])
    api.upload(files["weak"], tokens[1])
    monkeypatch.setattr(scoring, "SCORER_VERSION", "2")
    changed = admin.rescore(api.service)
    assert [row["scorer_version"] for row in changed] == ["2", "2"]
    board = api.get("/api/board").json()
    assert board["scorer_versions"] == ["2"]
    with api.service.db.reading() as session:
        submission = session.get(Submission, 1)
        assert [(s.scorer_version, s.current) for s in submission.scores] == [("1", False), ("2", True)]
    assert audit.verify(api.service.db).ok


def test_the_audit_log_chains_every_event_and_names_the_first_broken_row(make_api, files):
    api = make_api()
    token = admin.add_team(api.service, "alpha")
    api.upload(b"x\n", token)
    submission = api.upload(files["strong"], token).json()["submission"]
    api.put(f"/api/teams/me/public/{submission}", token)
    admin.reveal_names(api.service)
    with api.service.db.reading() as session:
        kinds = [event.kind for event in session.query(AuditEvent).order_by(AuditEvent.id)]
    assert kinds == ["team added", "upload refused", "entry scored", "public entry chosen", "reveal"]
    assert audit.verify(api.service.db).ok
    with api.service.db.writing() as session:
        session.get(AuditEvent, 3).detail = json.dumps({"submission": 99})
    result = audit.verify(api.service.db)
    assert (result.ok, result.first_broken) == (False, 3)


def test_an_unavailable_database_is_503_without_traceback(make_api, files, tmp_path):
    api = make_api()
    token = admin.add_team(api.service, "alpha")
    api.service.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")  # nothing listens on port 1
    for response in (api.get("/api/board"), api.upload(files["strong"], token), api.get("/")):
        assert response.status_code == 503, response.text
        assert "Traceback" not in response.text and "psycopg" not in response.text


def test_a_locked_sqlite_database_is_503_and_nothing_is_half_written(tiny_benchmark, tiny_data_dir, tmp_path, files):
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    api = Api(service_for(tiny_benchmark, tiny_data_dir, url, tmp_path / "store", busy_timeout_s=0.2))
    token = admin.add_team(api.service, "alpha")
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = api.upload(files["strong"], token)
        assert response.status_code == 503 and "Traceback" not in response.text
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert api.get("/api/teams/me", token).json()["quota"]["scored_total"] == 0
    assert audit.verify(api.service.db).ok


def test_the_board_marks_entries_whose_rank_a_rescore_changed(sqlite_api, files):
    api = sqlite_api(public_default="best")
    tokens = [admin.add_team(api.service, name) for name in ("alpha", "beta")]
    api.upload(files["strong"], tokens[0], method="was first")
    api.upload(files["weak"], tokens[1], method="was last")
    before = {row["method"]: row["rank"] for row in api.get("/api/board").json()["entries"]}
    assert before == {"was first": 1, "was last": 2}
    challenge = api.service.challenge
    measured = {entry.meta.entry_id: challenge.measure_entry(entry) for entry in challenge.store.entries()}
    swapped = dict(zip(measured, reversed(list(measured.values())), strict=True))
    challenge.rescore = lambda entry: swapped[entry.meta.entry_id]  # a scorer change that swaps the two
    admin.rescore(api.service)
    rows = {row["method"]: row for row in api.get("/api/board").json()["entries"]}
    assert (rows["was last"]["rank"], rows["was last"]["previous_rank"]) == (1, 2)
    assert (rows["was first"]["rank"], rows["was first"]["previous_rank"]) == (2, 1)
    assert "(was 2)" in api.get("/").text


def test_no_response_body_contains_a_gold_span(tiny_benchmark):
    """Runs last in this module: every body recorded above, grepped for gold starts/ends."""
    assert RECORDER.bodies, "no traffic was recorded"
    path = RECORDER.dump("server-api-traffic.jsonl")
    leaks = [leak for body in RECORDER.bodies for leak in gold_leaks(body, tiny_benchmark.split("test"))]
    assert leaks == [], f"gold answers in responses (see {path}): {leaks[:5]}"


def test_the_leak_grep_would_find_a_gold_span(tiny_benchmark):
    annotation = tiny_benchmark.split("test").annotations[1]
    body = json.dumps({"qid": annotation.qid, "span": [annotation.start, annotation.end]})
    assert gold_leaks(body, tiny_benchmark.split("test"))
    assert gold_leaks(f"<td>{annotation.start:g}–{annotation.end:g}</td>", tiny_benchmark.split("test"))
