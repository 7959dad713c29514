"""How fast does the app serve the next item while many annotators vote at once?

A throw-away database and data root (synthetic 448x256 triplets, the Vimeo-90K size) are served on
loopback by ``dynvfi annotate serve --min-view 0`` in its own process; ``n_annotators`` threads
each log in with their own Gradio client and, like the page, load an item's four images and report
them seen, then vote. The latency of one vote is the round trip from sending the score to
receiving the next item (viewing-rule check, stored vote, routing, difference hint, viewer HTML);
loading the images and reporting them seen happen between votes and are not included.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

from annotate.service import KINDS
from db.annotation import Interpolation
from db.engine import dispose_all, session_scope
from db.models import Clip, Triplet
from dynvfi_core.imageio import write_image

PASSWORD = "bench password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _synthetic(db_url: str, root: Path, n_items: int, size: tuple[int, int] = (256, 448)) -> None:
    """Smooth random scenes moving a few pixels per frame; the 'interpolation' is their blend."""
    rng = np.random.default_rng(0)
    h, w = size
    with session_scope(db_url) as s:
        for i in range(n_items):
            scene = cv2.resize(rng.integers(0, 256, (h // 16, (w + 64) // 16, 3), dtype=np.uint8), (w + 64, h),
                               interpolation=cv2.INTER_CUBIC)
            shift = int(rng.integers(1, 16))
            frames = [scene[:, k * shift:k * shift + w] for k in range(3)]
            rel = Path("bench") / str(i)
            for name, img in zip(("0.png", "gt.png", "1.png"), frames):
                write_image(root / rel / name, img)
            blend = ((frames[0].astype(np.uint16) + frames[2]) // 2).astype(np.uint8)
            write_image(root / rel / "rife.png", blend)
            clip = Clip(key=f"bench/{i}", source="local", uri=str(rel), split="train")
            s.add(clip)
            s.flush()
            t = Triplet(clip_id=clip.id, frame0=0, stride=1, tier="native", width=w, height=h, split="train",
                        path0=f"{rel}/0.png", path_gt=f"{rel}/gt.png", path1=f"{rel}/1.png")
            s.add(t)
            s.flush()
            s.add(Interpolation(triplet_id=t.id, model="rife-v4.25", path=f"{rel}/rife.png"))


def _wait_until_up(server: subprocess.Popen, port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"annotation server exited: {server.stderr.read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"annotation server did not start within {timeout:.0f} s")


def next_item_latency(n_annotators: int = 10, votes_each: int = 10, n_items: int = 40) -> dict:
    """Median and 95th-percentile time (ms) from pressing a score to having the next item."""
    from gradio_client import Client

    from annotate.store import add_user, ensure_schema

    with tempfile.TemporaryDirectory(prefix="dynvfi-bench-") as tmp:
        base = Path(tmp)
        db_url = f"sqlite:///{base / 'bench.sqlite'}"
        ensure_schema(db_url)
        _synthetic(db_url, base / "data", n_items)
        names = [f"bench{i}" for i in range(n_annotators)]
        with session_scope(db_url) as s:
            for name in names:
                add_user(s, name, PASSWORD)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "dynvfi_core.cli", "annotate", "serve", "--db", db_url, "--data-root",
             str(base / "data"), "--port", str(port), "--ratings", "3", "--min-view", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(n_annotators)

        try:
            _wait_until_up(server, port)
            # logins (a deliberate 0.25 s bcrypt check each) happen one after another, before timing
            clients = {name: Client(f"http://127.0.0.1:{port}/", auth=(name, PASSWORD), verbose=False,
                                    download_files=False) for name in names}
        except BaseException:
            server.kill()
            raise

        def look_at(client, http: httpx.Client, item: str) -> None:
            """What the page does before a score can count: load the images, report them seen."""
            for kind in KINDS:
                http.get(f"item/{item}/{kind}", cookies=client.cookies).raise_for_status()
            http.post(f"item/{item}/seen", cookies=client.cookies).raise_for_status()

        def annotator(name: str) -> None:
            try:
                client = clients[name]
                http = httpx.Client(base_url=f"http://127.0.0.1:{port}/", timeout=60)
                item = client.predict(api_name="/current")[0]
                start.wait(timeout=120)
                for _ in range(votes_each):
                    if not item:
                        break
                    look_at(client, http, item)
                    t0 = time.perf_counter()
                    nxt, status, *_ = client.predict(item, api_name="/vote_3")
                    with lock:
                        latencies.append((time.perf_counter() - t0) * 1000)
                    if nxt == item:
                        raise RuntimeError(f"vote refused: {status}")
                    item = nxt
            except Exception as exc:  # noqa: BLE001 - reported below; one failing client must not hang the rest
                start.abort()
                errors.append(f"{name}: {exc!r}")

        threads = [threading.Thread(target=annotator, args=(n,)) for n in names]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
            dispose_all()
        if errors:
            raise RuntimeError("benchmark clients failed: " + "; ".join(errors[:3]))
    lat = sorted(latencies)
    return {"median_ms": round(statistics.median(lat), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "n_requests": len(lat), "n_annotators": n_annotators}


def bench_rows(quick: bool = False) -> dict:
    """``make bench`` row: next-item latency with 10 concurrent annotators (3 in quick mode)."""
    n = 3 if quick else 10
    r = next_item_latency(n_annotators=n)
    return {"rows": [{"name": f"annotate app, next item, {n} concurrent annotators", "resolution": "448x256",
                      "ms_per_pair": r["median_ms"], "median_ms": r["median_ms"], "p95_ms": r["p95_ms"],
                      "n_requests": r["n_requests"]}]}


if __name__ == "__main__":
    print(next_item_latency())
