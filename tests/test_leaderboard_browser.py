"""The leaderboard page in a real headless browser (Debian chromium, driven by Playwright): it loads from
a file with no console error, a header click re-sorts the rows, and a ``<script>`` in a name is shown as
text and never run. A screenshot is kept as an artifact (``$VCVAL_TEST_ARTIFACTS``, default
``build/test-artifacts``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from leaderboard.build import render_leaderboard
from leaderboard.store import SubmissionStore
from tests.leaderboard_helpers import DEMO_SYSTEMS, HOSTILE_NAME, populate_store

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("VCVAL_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))


@pytest.fixture(scope="module")
def page_path(tiny_benchmark, tmp_path_factory) -> Path:
    if not Path(CHROMIUM).exists():
        message = "Debian chromium is not installed: run scripts/install_browser.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path_factory.mktemp("browser")
    populate_store(work / "store", tiny_benchmark, work)
    render_leaderboard(SubmissionStore(work / "store"), work / "out", plots=False)
    return work / "out" / "leaderboard.html"


@pytest.fixture(scope="module")
def browser_page(page_path, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1600, "height": 700}, offline=True)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
                if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
        page.goto(page_path.as_uri(), wait_until="load")
        yield page, problems
        context.close()


def _names(page) -> list[str]:
    return page.eval_on_selector_all("table.board tbody tr", "rows => rows.map(r => r.cells[1].dataset.value)")


def test_page_loads_without_console_errors(browser_page):
    page, problems = browser_page
    assert page.title() == "VCVAL leaderboard"
    assert page.locator("table.board tbody tr").count() == len(DEMO_SYSTEMS)
    assert problems == []


def test_script_in_a_name_is_text_and_does_not_run(browser_page):
    page, problems = browser_page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert HOSTILE_NAME in _names(page)
    texts = page.eval_on_selector_all("td.system > a:first-child", "links => links.map(a => a.textContent)")
    assert HOSTILE_NAME in texts
    assert page.locator("td.system script, td.system img").count() == 0
    assert problems == []


def test_clicking_headers_re_sorts_rows(browser_page):
    page, problems = browser_page
    page.click("th[data-column='1']")  # System: alphabetical
    names = _names(page)
    assert names == sorted(names, key=str.lower)
    assert page.get_attribute("th[data-column='1']", "aria-sort") == "ascending"

    def column_values(key: str) -> list[float]:
        index = int(page.get_attribute(f"th[data-key='{key}']", "data-column"))
        return page.eval_on_selector_all(
            "table.board tbody tr", f"rows => rows.map(r => parseFloat(r.cells[{index}].dataset.value))")

    page.click("th[data-key='video_MRR']")
    mrr = column_values("video_MRR")
    assert mrr == sorted(mrr, reverse=True) and len(set(mrr)) > 1
    assert page.get_attribute("th[data-key='video_MRR']", "aria-sort") == "descending"
    assert page.get_attribute("th[data-column='1']", "aria-sort") is None
    page.click("th[data-key='video_MRR']")
    again = column_values("video_MRR")
    assert again == sorted(mrr)
    page.click("th[data-column='0']")  # back to the rank order
    assert _names(page)[0] == HOSTILE_NAME
    title = page.get_attribute("table.board tbody tr:first-child td[data-value]:nth-child(4)", "title")
    assert "95% interval [" in title
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard.png"), full_page=True)
    assert (ARTIFACTS / "leaderboard.png").stat().st_size > 10_000
    assert problems == []
