"""The real app in headless Chromium, one server for the module (each test logs in as its own rater).

What a rater does and sees: a score only after the images have loaded and were visible for the
minimum time (key presses before that do nothing, forced clicks are refused); a stale second tab
recovers with a message and the current item; the A/B toggle and the motion loops show the right
frames at native size with pixelated scaling; practice, progress, break reminder and logout.
"""

from __future__ import annotations

import itertools
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from db.annotation import Annotator, Vote
from db.engine import dispose_all, session_scope

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"
MIN_VIEW_S = 0.6  # long enough to press a key inside it, short enough not to slow the tests
BREAK_AFTER_MIN = 0.05  # the session reminder after 3 s
_names = (f"rater{i}" for i in itertools.count())

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(_blend_template, tmp_path_factory) -> Iterator[tuple[str, str, list[int]]]:
    """(base URL, DB URL, triplet ids) of the app over a private copy of the six synthetic triplets.

    Two control items per level 4 and 1: the first of each becomes that level's example.
    """
    from annotate import controls
    from annotate.app import PageSettings, launch
    from annotate.service import AnnotationService

    base, ids = _blend_template
    home = tmp_path_factory.mktemp("browser-app")
    shutil.copy(base / "test.sqlite", home / "test.sqlite")
    shutil.copytree(base / "data", home / "data")
    url = f"sqlite:///{home / 'test.sqlite'}"
    controls.set_controls(url, {ids[0]: 4, ids[1]: 4, ids[2]: 1, ids[3]: 1})
    service = AnnotationService(url, home / "data", model="blend", min_view_s=MIN_VIEW_S)
    port = _free_port()
    server = launch(service, "127.0.0.1", port, block=False, settings=PageSettings(break_after_min=BREAK_AFTER_MIN))
    yield f"http://127.0.0.1:{port}/", url, ids
    server.close()
    dispose_all()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def rater(served, browser):
    """(page, context, name, DB URL): a fresh rater logged in, at 1366x768."""
    from annotate.store import add_user

    base, url, _ids = served
    name = next(_names)
    with session_scope(url) as s:
        add_user(s, name, PASSWORD)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(30_000)
    page = context.new_page()
    _login(page, base, name)
    yield page, context, name, url
    context.close()


def _login(page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(base)
    page.locator("input[type=text], input[name=username]").first.fill(name)
    page.locator("input[type=password]").first.fill(password)
    page.get_by_role("button", name=re.compile("login", re.IGNORECASE)).click()


def _item(page) -> int:
    page.wait_for_function("() => /Item #\\d+/.test(document.querySelector('#status')?.innerText || '')")
    return int(re.search(r"Item #(\d+)", page.locator("#status").inner_text()).group(1))


def _ready(page, item: int) -> None:
    """Wait until the viewer shows ``item`` with every image loaded and the minimum time over."""
    page.wait_for_selector(f".dv-viewer[data-item='{item}'][data-ready='1']")


def _next_item(page, after: int) -> int:
    page.wait_for_function(
        "(first) => { const m = /Item #(\\d+)/.exec(document.querySelector('#status')?.innerText || '');"
        " return m && Number(m[1]) !== first; }", arg=after)
    return _item(page)


def _votes(url: str, name: str) -> list[tuple[int, int | None]]:
    with session_scope(url) as s:
        return s.execute(select(Vote.triplet_id, Vote.score).join(Annotator)
                         .where(Annotator.name == name).order_by(Vote.id)).all()


def test_login_key_3_next_item_and_vote_stored(rater) -> None:
    page, _ctx, name, url = rater
    first = _item(page)
    _ready(page, first)
    page.keyboard.press("3")
    second = _next_item(page, first)
    assert "rated 1" in page.locator("#status").inner_text()
    assert _votes(url, name) == [(first, 3)]
    page.reload()  # state comes from the DB: the same item again, progress kept
    assert _item(page) == second and "rated 1" in page.locator("#status").inner_text()


def test_no_blind_votes(rater) -> None:
    page, _ctx, name, url = rater
    first = _item(page)
    page.keyboard.press("2")  # before the images were seen: ignored
    _ready(page, first)
    page.keyboard.press("3")
    second = _next_item(page, first)
    page.keyboard.press("3")  # the second of a quick double press lands on the new item: ignored
    page.evaluate("document.getElementById('score-1').click()")  # even forced past the page's own check
    page.wait_for_function("() => /ignored/.test(document.querySelector('#status').innerText)")
    assert _item(page) == second and _votes(url, name) == [(first, 3)]
    # an image that never loads: the item is never reported seen, no score counts however long one waits
    page.route(re.compile(r".*/item/\d+/gt$"), lambda route: route.abort())
    _ready(page, second)
    page.keyboard.press("4")
    third = _next_item(page, second)
    page.wait_for_function("() => /did not load/.test(document.querySelector('.dv-wait').innerText)")
    page.wait_for_timeout(MIN_VIEW_S * 1500)
    page.evaluate("document.getElementById('score-4').click()")
    page.wait_for_function("() => /not finished loading/.test(document.querySelector('#status').innerText)")
    assert _item(page) == third and _votes(url, name) == [(first, 3), (second, 4)]


def test_stale_tab_recovers_with_a_message_and_the_current_item(rater, served) -> None:
    page, context, name, url = rater
    first = _item(page)
    other = context.new_page()  # a second tab of the same session, on the same item
    other.goto(served[0])
    assert _item(other) == first
    _ready(page, first)
    page.keyboard.press("4")
    second = _next_item(page, first)
    _ready(other, first)
    other.keyboard.press("1")  # the stale tab votes for an item no longer assigned
    other.wait_for_function("() => /not the item assigned/.test(document.querySelector('#status').innerText)")
    assert _item(other) == second
    _ready(other, second)  # the images of the current item load: no error badges, no reload needed
    assert other.locator(".dv-frame").evaluate_all("els => els.every(e => e.complete && e.naturalWidth > 0)")
    assert _votes(url, name) == [(first, 4)]
    other.keyboard.press("2")  # ... and the recovered tab works normally
    _next_item(other, second)
    assert _votes(url, name) == [(first, 4), (second, 2)]


def test_native_size_ab_toggle_and_motion_loops(rater) -> None:
    page, _ctx, _name, _url = rater
    item = _item(page)
    _ready(page, item)
    showing = "() => document.querySelector('.dv-viewer').dataset.showing"
    visible = "() => document.querySelector('.dv-frame.on').dataset.kind"
    assert page.evaluate(showing) == "interp" and page.evaluate(visible) == "interp"
    page.keyboard.press("a")
    assert page.evaluate(visible) == "gt"
    page.keyboard.press("a")
    assert page.evaluate(visible) == "interp"
    size = page.evaluate("""() => { const i = document.querySelector('.dv-frame.on'), r = i.getBoundingClientRect();
        return [r.width, r.height, i.naturalWidth, i.naturalHeight, getComputedStyle(i).imageRendering]; }""")
    assert size == [256, 256, 256, 256, "pixelated"]  # one image pixel per CSS pixel (DPR 1), no smoothing
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert page.evaluate("() => document.querySelector('.dv-frame.on').getBoundingClientRect().width") == 768
    page.keyboard.press("0")
    for key, middle in (("m", "interp"), ("g", "gt")):
        page.keyboard.press(key)
        seen = page.evaluate(f"""async () => {{ const out = [];
            for (let i = 0; i < 90; i++) {{ out.push(({visible})()); await new Promise(r => setTimeout(r, 15)); }}
            return out; }}""")
        cycle = [k for k, _g in itertools.groupby(seen)]
        assert set(cycle) == {"frame0", middle, "frame1"}, cycle
        expected = {"frame0": middle, middle: "frame1", "frame1": "frame0"}
        assert all(expected[a] == b for a, b in itertools.pairwise(cycle)), cycle
        assert len(cycle) >= 6  # at least two rounds in 1.35 s (10 fps without a known frame rate)
    page.keyboard.press(key)  # the same key stops the loop: back to the still view
    assert page.evaluate("() => document.querySelector('.dv-viewer').dataset.loop") == ""


def test_practice_progress_break_reminder_and_logout(rater, served) -> None:
    page, _ctx, name, url = rater
    item = _item(page)
    assert page.locator("#progress progress").get_attribute("max") == "4"  # 6 items minus 2 examples
    page.get_by_text("Instructions and one example per level").click()
    # levels 4 and 1: interpolated and ground truth each (the HTML arrives after the page load:
    # wait for it instead of counting at once, which raced under load)
    page.wait_for_function("() => document.querySelectorAll('#examples img').length === 4")
    # shown at native size (1:1 pixels, never shrunk to a thumbnail), scrolling inside their box
    page.wait_for_function("() => [...document.querySelectorAll('#examples img')].every(i => i.complete && "
                           "i.naturalWidth > 0 && i.getBoundingClientRect().width > 0)")
    shown = page.evaluate("""() => [...document.querySelectorAll('#examples img')].map(i => [i.naturalWidth,
        i.getBoundingClientRect().width, getComputedStyle(i).maxWidth, getComputedStyle(i.parentElement).overflow])""")
    assert all(n == w and cap == "none" and box == "auto" for n, w, cap, box in shown), shown
    page.locator("#practice").click()
    page.wait_for_function("() => /Practice \\(1 of 2\\)/.test(document.querySelector('#status').innerText)")
    ids = served[2]
    assert int(page.locator(".dv-viewer").get_attribute("data-item")) == ids[0]  # level 4's example first
    _ready(page, ids[0])
    page.keyboard.press("4")
    page.wait_for_function("() => /Right: 4 · Practice \\(2 of 2\\)/.test(document.querySelector('#status').innerText)")
    _ready(page, ids[2])  # then level 1's
    page.keyboard.press("3")
    page.wait_for_function("() => /You said 3, the reference score is 1 · Practice finished/"
                           ".test(document.querySelector('#status').innerText)")
    assert _item(page) == item and _votes(url, name) == []  # practice is not stored
    page.wait_for_selector(".dv-break", timeout=10_000)
    page.locator("#logout").click()
    page.wait_for_selector("input[type=password]")
    page.goto(served[0] + "config")
    assert "Not authenticated" in page.content() or page.locator("input[type=password]").count() == 1
