"""What the labelling app does, independent of the web framework (and so testable directly).

Every state that matters lives in the database: votes, and from them each annotator's progress
and next item, so a refresh or a server restart resumes where the annotator stopped. The only
in-memory state is the item currently *assigned* to each annotator, which is what a vote must
name; a vote for any other item (a stale page, a forged request) is refused and changes nothing.

Task routing: each item wants ``ratings_wanted`` human scores; items below that count come
first, in an order randomised per annotator (a hash of the annotator's seed and the item id, so
it is stable across restarts); an annotator never gets an item twice; every ``control_every``-th
item is a control item (known answer) while the annotator has unseen ones.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import select

from annotate.safepath import inside
from annotate.store import (
    check_login,
    delete_vote,
    ensure_schema,
    last_vote,
    upsert_vote,
    vote_counts,
)
from db.annotation import Annotator, Interpolation, Vote
from db.engine import session_scope
from db.models import Triplet
from dynvfi_core.errors import DynVFIError
from dynvfi_core.imageio import read_image, write_image

log = logging.getLogger(__name__)


class AccessDenied(DynVFIError):
    """A request the app refuses: not logged in, wrong item, path outside the data root."""

    exit_code = 4


class BrokenItem(AccessDenied):
    """An item whose images are missing, unreadable or outside the data root: never shown."""


@dataclass(frozen=True)
class Progress:
    rated: int
    skipped: int
    total: int

    @property
    def remaining(self) -> int:
        return max(self.total - self.rated - self.skipped, 0)


@dataclass
class ItemView:
    """What the page shows for one item: image files, all checked to lie inside the data root
    (zoom crops inside the service's own cache folder), so the page serves them without re-encoding."""

    triplet_id: int
    progress: Progress
    rife: Path
    gt: Path
    frame0: Path
    frame1: Path
    zoom_rife: Path
    zoom_gt: Path
    zoom_box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    previous_score: int | None = None  # the annotator's own score that an undo took back


def order_key(seed: int, triplet_id: int) -> bytes:
    """Per-annotator pseudo-random but reproducible position of an item."""
    return hashlib.sha256(f"{seed}:{triplet_id}".encode()).digest()


def largest_difference_box(a: np.ndarray, b: np.ndarray, frac: float = 0.25) -> tuple[int, int, int, int]:
    """The square window (side ``frac`` of the short side) where ``a`` and ``b`` differ most."""
    h, w = a.shape[:2]
    side = max(16, int(min(h, w) * frac))
    side = min(side, h, w)
    diff = np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=2)
    energy = cv2.blur(diff, (side, side), borderType=cv2.BORDER_CONSTANT)
    cy, cx = np.unravel_index(int(np.argmax(energy)), energy.shape)
    x = int(np.clip(cx - side // 2, 0, w - side))
    y = int(np.clip(cy - side // 2, 0, h - side))
    return x, y, side, side


def zoom(img: np.ndarray, box: tuple[int, int, int, int], size: int = 384) -> np.ndarray:
    """Crop and enlarge with nearest-neighbour so that single-pixel artefacts stay visible."""
    x, y, w, h = box
    crop = img[y:y + h, x:x + w]
    factor = max(1, size // max(w, h))
    return cv2.resize(crop, (w * factor, h * factor), interpolation=cv2.INTER_NEAREST)


@dataclass
class _Pool:
    regular: list[int]
    control: list[int]


@dataclass
class AnnotationService:
    db_url: str
    data_root: Path
    model: str = "rife-v4.25"
    ratings_wanted: int = 3
    control_every: int = 10
    cache_dir: Path | None = None  # zoom crops; a private temporary folder by default
    #: owns the default cache folder: removed when the service is garbage-collected or the
    #: process exits, so test runs, benchmarks and killed apps leave no folders behind in /tmp
    _own_cache: tempfile.TemporaryDirectory | None = field(default=None, repr=False)
    _assigned: dict[int, int | None] = field(default_factory=dict)
    _boxes: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    _broken: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        ensure_schema(self.db_url)
        self.data_root = Path(self.data_root).resolve()
        if self.cache_dir is None:
            self._own_cache = tempfile.TemporaryDirectory(prefix="dynvfi-zoom-")
            self.cache_dir = Path(self._own_cache.name)
        self.cache_dir = Path(self.cache_dir).resolve()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if self.ratings_wanted < 1 or self.control_every < 2:
            raise DynVFIError("ratings_wanted must be >= 1 and control_every >= 2")

    def close(self) -> None:
        """Remove the zoom folder the service created itself (a caller's ``cache_dir`` is kept).

        Without a call it goes when the process exits normally (TemporaryDirectory's finaliser).
        """
        if self._own_cache is not None:
            self._own_cache.cleanup()
            self._own_cache = None

    # -- identity ---------------------------------------------------------------------------
    def login(self, name: str, password: str) -> bool:
        """Password check for the web login (bcrypt)."""
        with session_scope(self.db_url) as s:
            return check_login(s, name or "", password or "") is not None

    def _annotator(self, s, name: str | None) -> Annotator:
        if not name:
            raise AccessDenied("not logged in")
        user = s.scalar(select(Annotator).where(Annotator.name == name))
        if user is None or user.is_auto or not user.password_hash:
            raise AccessDenied(f"unknown annotator '{name}'")
        return user

    # -- routing ----------------------------------------------------------------------------
    def _pool(self, s) -> _Pool:
        rows = s.execute(select(Triplet.id, Triplet.is_control).join(
            Interpolation, (Interpolation.triplet_id == Triplet.id) & (Interpolation.model == self.model)))
        pool = _Pool([], [])
        for tid, is_control in rows:
            (pool.control if is_control else pool.regular).append(tid)
        return pool

    def _next(self, s, user: Annotator) -> int | None:
        pool = self._pool(s)
        mine = {tid for tid in s.scalars(select(Vote.triplet_id).where(Vote.annotator_id == user.id))}
        regular = [t for t in pool.regular if t not in mine and t not in self._broken]
        control = [t for t in pool.control if t not in mine and t not in self._broken]
        if control and (not regular or len(mine) % self.control_every == self.control_every - 1):
            return min(control, key=lambda t: order_key(user.seed, t))
        if not regular:
            return None
        counts = vote_counts(s)
        return min(regular, key=lambda t: (counts.get(t, 0) >= self.ratings_wanted, order_key(user.seed, t)))

    def _progress(self, s, user: Annotator) -> Progress:
        pool = self._pool(s)
        votes = s.execute(select(Vote.score).where(Vote.annotator_id == user.id)).scalars().all()
        skipped = sum(v is None for v in votes)
        return Progress(rated=len(votes) - skipped, skipped=skipped, total=len(pool.regular) + len(pool.control))

    def _current_id(self, s, user: Annotator) -> int | None:
        if self._assigned.get(user.id) is None:  # also picks up items added since "all done"
            self._assigned[user.id] = self._next(s, user)
        return self._assigned[user.id]

    def _view(self, s, user: Annotator, tid: int | None) -> ItemView | None:
        if tid is None:
            return None
        trip = s.get(Triplet, tid)
        interp = s.scalar(select(Interpolation).where(Interpolation.triplet_id == tid,
                                                      Interpolation.model == self.model))
        if trip is None or interp is None:
            raise AccessDenied(f"item {tid} does not exist")
        try:
            paths = [inside(self.data_root, p) for p in (interp.path, trip.path_gt, trip.path0, trip.path1)]
        except DynVFIError as exc:
            raise BrokenItem(str(exc)) from exc
        for p in paths:
            if not p.is_file():
                raise BrokenItem(f"image of item {tid} is missing: {p.relative_to(self.data_root)}")
        zoom_rife, zoom_gt, box = self._zoom(tid, paths[0], paths[1])
        return ItemView(tid, self._progress(s, user), *paths, zoom_rife, zoom_gt, box)

    def _zoom(self, tid: int, rife_path: Path, gt_path: Path) -> tuple[Path, Path, tuple[int, int, int, int]]:
        """Enlarged crops of the largest difference, computed once per item and kept on disk."""
        out = (self.cache_dir / f"{tid}-rife.png", self.cache_dir / f"{tid}-gt.png")
        box = self._boxes.get(tid)
        if box is None or not (out[0].is_file() and out[1].is_file()):
            try:
                rife, gt = read_image(rife_path), read_image(gt_path)
            except DynVFIError as exc:
                raise BrokenItem(str(exc)) from exc
            box = largest_difference_box(rife, gt)
            write_image(out[0], zoom(rife, box), png_compression=1)
            write_image(out[1], zoom(gt, box), png_compression=1)
            self._boxes[tid] = box
        return out[0], out[1], box

    def progress(self, name: str | None) -> Progress:
        with session_scope(self.db_url) as s:
            return self._progress(s, self._annotator(s, name))

    def view(self, name: str | None, tid: int | None) -> ItemView | None:
        """The page content of item ``tid`` for this annotator (None: nothing left)."""
        with session_scope(self.db_url) as s:
            return self._view(s, self._annotator(s, name), tid)

    # -- id-level operations (what the page calls, minus the images) ---------------------------
    def assigned(self, name: str | None) -> int | None:
        """Id of the item the annotator should rate now (None when nothing is left)."""
        with self._lock, session_scope(self.db_url) as s:
            return self._current_id(s, self._annotator(s, name))

    def record(self, name: str | None, item_id: object, score: int | None) -> int | None:
        """Store a 1-4 score (None = skip) for the assigned item; return the next item's id."""
        if score is not None and score not in (1, 2, 3, 4):
            raise AccessDenied(f"score must be 1-4, got {score!r}")
        with self._lock, session_scope(self.db_url) as s:
            user = self._annotator(s, name)
            tid = self._check_assigned(s, user, item_id)
            upsert_vote(s, user.id, tid, score)
            s.flush()
            self._assigned[user.id] = nxt = self._next(s, user)
            return nxt

    def take_back(self, name: str | None) -> tuple[int | None, int | None]:
        """Delete the annotator's last vote or skip; return (its item id, the score it had)."""
        with self._lock, session_scope(self.db_url) as s:
            user = self._annotator(s, name)
            last = last_vote(s, user.id)
            if last is None:
                return self._current_id(s, user), None
            tid, previous = last.triplet_id, last.score
            delete_vote(s, user.id, tid)
            self._assigned[user.id] = tid
            return tid, previous

    def _check_assigned(self, s, user: Annotator, item_id: object) -> int:
        try:
            tid = int(str(item_id))
        except ValueError:
            raise AccessDenied(f"invalid item id {item_id!r}") from None
        if self._current_id(s, user) != tid:
            raise AccessDenied(f"item {tid} is not the item assigned to '{user.name}' (stale page?)")
        return tid

    # -- page-level operations ----------------------------------------------------------------
    def _show(self, name: str | None, tid: int | None) -> ItemView | None:
        """The view of ``tid``; a broken item is logged, set aside (no vote) and the next one shown."""
        while True:
            try:
                return self.view(name, tid)
            except BrokenItem as exc:
                log.warning("item %s cannot be shown and is left out: %s", tid, exc)
                with self._lock, session_scope(self.db_url) as s:
                    user = self._annotator(s, name)
                    self._broken.add(tid)
                    self._assigned[user.id] = tid = self._next(s, user)

    def current(self, name: str | None) -> ItemView | None:
        return self._show(name, self.assigned(name))

    def vote(self, name: str | None, item_id: object, score: int | None) -> ItemView | None:
        return self._show(name, self.record(name, item_id, score))

    def skip(self, name: str | None, item_id: object) -> ItemView | None:
        return self.vote(name, item_id, None)

    def undo(self, name: str | None) -> ItemView | None:
        """Take back the last vote or skip and show that item again."""
        tid, previous = self.take_back(name)
        view = self._show(name, tid)
        if view is not None:
            view.previous_score = previous
        return view
