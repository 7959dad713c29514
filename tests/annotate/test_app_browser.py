"""The real app in headless Chromium: log in, press 3, the next item appears, the vote is stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from db.annotation import Annotator, Vote
from db.engine import session_scope

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_page():
    if not CHROMIUM.is_file():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def _login(page, base: str, password: str) -> None:
    page.goto(base)
    page.locator("input[type=text], input[name=username]").first.fill("ann")
    page.locator("input[type=password]").first.fill(password)
    page.get_by_role("button", name=re.compile("login", re.IGNORECASE)).click()


def _item(page) -> int:
    page.wait_for_function("() => /Item #\\d+/.test(document.querySelector('#status')?.innerText || '')")
    return int(re.search(r"Item #(\d+)", page.locator("#status").inner_text()).group(1))


def test_login_key_3_next_item_and_vote_stored(app_url, browser_page) -> None:
    base, db_url, password = app_url
    page = browser_page
    _login(page, base, password)
    first = _item(page)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("3")
    page.wait_for_function(
        "(first) => { const m = /Item #(\\d+)/.exec(document.querySelector('#status')?.innerText || '');"
        " return m && Number(m[1]) !== first; }", arg=first)
    second = _item(page)
    assert second != first
    assert "rated 1" in page.locator("#status").inner_text()
    with session_scope(db_url) as s:
        rows = s.execute(select(Annotator.name, Vote.triplet_id, Vote.score).join(Annotator)).all()
    assert rows == [("ann", first, 3)]
    page.reload()  # state comes from the DB: the same item again, progress kept
    assert _item(page) == second and "rated 1" in page.locator("#status").inner_text()


def test_wrong_password_shows_no_item(app_url, browser_page) -> None:
    base, db_url, _pw = app_url
    page = browser_page
    _login(page, base, "not the password")
    page.wait_for_timeout(1500)
    assert page.locator("#status").count() == 0
    with session_scope(db_url) as s:
        assert s.execute(select(Vote)).first() is None
