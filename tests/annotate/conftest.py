"""Fixtures of the annotation tests: databases (SQLite, and PostgreSQL when installed) and datasets.

The datasets that the app, interpolation and export tests use are synthetic (a seeded texture
panned between frames, with a sprite moving on its own path) so that those tests run on a fresh
clone without ``../shared/data``; only tests whose claim needs real footage use the UCF101 sample.

``db_url`` is parametrised over SQLite and a real PostgreSQL server: the server is a throw-away
cluster that the fixture initdb's in a temporary folder and starts on a free loopback port (as
the ``postgres`` system user when the tests run as root). Without PostgreSQL binaries the
PostgreSQL variants are skipped.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from db.engine import dispose_all, session_scope
from db.models import Clip, Triplet

UCF = "triplets/ucf101_dvf"
#: Frame names of one triplet folder, as in the sample data and in `collect`'s output.
FRAME_NAMES = ("frame_00.png", "frame_01_gt.png", "frame_02.png")
SYNTH_SIZE = 256  # the UCF101 sample triplets are 256x256
#: minimum viewing time of the served test app: short, so that tests wait little
APP_MIN_VIEW_S = 0.3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL prefix (``postgresql+psycopg://postgres@127.0.0.1:PORT``) of a private server."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    as_root = os.geteuid() == 0
    if as_root:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("PostgreSQL refuses to run as root and there is no 'postgres' user")
    base = Path(tempfile.mkdtemp(prefix="dynvfi-pg-"))
    data = base / "data"
    run_as: list[str] = []
    if as_root:
        shutil.chown(base, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(run_as + [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                             "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(run_as + [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"),
                             "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        dispose_all()
        subprocess.run(run_as + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def _new_pg_db(prefix: str) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(f"{prefix}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{prefix}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_home: Path) -> Iterator[str]:
    """An empty database with the current schema, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_home / 'test.sqlite'}"
    else:
        url = _new_pg_db(request.getfixturevalue("pg_server"))
    from annotate.store import ensure_schema

    ensure_schema(url)
    yield url
    dispose_all()


@pytest.fixture
def sqlite_url(tmp_home: Path) -> Iterator[str]:
    from annotate.store import ensure_schema

    url = f"sqlite:///{tmp_home / 'test.sqlite'}"
    ensure_schema(url)
    yield url
    dispose_all()


def add_triplets(db_url: str, rels: list[tuple[str, str, str]], size: tuple[int, int] = (256, 256),
                 split_every: int = 4) -> list[int]:
    """Clip + Triplet rows for frame paths (relative to the data root); returns the triplet ids."""
    ids = []
    with session_scope(db_url) as s:
        for i, (p0, pg, p1) in enumerate(rels):
            split = "val" if i % split_every == split_every - 1 else "train"
            clip = Clip(key=f"test/{uuid.uuid4().hex}", source="local", uri=p0, split=split)
            s.add(clip)
            s.flush()
            t = Triplet(clip_id=clip.id, frame0=0, stride=1 + i % 3, tier="native", width=size[1], height=size[0],
                        path0=p0, path_gt=pg, path1=p1, motion_mean=float(i), motion_p95=float(2 * i),
                        split=split)
            s.add(t)
            s.flush()
            ids.append(t.id)
    return ids


def fake_dataset(db_url: str, n: int, model: str = "rife-v4.25") -> list[int]:
    """Triplets with Interpolation rows but no files: enough for routing and vote tests."""
    from db.annotation import Interpolation

    ids = add_triplets(db_url, [(f"f/{i}/0.png", f"f/{i}/gt.png", f"f/{i}/1.png") for i in range(n)])
    with session_scope(db_url) as s:
        for k, tid in enumerate(ids):
            s.add(Interpolation(triplet_id=tid, model=model, path=f"interp/{tid}.png", psnr=20.0 + k,
                                ssim=0.5 + k / (2 * n), perceptual=0.5 - k / (2 * n),
                                perceptual_metric="stlpips-alex", input_perceptual=0.3))
    return ids


def real_dataset(db_url: str, shared: Path, root: Path, n: int) -> list[int]:
    """``n`` UCF101 triplets of the sample data copied under ``root`` and registered in the DB."""
    srcs = sorted((shared / UCF).iterdir())[:n]
    rels = []
    for src in srcs:
        dst = root / "triplets" / "ucf" / src.name
        dst.mkdir(parents=True, exist_ok=True)
        for f in FRAME_NAMES:
            shutil.copy(src / f, dst / f)
        rel = f"triplets/ucf/{src.name}"
        rels.append(tuple(f"{rel}/{f}" for f in FRAME_NAMES))
    return add_triplets(db_url, rels)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Colour noise summed over several scales, plus hard-edged shapes: flow is well defined.

    Pure white noise would make every blend look equally bad and give optical-flow nets nothing
    smooth to match; a flat image would make the blend exact. Multi-scale noise with edges sits
    between, like natural footage.
    """
    import cv2

    img = np.zeros((height, width, 3), np.float32)
    for cell, weight in ((4, 0.25), (16, 0.35), (64, 0.4)):
        small = rng.random((height // cell + 2, width // cell + 2, 3), dtype=np.float32)
        img += weight * cv2.resize(small, (width + 2 * cell, height + 2 * cell),
                                   interpolation=cv2.INTER_CUBIC)[cell:cell + height, cell:cell + width]
    img = np.clip(img * 255, 0, 255).astype(np.uint8)
    for _ in range(12):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(0, (width, height)))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), int(rng.integers(6, 30)), colour, -1, lineType=cv2.LINE_AA)
        else:
            w, h = (int(v) for v in rng.integers(8, 50, 2))
            cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
    return img


def synthetic_triplet(seed: int, pan: tuple[int, int], sprite_step: tuple[int, int],
                      size: int = SYNTH_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame0, gt, frame1) with exact linear motion, so the ground truth is the true midpoint.

    The background pans by ``pan`` pixels per frame and a textured disc moves by ``sprite_step``
    over it: two motions in one frame, as in real clips, rather than one global shift.
    """
    import cv2

    rng = np.random.default_rng(seed)
    margin = max(abs(v) for v in (*pan, *sprite_step)) + 2
    canvas = _texture(rng, size + 2 * margin, size + 2 * margin)
    sprite = _texture(rng, 64, 64)
    mask = np.zeros((64, 64), np.uint8)
    cv2.circle(mask, (32, 32), 30, 1, -1)
    start = rng.integers(margin, size - 64 - margin, 2)
    frames = []
    for k in (-1, 0, 1):
        y0, x0 = margin + k * pan[0], margin + k * pan[1]
        frame = canvas[y0:y0 + size, x0:x0 + size].copy()
        sy, sx = int(start[0] + k * sprite_step[0]), int(start[1] + k * sprite_step[1])
        region = frame[sy:sy + 64, sx:sx + 64]
        region[mask > 0] = sprite[mask > 0]
        frames.append(frame)
    return frames[0], frames[1], frames[2]


def synthetic_dataset(db_url: str, root: Path, n: int) -> list[int]:
    """``n`` synthetic triplets written as PNG under ``root`` and registered in the DB.

    Each triplet has its own texture and motion (1 to n+ pixels per frame), so metric values
    differ between triplets, as quartile-based pre-scores need.
    """
    from dynvfi_core.imageio import write_image

    rels = []
    for i in range(n):
        pan = (i % 3 - 1, 1 + i)  # small vertical, growing horizontal pan
        step = (2 + i, -(1 + i // 2))  # the sprite moves its own way
        rel = f"triplets/synthetic/{i:03d}"
        for name, frame in zip(FRAME_NAMES, synthetic_triplet(1000 + i, pan, step)):
            write_image(root / rel / name, frame)
        rels.append(tuple(f"{rel}/{name}" for name in FRAME_NAMES))
    return add_triplets(db_url, rels, size=(SYNTH_SIZE, SYNTH_SIZE))


def _build_blend_template(base: Path, fill) -> tuple[Path, list[int]]:
    """A DB + data root holding six triplets and their ``blend`` interpolation."""
    from annotate import interpolate
    from annotate.store import ensure_schema

    url = f"sqlite:///{base / 'test.sqlite'}"
    ensure_schema(url)
    ids = fill(url, base / "data", 6)
    interpolate.run(url, base / "data", "blend", batch_size=6, progress=False)
    dispose_all()  # closing the last connection folds the WAL into the file
    return base, ids


@pytest.fixture(scope="session")
def _blend_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """Built once per session: interpolating costs seconds (the perceptual metric on CPU)."""
    return _build_blend_template(tmp_path_factory.mktemp("blend-template"), synthetic_dataset)


@pytest.fixture(scope="session")
def _real_blend_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """As :func:`_blend_template` but from the UCF101 sample; skips where it is absent."""
    env = os.environ.get("DYNVFI_SHARED_DATA")
    shared = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not shared.is_dir():
        pytest.skip("sample data ../shared/data is not on this machine")
    return _build_blend_template(tmp_path_factory.mktemp("real-blend-template"),
                                 lambda url, root, n: real_dataset(url, shared, root, n))


def _private_copy(template: tuple[Path, list[int]], home: Path) -> tuple[str, Path, list[int]]:
    base, ids = template
    shutil.copy(base / "test.sqlite", home / "test.sqlite")
    shutil.copytree(base / "data", home / "data")
    return f"sqlite:///{home / 'test.sqlite'}", home / "data", ids


@pytest.fixture
def blend_dataset(_blend_template, tmp_home: Path) -> Iterator[tuple[str, Path, list[int]]]:
    """Six synthetic triplets with their ``blend`` interpolation, in a private copy of the DB and data.

    The stored model name is ``blend``; tests that serve the app pass ``model="blend"`` so that
    no RIFE weights are needed.
    """
    yield _private_copy(_blend_template, tmp_home)
    dispose_all()


@pytest.fixture
def real_blend_dataset(_real_blend_template, tmp_home: Path) -> Iterator[tuple[str, Path, list[int]]]:
    """As :func:`blend_dataset` with six real UCF101 triplets; skips without the sample data."""
    yield _private_copy(_real_blend_template, tmp_home)
    dispose_all()


@pytest.fixture
def make_fake_dataset():
    """The :func:`fake_dataset` helper (tests cannot import this conftest as a module)."""
    return fake_dataset


@pytest.fixture
def make_triplets():
    """The :func:`add_triplets` helper."""
    return add_triplets


@pytest.fixture
def app_min_view_s() -> float:
    """The served test app's minimum viewing time (tests cannot import this conftest)."""
    return APP_MIN_VIEW_S


@pytest.fixture
def app_url(blend_dataset) -> Iterator[tuple[str, str, str]]:
    """The real app on a free loopback port over :func:`blend_dataset`, with user ``ann``.

    Yields (base URL, DB URL, ann's password).
    """
    from annotate.app import launch
    from annotate.service import AnnotationService
    from annotate.store import add_user

    url, root, _ids = blend_dataset
    password = "correct horse battery"
    with session_scope(url) as s:
        add_user(s, "ann", password)
    service = AnnotationService(url, root, model="blend", min_view_s=APP_MIN_VIEW_S)
    port = _free_port()
    server = launch(service, "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/", url, password
    server.close()
