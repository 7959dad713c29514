"""The app's rules without a server: the viewing rule, login backoff, broken items never shown as "done"."""

from __future__ import annotations

import pytest

from annotate.app import Page, PageSettings
from annotate.service import AccessDenied, AnnotationService, TooEarly
from annotate.store import add_user
from annotate.throttle import LoginThrottle
from db.engine import session_scope

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr("annotate.service.time.monotonic", c)
    return c


def test_a_score_counts_only_after_loading_and_the_minimum_viewing_time(sqlite_url, tmp_home, make_fake_dataset,
                                                                         clock) -> None:
    from annotate import controls

    ids = make_fake_dataset(sqlite_url, 4)
    controls.set_controls(sqlite_url, {ids[0]: 4})
    with session_scope(sqlite_url) as s:
        add_user(s, "ann", PASSWORD)
    svc = AnnotationService(sqlite_url, tmp_home, control_every=2, min_view_s=1.0)
    first = svc.assigned("ann")
    with pytest.raises(TooEarly, match="not finished loading"):
        svc.record("ann", first, 3)
    with pytest.raises(AccessDenied, match="not the item assigned"):
        svc.mark_seen("ann", next(t for t in ids if t != first))
    svc.mark_seen("ann", first)
    clock.now += 0.99
    with pytest.raises(TooEarly, match="at least 1 s"):
        svc.record("ann", first, 3)
    svc.mark_seen("ann", first)  # a second report (a reload) does not restart the clock
    clock.now += 0.01
    second = svc.record("ann", first, 3)
    assert second == ids[0]  # every 2nd item is the control item: the same rule applies to it
    with pytest.raises(TooEarly):  # the previous item's "seen" does not carry over
        svc.record("ann", second, 4)
    assert svc.record("ann", second, None) is not None  # a skip needs no viewing time
    assert svc.take_back("ann") == (second, None)
    with pytest.raises(TooEarly):  # ... and an undo brings the item back unseen
        svc.record("ann", second, 4)
    svc.mark_seen("ann", second)
    clock.now += 1.0
    svc.record("ann", second, 4)
    assert svc.progress("ann").rated == 2


def test_login_backoff_doubles_and_resets() -> None:
    t = Clock()
    throttle = LoginThrottle(free=3, base_s=2.0, max_s=10.0, forget_s=100.0, clock=t)
    assert [throttle.failed("Ann", "10.0.0.1") for _ in range(3)] == [0, 0, 0]
    assert throttle.wait_s("ann", "10.0.0.9") == 0  # within the free failures: no lock
    locks = [throttle.failed("ann", "10.0.0.1") for _ in range(4)]
    assert locks == [2.0, 4.0, 8.0, 10.0]  # 2 s doubling per further failure, capped at 10 s
    assert throttle.wait_s("ANN ", "10.0.0.9") == 10.0  # the name is locked from any address
    assert throttle.wait_s("bob", "10.0.0.1") == 10.0  # the address is locked for any name
    assert throttle.wait_s("bob", "10.0.0.9") == 0
    t.now += 10.0
    assert throttle.wait_s("ann", "10.0.0.1") == 0
    throttle.succeeded("ann", "10.0.0.1")
    assert throttle.failed("ann", "10.0.0.1") == 0  # a success starts the count afresh
    throttle.failed("eve", "10.0.0.2")
    t.now += 101.0
    throttle.failed("x", "10.0.0.3")  # records without a failure for forget_s are dropped
    assert "user:eve" not in throttle._records and "user:x" in throttle._records


def test_broken_items_are_reported_never_shown_as_done(blend_dataset, caplog) -> None:
    url, root, _ids = blend_dataset
    with session_scope(url) as s:
        add_user(s, "ann", PASSWORD)
    svc = AnnotationService(url, root, model="blend", min_view_s=0.0)
    page = Page(svc, PageSettings())
    first = svc.current("ann")
    first.gt.unlink()  # a frame disappears while the app runs
    svc._seen.clear()
    with caplog.at_level("ERROR", logger="annotate.service"):
        values = page.current("ann")  # e.g. a reload
    item, status = values[0], values[1]
    assert item and int(item) != first.triplet_id
    assert f"item #{first.triplet_id} could not be shown" in status and "reported" in status
    assert any(f"item {first.triplet_id} cannot be shown" in r.getMessage() for r in caplog.records)
    for f in (root / "triplets").rglob("frame_00.png"):  # now every item breaks
        f.unlink()
    svc._assigned.clear()
    values = page.current("ann")
    assert values[0] == "" and "No item can be shown" in values[1] and "All done" not in values[1]
    assert "6 remain" in values[1]
