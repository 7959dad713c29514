"""URL sources: resumable, size-limited downloads from a loopback HTTP server."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from collect.config import load_config
from collect.download import download, target_path
from collect.pipeline import collect
from dynvfi_core.errors import InputError


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single-range support (the stdlib handler ignores Range)."""

    ranges: ClassVar[list[str]] = []
    honour_range = True

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        header = self.headers.get("Range")
        if header:
            type(self).ranges.append(header)
        m = re.fullmatch(r"bytes=(\d+)-", header or "")
        if m and self.honour_range:
            start = int(m.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    _RangeHandler.ranges = []
    _RangeHandler.honour_range = True

    def handler(*args, **kwargs):
        return _RangeHandler(*args, directory=str(root), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def test_resume_from_partial_file(server, tmp_path: Path) -> None:
    base, root = server
    payload = bytes(range(256)) * 4000
    (root / "clip.mp4").write_bytes(payload)
    url = f"{base}/clip.mp4"
    dest = target_path(url, tmp_path / "dl")
    dest.parent.mkdir()
    dest.with_name(dest.name + ".part").write_bytes(payload[:300_000])
    got = download(url, tmp_path / "dl", max_bytes=10**7)
    assert got == dest and got.read_bytes() == payload
    assert _RangeHandler.ranges == ["bytes=300000-"]
    assert not dest.with_name(dest.name + ".part").exists()
    assert download(url, tmp_path / "dl", max_bytes=10**7) == dest  # complete: no new request
    assert len(_RangeHandler.ranges) == 1


def test_server_ignoring_range_restarts(server, tmp_path: Path) -> None:
    base, root = server
    payload = b"x" * 5000 + b"y" * 5000
    (root / "a.avi").write_bytes(payload)
    url = f"{base}/a.avi"
    dest = target_path(url, tmp_path / "dl")
    dest.parent.mkdir()
    dest.with_name(dest.name + ".part").write_bytes(b"garbage-prefix")
    _RangeHandler.honour_range = False
    assert download(url, tmp_path / "dl", max_bytes=10**6).read_bytes() == payload


def test_size_limit_and_http_errors(server, tmp_path: Path) -> None:
    base, root = server
    (root / "big.mp4").write_bytes(b"0" * 50_000)
    with pytest.raises(InputError, match="exceed the download limit"):
        download(f"{base}/big.mp4", tmp_path / "dl", max_bytes=10_000)
    assert not list((tmp_path / "dl").glob("*"))  # nothing half-written is kept
    with pytest.raises(InputError, match="HTTP 404"):
        download(f"{base}/nope.mp4", tmp_path / "dl", max_bytes=10_000)


def test_web_source_end_to_end(server, tmp_home: Path, tmp_path: Path, synth, video_writer, make_config) -> None:
    base, root = server
    video_writer(root / "good.avi", synth(24, size=(96, 64)))
    (root / "huge.avi").write_bytes(b"0" * 3_000_000)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# sample list\n{base}/good.avi\n{base}/huge.avi\nftp://example.org/x.mp4\n")
    cfg = make_config([{"kind": "web", "path": str(urls), "name": "lan"}], download={"max_bytes": 1_000_000})
    report = collect(load_config(cfg), progress=False, plot=False)
    problems = {e.source: e.message for e in report.errors}
    assert report.clips_processed == 1 and report.triplets_total > 0
    assert "download limit" in problems[f"web:lan/{base}/huge.avi"]
    assert problems["web:lan/ftp://example.org/x.mp4"] == "not an http(s) URL"
