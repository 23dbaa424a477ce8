"""The server's pages in a real headless browser (Debian chromium driven by Playwright): upload a file
with a token and see the scores; upload a malformed file and see its line-level problems; choose the
entry as public; see it on the board with its interval and tied rank; a ``<script>`` in a method name is
text. Screenshots are kept as artifacts (``$VCVAL_TEST_ARTIFACTS``, default ``build/test-artifacts``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from server import admin
from server.app import create_app
from tests.leaderboard_helpers import HOSTILE_NAME
from tests.server_support import ARTIFACTS, gold_leaks, predictions_file, running_server, service_for
from tests.test_leaderboard_browser import CHROMIUM, CHROMIUM_FLAGS

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path):
    if not Path(CHROMIUM).exists():
        message = "Debian chromium is not installed: run scripts/install_browser.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        # the refused upload's page answers 422 on purpose; chromium logs every non-2xx page load
        page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
                if message.type == "error" and "422" not in message.text else None)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        yield page, problems
        context.close()


def test_upload_see_scores_and_problems_choose_public_see_the_board(browser, tiny_benchmark, tiny_data_dir, tmp_path):
    page, problems = browser
    service = service_for(tiny_benchmark, tiny_data_dir, f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "store")
    token = admin.add_team(service, "team <b>bold</b>")
    admin.add_baseline(service, predictions_file(tmp_path, tiny_benchmark, "base", 0.9, 0.05, seed=3), "baseline")
    good = predictions_file(tmp_path, tiny_benchmark, "good", 0.95, 0.03, seed=4)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"qid": "nope", "candidates": []}\nnot json at all\n', encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen: list[str] = []
    with running_server(create_app(service.settings, service)) as url:
        page.on("response", lambda response: seen.append(response.text()) if "text" in
                (response.headers.get("content-type") or "") or "json" in (response.headers.get("content-type") or "")
                else None)
        # a malformed file: line-level messages, nothing scored
        page.goto(f"{url}/upload")
        page.fill("#token", token)
        page.set_input_files("#file", str(bad))
        page.fill("#method", "broken")
        page.click("#submit")
        messages = page.locator("#problems li").all_text_contents()
        assert any(m.startswith("line 1") for m in messages) and any(m.startswith("line 2") for m in messages)
        page.screenshot(path=str(ARTIFACTS / "server-upload-problems.png"), full_page=True)

        # a valid file with a hostile name: scores with intervals
        page.fill("#token", token)
        page.set_input_files("#file", str(good))
        page.fill("#method", HOSTILE_NAME)
        page.fill("#code_url", "https://example.org/code")
        page.click("#submit")
        assert page.locator("#outcome").is_visible()
        assert page.locator("#scores tbody tr").count() >= 16
        assert "Scored submissions left today: 4" in page.locator("#outcome").inner_text()
        page.screenshot(path=str(ARTIFACTS / "server-upload-scores.png"), full_page=True)

        # choose it as the team's public entry
        page.click("#make-public")
        assert page.locator("#entries strong", has_text="public").count() == 1
        assert "team <b>bold</b>" == page.locator("#team-name").inner_text()

        # the board: the entry with its interval and its (tied) rank, the name as text
        page.goto(f"{url}/")
        rows = page.locator("#board tbody tr")
        assert rows.count() == 2
        method_texts = page.locator("#board .method").all_text_contents()
        assert HOSTILE_NAME in method_texts
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#board td.system script, #board td.system img").count() == 0
        ranks = page.locator("#board td.rank").all_text_contents()
        assert [r.strip() for r in ranks] == ["1", "1"]  # the two strong entries cannot be told apart
        cell = page.locator('#board tr td[data-key="R1_IoU0.5"] .ci').first.inner_text()
        assert "–" in cell
        page.screenshot(path=str(ARTIFACTS / "server-board.png"), full_page=True)
    assert (ARTIFACTS / "server-board.png").stat().st_size > 10_000
    assert problems == []
    leaks = [(leak, body) for body in seen for leak in gold_leaks(body, tiny_benchmark.split("test"))]
    assert not leaks, leaks[0][0]
