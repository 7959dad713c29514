"""What the labelling app does, independent of the web framework (and so testable directly).

Every state that matters lives in the database: votes, and from them each annotator's progress
and next item, so a refresh or a server restart resumes where the annotator stopped. The only
in-memory state is the item currently *assigned* to each annotator, which is what a vote must
name, and when its images were seen; a vote for any other item (a stale page, a forged request)
is refused and changes nothing.

Task routing: each item wants ``ratings_wanted`` human scores; items below that count come
first, in an order randomised per annotator (a hash of the annotator's seed and the item id, so
it is stable across restarts); an annotator never gets an item twice; every ``control_every``-th
item is a control item (known answer) while the annotator has unseen ones.

Viewing rule (``min_view_s`` set, as the app always does): a score counts only once the page has
reported the item's images as loaded (:meth:`AnnotationService.mark_seen`) and ``min_view_s``
seconds have passed since; earlier scores are refused with :class:`TooEarly`. Without it a key
press meant for one item can land on the next before the rater has seen it — control items
included, which then measure reflexes instead of care.

Examples: for every level with at least two control items, the first of them (by id) becomes the
level's example: shown with its answer in the instructions and the practice round, and therefore
taken out of everyone's queue (a control whose answer was shown measures nothing).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
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
from dynvfi_core.errors import DynVFIError, InputError
from dynvfi_core.imageio import read_image

log = logging.getLogger(__name__)

#: the four images of an item, in the order of a motion loop: frame 0, middle, frame 1
KINDS = ("frame0", "interp", "gt", "frame1")
#: a broken item is set aside for this long, then tried again (a fixed file comes back by itself)
BROKEN_RETRY_S = 60.0


class AccessDenied(DynVFIError):
    """A request the app refuses: not logged in, wrong item, path outside the data root."""

    exit_code = 4


class BrokenItem(AccessDenied):
    """An item whose images are missing, unreadable or outside the data root: never shown."""


class TooEarly(AccessDenied):
    """A score sent before the item's images were loaded and looked at for ``min_view_s``."""


@dataclass(frozen=True)
class Progress:
    rated: int
    skipped: int
    total: int
    broken: int = 0  # items set aside because their images cannot be shown

    @property
    def remaining(self) -> int:
        return max(self.total - self.rated - self.skipped, 0)


@dataclass
class ItemView:
    """What the page shows for one item: image files, all checked to lie inside the data root."""

    triplet_id: int
    progress: Progress
    rife: Path
    gt: Path
    frame0: Path
    frame1: Path
    width: int
    height: int
    fps: float
    hint_box: tuple[int, int, int, int]  # x, y, w, h of the largest difference, in frame pixels
    previous_score: int | None = None  # the annotator's own score that an undo took back
    notices: list[str] = field(default_factory=list)  # items set aside on the way to this one


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
    #: seconds an item must have been visible before a score counts; None: no viewing rule
    #: (direct library use); the app always sets it
    min_view_s: float | None = None
    _assigned: dict[int, int | None] = field(default_factory=dict)
    _seen: dict[int, tuple[int, float]] = field(default_factory=dict)  # user id -> (item, monotonic)
    _boxes: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    _broken: dict[int, float] = field(default_factory=dict)  # item -> monotonic time it broke
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        ensure_schema(self.db_url)
        self.data_root = Path(self.data_root).resolve()
        if self.ratings_wanted < 1 or self.control_every < 2:
            raise DynVFIError("ratings_wanted must be >= 1 and control_every >= 2")
        if self.min_view_s is not None and self.min_view_s < 0:
            raise InputError(f"minimum viewing time must be >= 0 s, got {self.min_view_s}")

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
    def _examples(self, s) -> dict[int, int]:
        """level -> example item: the lowest-id control of each level that has two or more."""
        rows = s.execute(select(Triplet.id, Triplet.control_answer).where(Triplet.is_control.is_(True))
                         .join(Interpolation, (Interpolation.triplet_id == Triplet.id)
                               & (Interpolation.model == self.model)).order_by(Triplet.id)).all()
        by_level: dict[int, list[int]] = {}
        for tid, answer in rows:
            if answer is not None:
                by_level.setdefault(int(answer), []).append(tid)
        return {level: ids[0] for level, ids in sorted(by_level.items()) if len(ids) >= 2}

    def _pool(self, s) -> _Pool:
        rows = s.execute(select(Triplet.id, Triplet.is_control).join(
            Interpolation, (Interpolation.triplet_id == Triplet.id) & (Interpolation.model == self.model)))
        shown = set(self._examples(s).values())
        pool = _Pool([], [])
        for tid, is_control in rows:
            if tid not in shown:
                (pool.control if is_control else pool.regular).append(tid)
        return pool

    def _set_aside(self) -> set[int]:
        now = time.monotonic()
        return {t for t, since in self._broken.items() if now - since < BROKEN_RETRY_S}

    def _next(self, s, user: Annotator) -> int | None:
        pool = self._pool(s)
        mine = {tid for tid in s.scalars(select(Vote.triplet_id).where(Vote.annotator_id == user.id))}
        broken = self._set_aside()
        regular = [t for t in pool.regular if t not in mine and t not in broken]
        control = [t for t in pool.control if t not in mine and t not in broken]
        if control and (not regular or len(mine) % self.control_every == self.control_every - 1):
            return min(control, key=lambda t: order_key(user.seed, t))
        if not regular:
            return None
        counts = vote_counts(s)
        return min(regular, key=lambda t: (counts.get(t, 0) >= self.ratings_wanted, order_key(user.seed, t)))

    def _progress(self, s, user: Annotator) -> Progress:
        pool = self._pool(s)
        votes = s.execute(select(Vote.triplet_id, Vote.score).where(Vote.annotator_id == user.id)).all()
        skipped = sum(score is None for _t, score in votes)
        mine = {t for t, _score in votes}
        broken = sum(t not in mine for t in self._set_aside())
        return Progress(rated=len(votes) - skipped, skipped=skipped, total=len(pool.regular) + len(pool.control),
                        broken=broken)

    def _current_id(self, s, user: Annotator) -> int | None:
        if self._assigned.get(user.id) is None:  # also picks up items added since "all done"
            self._assign(user.id, self._next(s, user))
        return self._assigned[user.id]

    def _assign(self, user_id: int, tid: int | None) -> None:
        if self._assigned.get(user_id) != tid:
            self._seen.pop(user_id, None)
        self._assigned[user_id] = tid

    def _paths(self, trip: Triplet, interp: Interpolation) -> list[Path]:
        """frame0, interpolated, ground truth, frame1 (as :data:`KINDS`), each checked to exist."""
        try:
            paths = [inside(self.data_root, p) for p in (trip.path0, interp.path, trip.path_gt, trip.path1)]
        except DynVFIError as exc:
            raise BrokenItem(str(exc)) from exc
        for p in paths:
            if not p.is_file():
                raise BrokenItem(f"image of item {trip.id} is missing: {p.relative_to(self.data_root)}")
        return paths

    def _load(self, s, tid: int) -> tuple[Triplet, Interpolation]:
        trip = s.get(Triplet, tid)
        interp = s.scalar(select(Interpolation).where(Interpolation.triplet_id == tid,
                                                      Interpolation.model == self.model))
        if trip is None or interp is None:
            raise AccessDenied(f"item {tid} does not exist")
        return trip, interp

    def _view(self, s, user: Annotator, tid: int | None) -> ItemView | None:
        if tid is None:
            return None
        trip, interp = self._load(s, tid)
        frame0, rife, gt, frame1 = self._paths(trip, interp)
        box = self._boxes.get(tid)
        if box is None:
            try:
                box = self._boxes[tid] = largest_difference_box(read_image(rife), read_image(gt))
            except DynVFIError as exc:
                raise BrokenItem(str(exc)) from exc
        fps = float(trip.clip.fps) if trip.clip is not None and trip.clip.fps else 0.0
        return ItemView(tid, self._progress(s, user), rife, gt, frame0, frame1, int(trip.width),
                        int(trip.height), fps / max(int(trip.stride or 1), 1), box)

    def missing_files(self, limit: int = 1) -> tuple[int, list[tuple[int, str]]]:
        """(number of items checked, up to ``limit`` (item, relative path) whose image is missing)."""
        found: list[tuple[int, str]] = []
        with session_scope(self.db_url) as s:
            pool = self._pool(s)
            ids = pool.regular + pool.control + list(self._examples(s).values())
            for tid in ids:
                trip, interp = self._load(s, tid)
                for rel in (trip.path0, interp.path, trip.path_gt, trip.path1):
                    try:
                        ok = inside(self.data_root, rel).is_file()
                    except DynVFIError:
                        ok = False
                    if not ok:
                        found.append((tid, rel))
                        break
                if len(found) >= limit:
                    break
        return len(ids), found

    def require_files(self) -> None:
        """Refuse to serve when the items' frames are not under the data root (wrong --data-root?)."""
        n, missing = self.missing_files()
        if missing:
            tid, rel = missing[0]
            raise InputError(f"the frames of the items are not under the data root {self.data_root}: "
                             f"e.g. item {tid} needs {rel} (wrong --data-root?)")
        if n == 0:
            log.warning("no item to rate: no triplet has an interpolated frame of model %s", self.model)

    def progress(self, name: str | None) -> Progress:
        with session_scope(self.db_url) as s:
            return self._progress(s, self._annotator(s, name))

    def view(self, name: str | None, tid: int | None) -> ItemView | None:
        """The page content of item ``tid`` for this annotator (None: nothing left)."""
        with session_scope(self.db_url) as s:
            return self._view(s, self._annotator(s, name), tid)

    # -- files the page may load ----------------------------------------------------------------
    def image_file(self, name: str | None, item_id: object, kind: str) -> Path:
        """One image of the annotator's assigned item or of an example; anything else is refused."""
        if kind not in KINDS:
            raise AccessDenied(f"unknown image '{kind}'")
        tid = _parse_id(item_id)
        with self._lock, session_scope(self.db_url) as s:
            user = self._annotator(s, name)
            if tid != self._current_id(s, user) and tid not in self._examples(s).values():
                raise AccessDenied(f"item {tid} is not assigned to '{user.name}'")
            trip, interp = self._load(s, tid)
            return self._paths(trip, interp)[KINDS.index(kind)]

    def examples(self, name: str | None) -> list[ItemView]:
        """The example item of each level (see the module docstring), best level first."""
        with session_scope(self.db_url) as s:
            user = self._annotator(s, name)
            out = []
            for _level, tid in sorted(self._examples(s).items(), reverse=True):
                try:
                    out.append(self._view(s, user, tid))
                except BrokenItem as exc:
                    log.error("example item %s cannot be shown: %s", tid, exc)
            return out

    def answer(self, item_id: object) -> int | None:
        """The known answer of a control/example item (None for an ordinary item)."""
        with session_scope(self.db_url) as s:
            trip = s.get(Triplet, _parse_id(item_id))
            return None if trip is None or not trip.is_control else trip.control_answer

    # -- id-level operations (what the page calls, minus the images) ---------------------------
    def assigned(self, name: str | None) -> int | None:
        """Id of the item the annotator should rate now (None when nothing is left)."""
        with self._lock, session_scope(self.db_url) as s:
            return self._current_id(s, self._annotator(s, name))

    def mark_seen(self, name: str | None, item_id: object) -> None:
        """The page reports that every image of the assigned item has loaded: the viewing clock starts."""
        with self._lock, session_scope(self.db_url) as s:
            user = self._annotator(s, name)
            tid = self._check_assigned(s, user, item_id)
            if self._seen.get(user.id, (None, 0.0))[0] != tid:
                self._seen[user.id] = (tid, time.monotonic())

    def _check_viewed(self, user: Annotator, tid: int) -> None:
        if self.min_view_s is None:
            return
        seen_tid, since = self._seen.get(user.id, (None, 0.0))
        if seen_tid != tid:
            raise TooEarly(f"score for item {tid} ignored: its images have not finished loading")
        if time.monotonic() - since < self.min_view_s:
            raise TooEarly(f"score for item {tid} ignored: look at it for at least {self.min_view_s:g} s")

    def record(self, name: str | None, item_id: object, score: int | None) -> int | None:
        """Store a 1-4 score (None = skip) for the assigned item; return the next item's id."""
        if score is not None and score not in (1, 2, 3, 4):
            raise AccessDenied(f"score must be 1-4, got {score!r}")
        with self._lock, session_scope(self.db_url) as s:
            user = self._annotator(s, name)
            tid = self._check_assigned(s, user, item_id)
            if score is not None:
                self._check_viewed(user, tid)
            upsert_vote(s, user.id, tid, score)
            s.flush()
            nxt = self._next(s, user)
            self._assign(user.id, nxt)
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
            self._assign(user.id, tid)
            return tid, previous

    def _check_assigned(self, s, user: Annotator, item_id: object) -> int:
        tid = _parse_id(item_id)
        if self._current_id(s, user) != tid:
            raise AccessDenied(f"item {tid} is not the item assigned to '{user.name}' (stale page?)")
        return tid

    # -- page-level operations ----------------------------------------------------------------
    def _show(self, name: str | None, tid: int | None) -> ItemView | None:
        """The view of ``tid``; a broken item is set aside (no vote), reported to the operator (log)
        and to the annotator (the view's ``notices``), and the next one is shown."""
        notices: list[str] = []
        while True:
            try:
                view = self.view(name, tid)
            except BrokenItem as exc:
                log.error("item %s cannot be shown and is set aside for %.0f s: %s", tid, BROKEN_RETRY_S, exc)
                notices.append(f"item #{tid} could not be shown ({exc}); it was set aside and reported")
                with self._lock, session_scope(self.db_url) as s:
                    user = self._annotator(s, name)
                    self._broken[tid] = time.monotonic()
                    tid = self._next(s, user)
                    self._assign(user.id, tid)
                continue
            if view is not None:
                view.notices = notices
                return view
            if notices:  # nothing showable left, but not because everything is done
                more = f" (and {len(notices) - 1} more)" if len(notices) > 1 else ""
                raise BrokenItem(notices[0] + more)
            return None

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


def _parse_id(item_id: object) -> int:
    try:
        return int(str(item_id))
    except ValueError:
        raise AccessDenied(f"invalid item id {item_id!r}") from None
