"""``vcval serve admin ...`` and ``vcval upload`` from the command line against a running server: tokens
printed once, the upload client's exit codes (0 scored or valid, 1 invalid with line numbers, 2 refused)."""

from __future__ import annotations

import json

import pytest

from tests.server_support import predictions_file, running_server, service_for
from vcval.main import main

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def served(tiny_benchmark, tiny_data_dir, tmp_path):
    from server.app import create_app

    db = f"sqlite:///{tmp_path / 'server.db'}"
    common = ["--data-dir", str(tiny_data_dir), "--db", db, "--store", str(tmp_path / "store")]
    service = service_for(tiny_benchmark, tiny_data_dir, db, tmp_path / "store")
    with running_server(create_app(service.settings, service)) as url:
        yield url, common


def test_admin_and_upload_from_the_command_line(served, tiny_benchmark, tmp_path, capsys):
    url, common = served
    assert main(["serve", "admin", "add-team", "alpha", *common]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("vcv_")
    assert main(["serve", "admin", "add-team", "alpha", *common]) == 2  # the name is taken
    capsys.readouterr()
    good = predictions_file(tmp_path, tiny_benchmark, "good", 0.8, 0.2, seed=0)

    assert main(["upload", str(good), "--server", url, "--token", token, "--dry-run"]) == 0
    assert "valid for split 'test'" in capsys.readouterr().out
    assert main(["upload", str(good), "--server", url, "--token", token, "--name", "cli run"]) == 0
    out = capsys.readouterr().out
    assert "scored entry 1 'cli run' on 12 questions" in out and "R1_IoU0.5" in out and "left: 4" in out

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"qid": "x", "candidates": []}\n{"qid": 3}\n', encoding="utf-8")
    assert main(["upload", str(bad), "--server", url, "--token", token, "--name", "bad"]) == 1
    err = capsys.readouterr().err
    assert "line 1" in err and "line 2" in err
    assert main(["upload", str(good), "--server", url, "--token", "vcv_wrong", "--name", "x"]) == 2
    assert "HTTP 401" in capsys.readouterr().err

    assert main(["serve", "admin", "list-teams", *common]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["team"], row["scored"], row["refused_today"]) == ("alpha", 1, 1)
    assert main(["serve", "admin", "verify-log", *common]) == 0
    assert "chain intact" in capsys.readouterr().out
    assert main(["serve", "admin", "revoke-token", "alpha", *common]) == 0
    assert main(["upload", str(good), "--server", url, "--token", token, "--name", "x"]) == 2
