"""Task routing, votes, undo/skip, control items and refusals — on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from annotate.service import AccessDenied, AnnotationService, BrokenItem
from annotate.store import add_user, auto_annotator, check_login, upsert_vote
from db.annotation import Interpolation, Vote
from db.engine import session_scope
from db.models import Triplet
from dynvfi_core.errors import InputError
from dynvfi_core.imageio import write_image

PASSWORD = "correct horse battery"


def users(url: str, *names: str) -> None:
    with session_scope(url) as s:
        for n in names:
            add_user(s, n, PASSWORD)


def votes(url: str) -> list[tuple]:
    with session_scope(url) as s:
        return s.execute(select(Vote.annotator_id, Vote.triplet_id, Vote.score, Vote.skipped)
                         .order_by(Vote.id)).all()


def drain(svc: AnnotationService, name: str, score: int = 3, limit: int | None = None) -> list[int]:
    """Vote on every item the annotator is given; return the ids in the order given."""
    seen = []
    tid = svc.assigned(name)
    while tid is not None and (limit is None or len(seen) < limit):
        seen.append(tid)
        tid = svc.record(name, tid, score)
    return seen


def test_items_below_n_come_first_and_nobody_rates_twice(db_url, tmp_home, make_fake_dataset) -> None:
    ids = make_fake_dataset(db_url, 6)
    users(db_url, "ann", "bob", "cid")
    svc = AnnotationService(db_url, tmp_home, ratings_wanted=2)
    a = drain(svc, "ann")
    assert sorted(a) == ids and svc.assigned("ann") is None  # each item exactly once, then done
    b = drain(svc, "bob", limit=3)
    full = set(b)  # these now have the 2 ratings wanted
    c = drain(svc, "cid", limit=3)
    assert set(c) == set(ids) - full
    assert svc.progress("ann").rated == 6 and svc.progress("cid").remaining == 3


def test_order_is_random_per_annotator_and_survives_a_restart(db_url, tmp_home, make_fake_dataset) -> None:
    make_fake_dataset(db_url, 16)
    users(db_url, "ann", "bob")
    svc = AnnotationService(db_url, tmp_home, ratings_wanted=5)
    order_a = drain(svc, "ann", limit=4)
    first_b = svc.assigned("bob")
    restarted = AnnotationService(db_url, tmp_home, ratings_wanted=5)
    assert restarted.assigned("ann") == svc.assigned("ann")  # resumes from the DB
    assert restarted.assigned("bob") == first_b
    order_b = drain(restarted, "bob")
    assert order_b[:4] != order_a  # 1 in 43680 to coincide by chance


def test_skip_undo_and_rerate(db_url, tmp_home, make_fake_dataset) -> None:
    make_fake_dataset(db_url, 4)
    users(db_url, "ann")
    svc = AnnotationService(db_url, tmp_home)
    first = svc.assigned("ann")
    second = svc.record("ann", first, 3)
    third = svc.record("ann", second, None)  # skip
    assert svc.progress("ann").skipped == 1 and svc.progress("ann").rated == 1
    assert third not in (first, second)
    assert svc.take_back("ann") == (second, None)
    assert svc.take_back("ann") == (first, 3)
    assert votes(db_url) == [] and svc.assigned("ann") == first
    svc.record("ann", first, 2)
    assert [(v[1], v[2]) for v in votes(db_url)] == [(first, 2)]


def test_upsert_updates_instead_of_duplicating(db_url, make_fake_dataset) -> None:
    ids = make_fake_dataset(db_url, 1)
    users(db_url, "ann")
    with session_scope(db_url) as s:
        uid = check_login(s, "ann", PASSWORD).id
        upsert_vote(s, uid, ids[0], 1)
        upsert_vote(s, uid, ids[0], 4)
    assert [(v[2], v[3]) for v in votes(db_url)] == [(4, False)]
    with session_scope(db_url) as s, pytest.raises(InputError):
        upsert_vote(s, uid, ids[0], 5)


def test_control_items_are_mixed_in_and_scored(db_url, tmp_home, make_fake_dataset) -> None:
    from annotate import controls, stats

    ids = make_fake_dataset(db_url, 9)
    controls.set_controls(db_url, {ids[0]: 4, ids[1]: 1})
    users(db_url, "ann")
    svc = AnnotationService(db_url, tmp_home, control_every=3, ratings_wanted=1)
    seq, tid = [], svc.assigned("ann")
    while tid is not None:
        seq.append(tid)
        tid = svc.record("ann", tid, 4)
    assert sorted(seq) == ids
    assert seq[2] in ids[:2] and seq[5] in ids[:2]  # every 3rd item is a control
    row = next(a for a in stats.compute(db_url)["annotators"] if a["annotator"] == "ann")
    assert row["controls"] == 2 and row["control_accuracy"] == 0.5 and row["control_within1"] == 0.5


def test_refusals_change_nothing(db_url, tmp_home, make_fake_dataset) -> None:
    ids = make_fake_dataset(db_url, 3)
    users(db_url, "ann", "bob")
    with session_scope(db_url) as s:
        auto_annotator(s, "psnr")
    svc = AnnotationService(db_url, tmp_home)
    assert svc.login("ann", PASSWORD)
    assert not svc.login("ann", "wrong password!")
    assert not svc.login("nobody", PASSWORD)
    assert not svc.login("auto:psnr", "")
    for name in (None, "", "nobody", "auto:psnr"):  # missing or invalid session
        with pytest.raises(AccessDenied):
            svc.assigned(name)
        with pytest.raises(AccessDenied):
            svc.record(name, ids[0], 3)
        with pytest.raises(AccessDenied):
            svc.take_back(name)
    mine = svc.assigned("ann")
    forged = next(t for t in ids if t != mine)
    for bad in (forged, 999999, "1 OR 1=1", "../1"):
        with pytest.raises(AccessDenied):
            svc.record("ann", bad, 3)
    with pytest.raises(AccessDenied):
        svc.record("ann", mine, 7)
    assert votes(db_url) == []
    assert svc.assigned("ann") == mine


def test_paths_outside_the_data_root_are_never_served(sqlite_url, tmp_home, make_triplets) -> None:
    root = tmp_home / "data"
    img = np.full((32, 32, 3), 128, np.uint8)
    for rel in ("t/0.png", "t/gt.png", "t/1.png"):
        write_image(root / rel, img)
    write_image(tmp_home / "secret.png", img)
    (root / "t" / "link.png").symlink_to(tmp_home / "secret.png")
    ids = make_triplets(sqlite_url, [("t/0.png", "t/gt.png", "t/1.png")] * 3, size=(32, 32))
    bad_paths = ["../secret.png", "t/link.png", str(tmp_home / "secret.png")]
    with session_scope(sqlite_url) as s:
        for tid, p in zip(ids, bad_paths):
            s.add(Interpolation(triplet_id=tid, model="rife-v4.25", path=p))
    users(sqlite_url, "ann")
    svc = AnnotationService(sqlite_url, root)
    for tid in ids:
        with pytest.raises(AccessDenied, match="data root"):
            svc.view("ann", tid)
    with pytest.raises(BrokenItem, match="set aside"):  # nothing showable, which is not "all done"
        svc.current("ann")
    assert votes(sqlite_url) == []  # ... and records nothing for them
    good = make_triplets(sqlite_url, [("t/0.png", "t/gt.png", "t/1.png")], size=(32, 32))[0]
    with session_scope(sqlite_url) as s:
        s.add(Interpolation(triplet_id=good, model="rife-v4.25", path="t/gt.png"))
    view = svc.current("ann")
    assert view.triplet_id == good and view.rife == (root / "t/gt.png").resolve()


def test_account_rules(sqlite_url) -> None:
    with session_scope(sqlite_url) as s:
        add_user(s, "ann", PASSWORD)
        stored = s.scalar(select(func.max(Triplet.id)))
        assert stored is None
    with session_scope(sqlite_url) as s:
        for name, pw in (("ann", PASSWORD), ("auto:x", PASSWORD), ("bad name", PASSWORD), ("eve", "short")):
            with pytest.raises(InputError):
                add_user(s, name, pw)
        user = check_login(s, "ann", PASSWORD)
        assert user.password_hash.startswith("$2") and PASSWORD not in user.password_hash
        add_user(s, "ann", "another password", update=True)
    with session_scope(sqlite_url) as s:
        assert check_login(s, "ann", PASSWORD) is None and check_login(s, "ann", "another password")


def test_add_user_cli_reads_the_password_from_stdin(sqlite_url, monkeypatch, capsys) -> None:
    import io

    from dynvfi_core.cli import main as cli

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli(["annotate", "add-user", "--db", sqlite_url, "--password-stdin", "zoe"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli(["annotate", "add-user", "--db", sqlite_url, "--password-stdin", "zoe"]) == 2
    assert "already exists" in capsys.readouterr().err
    with session_scope(sqlite_url) as s:
        assert check_login(s, "zoe", PASSWORD) is not None



def test_others_votes_leave_no_trace_on_the_page(blend_dataset) -> None:
    from annotate.app import Page, PageSettings

    url, root, _ids = blend_dataset
    users(url, "ann", "bob")
    svc = AnnotationService(url, root, model="blend")
    page = Page(svc, PageSettings())
    item = svc.assigned("ann")
    before = page.render(svc.view("ann", item), "ann")
    while (tid := svc.assigned("bob")) is not None:  # bob rates everything, ann's item included
        svc.record("bob", tid, 1)
    after = page.render(svc.view("ann", item), "ann")
    assert repr(after) == repr(before)
