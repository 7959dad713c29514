"""The app over HTTP: nothing without a login, only the assigned item's images, forged and early
votes refused (one log line each, the page keeps working), throttled logins, security headers."""

from __future__ import annotations

import logging
import shutil
import time

import httpx
import pytest
from gradio_client import Client
from sqlalchemy import func, select

from db.annotation import Vote
from db.engine import session_scope


def _votes(db_url: str) -> int:
    with session_scope(db_url) as s:
        return s.scalar(select(func.count()).select_from(Vote))


def _login(base: str, password: str, name: str = "ann", source: str | None = None) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source) if source else None
    client = httpx.Client(base_url=base, timeout=30, transport=transport)
    r = client.post("login", data={"username": name, "password": password})
    r.raise_for_status()
    return client


def _seen(client: Client, item: str, min_view_s: float) -> None:
    """What the page does once the item's images have loaded; then the minimum viewing time."""
    r = httpx.post(f"{client.src.rstrip('/')}/item/{item}/seen", cookies=client.cookies, timeout=30)
    assert r.status_code == 204, r.text
    time.sleep(min_view_s + 0.05)


def test_nothing_is_readable_or_writable_without_login(app_url, blend_dataset) -> None:
    base, db_url, _password = app_url
    _url, root, ids = blend_dataset
    anon = httpx.Client(base_url=base, timeout=30)
    for path in ("config", "gradio_api/info", f"gradio_api/file={root / 'interp/blend'}", f"item/{ids[0]}/gt"):
        assert anon.get(path).status_code in (401, 403), path
    assert anon.post("gradio_api/queue/join", json={"data": ["1"], "fn_index": 1}).status_code in (401, 403)
    assert anon.post(f"item/{ids[0]}/seen").status_code == 401
    with pytest.raises(httpx.HTTPStatusError):
        _login(base, "wrong password").get("config").raise_for_status()
    with pytest.raises(Exception, match="(?i)login|credentials"):
        Client(base, verbose=False)
    assert _votes(db_url) == 0


def test_only_the_images_of_the_assigned_item_are_served(app_url, blend_dataset, tmp_path) -> None:
    base, db_url, password = app_url
    _url, root, ids = blend_dataset
    # files a rater must never get, inside the data root: the DB, pages a browser would run
    shutil.copy(db_url.removeprefix("sqlite:///"), root / "copy.sqlite")
    (root / "page.html").write_text("<script>alert('page')</script>")
    (root / "pic.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    http = _login(base, password)
    assert http.get("config").status_code == 200
    for target in (secret, "/etc/passwd", root / "copy.sqlite", root / "page.html", root / "pic.svg",
                   root / "interp" / "blend" / f"{ids[0]}.png"):
        r = http.get(f"gradio_api/file={target}")
        assert r.status_code in (403, 404) and "do not serve" not in r.text and "<script>" not in r.text, target
    client = Client(base, auth=("ann", password), verbose=False, download_files=False)
    mine = int(client.predict(api_name="/current")[0])
    other = next(t for t in ids if t != mine)
    with session_scope(db_url) as s:
        from db.annotation import Interpolation
        from db.models import Triplet

        trip = s.get(Triplet, mine)
        expected = {"frame0": trip.path0, "gt": trip.path_gt, "frame1": trip.path1,
                    "interp": s.scalar(select(Interpolation.path).where(Interpolation.triplet_id == mine))}
    for kind, rel in expected.items():
        r = http.get(f"item/{mine}/{kind}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", kind
        assert r.content == (root / rel).read_bytes(), kind
    for path in (f"item/{other}/gt", f"item/{mine}/secret", f"item/{mine}/..%2F..%2Fcopy.sqlite",
                 "item/..%2Fcopy.sqlite/gt", "item/1%20OR%201=1/gt"):
        assert http.get(path).status_code in (403, 404), path


def test_security_headers_on_every_response(app_url) -> None:
    base, _db, password = app_url
    anon = httpx.Client(base_url=base, timeout=30)
    http = _login(base, password)
    client = Client(base, auth=("ann", password), verbose=False, download_files=False)
    item = client.predict(api_name="/current")[0]
    for r in (anon.get(""), anon.get("config"), http.get(""), http.get("config"), http.get(f"item/{item}/gt")):
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["x-frame-options"] == "DENY", r.url
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "default-src 'self'" in csp
        assert "strict-transport-security" not in r.headers  # plain HTTP: HSTS would be meaningless


def test_forged_and_early_votes_are_refused_and_the_page_goes_on(app_url, app_min_view_s, caplog, capfd) -> None:
    base, db_url, password = app_url
    client = Client(base, auth=("ann", password), verbose=False, download_files=False)
    item = client.predict(api_name="/current")[0]
    forged = str(int(item) + 1000)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        back, status, viewer, *_ = client.predict(forged, api_name="/vote_2")
    assert back == item and "not the item assigned" in status and f'data-item="{item}"' in viewer
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].exc_info is None and "\n" not in refusals[0].getMessage()
    assert "Traceback" not in capfd.readouterr().err  # one line in the server log, no stack
    back, status, *_ = client.predict(item, api_name="/vote_2")  # images never reported as loaded
    assert back == item and "not finished loading" in status and _votes(db_url) == 0
    httpx.post(f"{base}item/{item}/seen", cookies=client.cookies, timeout=30).raise_for_status()
    back, status, *_ = client.predict(item, api_name="/vote_2")  # loaded, but at once
    assert back == item and "at least" in status and _votes(db_url) == 0
    time.sleep(app_min_view_s + 0.05)
    nxt = client.predict(item, api_name="/vote_2")[0]
    assert nxt != item and _votes(db_url) == 1
    while nxt:
        _seen(client, nxt, app_min_view_s)
        nxt, status, *_ = client.predict(nxt, api_name="/vote_4")
    assert "All done" in status and _votes(db_url) == 6
    back, status, *_ = client.predict("", api_name="/vote_3")  # a key press on the "All done" page
    assert back == "" and "All done" in status and _votes(db_url) == 6


def test_login_throttling_per_user_and_per_address(app_url) -> None:
    from annotate.store import add_user

    base, db_url, password = app_url
    with session_scope(db_url) as s:
        add_user(s, "bob", password)
    guesser = httpx.Client(base_url=base, timeout=30)
    codes = [guesser.post("login", data={"username": "ann", "password": f"guess {i}"}).status_code
             for i in range(6)]
    assert codes == [400] * 6  # five free failures, the sixth starts a 1 s lock
    t0 = time.perf_counter()
    r = guesser.post("login", data={"username": "ann", "password": password})  # even the right one
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert time.perf_counter() - t0 < 0.2  # refused before any bcrypt check
    # the name is locked from another address too; the address is locked for other names
    other_address = httpx.Client(base_url=base, timeout=30, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    assert other_address.post("login", data={"username": "ann", "password": password}).status_code == 429
    assert guesser.post("login", data={"username": "bob", "password": password}).status_code == 429
    assert _login(base, password, "bob", source="127.0.0.2").get("config").status_code == 200
    time.sleep(1.1)  # the lock has passed: the right password works and clears the record
    assert _login(base, password).get("config").status_code == 200
    assert [guesser.post("login", data={"username": "ann", "password": "nope"}).status_code
            for _ in range(2)] == [400, 400]
