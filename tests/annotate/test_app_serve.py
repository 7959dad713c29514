"""``dynvfi annotate serve`` as an operator runs it: a wrong data root is refused before anything is
served, SIGTERM/SIGINT leave no temporary folder behind, TLS works and clear text beyond loopback
is warned about."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from annotate.store import add_user
from db.engine import dispose_all, session_scope

PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(db_url: str, root: Path, port: int, tmpdir: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, TMPDIR=str(tmpdir))
    env.pop("GRADIO_TEMP_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "dynvfi_core.cli", "annotate", "serve", "--db", db_url,
                             "--data-root", str(root), "--port", str(port), "--model", "blend", "--min-view", "0.1",
                             *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_up(proc: subprocess.Popen, port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not come up")


def test_wrong_data_root_is_refused_with_the_root_and_a_missing_file(blend_dataset, tmp_path) -> None:
    url, root, _ids = blend_dataset
    wrong = tmp_path / "not-the-data"
    wrong.mkdir()
    proc = _serve(url, wrong, _free_port(), tmp_path)
    try:
        rc = proc.wait(timeout=60)  # refuses at once instead of serving "All done" to the raters
    finally:
        proc.kill()
    err = proc.stderr.read()
    assert rc == 2 and err.count("\n") == 1 and err.startswith("error:"), err
    assert str(wrong.resolve()) in err and "frame_" in err and "--data-root" in err, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_leave_no_temporary_folder(blend_dataset, tmp_path, sig) -> None:
    url, root, _ids = blend_dataset
    with session_scope(url) as s:
        add_user(s, "ann", PASSWORD)
    dispose_all()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    port = _free_port()
    proc = _serve(url, root, port, tmpdir)
    try:
        _wait_up(proc, port)
        client = Client(f"http://127.0.0.1:{port}/", auth=("ann", PASSWORD), verbose=False, download_files=False)
        item = client.predict(api_name="/current")[0]
        for kind in ("frame0", "interp", "gt", "frame1"):  # the page's image loads
            r = httpx.get(f"http://127.0.0.1:{port}/item/{item}/{kind}", cookies=client.cookies, timeout=30)
            assert r.status_code == 200
        assert any(tmpdir.iterdir())  # the server's own temporary folder exists while it runs
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
    finally:
        proc.kill()
    assert rc == 0, proc.stderr.read()[-2000:]
    assert list(tmpdir.iterdir()) == []


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def test_tls_serving_and_hsts(blend_dataset, tmp_path) -> None:
    from annotate.app import launch
    from annotate.service import AnnotationService

    url, root, _ids = blend_dataset
    with session_scope(url) as s:
        add_user(s, "ann", PASSWORD)
    cert, key = _self_signed(tmp_path)
    port = _free_port()
    server = launch(AnnotationService(url, root, model="blend", min_view_s=0.1), "127.0.0.1", port, block=False,
                    certfile=cert, keyfile=key)
    try:
        with pytest.raises(httpx.HTTPError):  # no clear-text HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        https = httpx.Client(base_url=f"https://127.0.0.1:{port}/", verify=str(cert), timeout=30)
        assert https.post("login", data={"username": "ann", "password": PASSWORD}).status_code == 200
        r = https.get("config")
        assert r.status_code == 200 and r.headers["strict-transport-security"].startswith("max-age=")
    finally:
        server.close()


def test_tls_options_and_clear_text_warning(tmp_path, capsys) -> None:
    from annotate.server import check_tls
    from dynvfi_core.errors import InputError

    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(InputError, match="both"):
        check_tls("127.0.0.1", cert, None)
    with pytest.raises(InputError, match="not found"):
        check_tls("127.0.0.1", cert, tmp_path / "missing.pem")
    assert check_tls("127.0.0.1", None, None) is False and check_tls("localhost", None, None) is False
    assert check_tls("::1", None, None) is False
    assert capsys.readouterr().err == ""  # loopback: nothing to warn about
    assert check_tls("0.0.0.0", None, None) is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning:" in err and "without TLS" in err and "--ssl-certfile" in err
    assert check_tls("0.0.0.0", cert, cert) is True and capsys.readouterr().err == ""
