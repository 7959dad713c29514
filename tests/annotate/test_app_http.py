"""The app over HTTP: nothing without a login, no file outside the served folders, forged votes refused."""

from __future__ import annotations

import httpx
import pytest
from gradio_client import Client
from sqlalchemy import func, select

from db.annotation import Vote
from db.engine import session_scope


def _votes(db_url: str) -> int:
    with session_scope(db_url) as s:
        return s.scalar(select(func.count()).select_from(Vote))


def _login(base: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    r = client.post("login", data={"username": "ann", "password": password})
    r.raise_for_status()
    return client


def test_nothing_is_readable_or_writable_without_login(app_url, blend_dataset) -> None:
    base, db_url, _password = app_url
    _url, root, _ids = blend_dataset
    anon = httpx.Client(base_url=base, timeout=30)
    for path in ("config", "gradio_api/info", f"gradio_api/file={root / 'interp/blend'}"):
        assert anon.get(path).status_code in (401, 403), path
    assert anon.post("gradio_api/queue/join", json={"data": ["1"], "fn_index": 1}).status_code in (401, 403)
    with pytest.raises(httpx.HTTPStatusError):
        _login(base, "wrong password").get("config").raise_for_status()
    with pytest.raises(Exception, match="(?i)login|credentials"):
        Client(base, verbose=False)
    assert _votes(db_url) == 0


def test_logged_in_user_gets_no_file_outside_the_served_folders(app_url, tmp_path) -> None:
    base, _db, password = app_url
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    http = _login(base, password)
    assert http.get("config").status_code == 200
    for target in (secret, "/etc/passwd"):
        r = http.get(f"gradio_api/file={target}")
        assert r.status_code in (403, 404) and "do not serve" not in r.text


def test_forged_item_id_is_refused_over_the_api(app_url) -> None:
    base, db_url, password = app_url
    client = Client(base, auth=("ann", password), verbose=False, download_files=False)
    item = client.predict(api_name="/current")[0]
    forged = str(int(item) + 1000)
    with pytest.raises(Exception, match="not the item assigned"):
        client.predict(forged, api_name="/vote_2")
    assert _votes(db_url) == 0
    nxt = client.predict(item, api_name="/vote_2")[0]
    assert nxt != item and _votes(db_url) == 1
    while nxt:
        nxt, status, *_ = client.predict(nxt, api_name="/vote_4")
    assert "All done" in status and _votes(db_url) == 6
