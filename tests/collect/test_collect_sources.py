"""Vimeo-90K layouts and list files, Adobe240 fps normalisation, frame folders, per-group splits."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from collect.config import load_config
from collect.pipeline import collect
from collect.sources import list_clips
from db.engine import session_scope
from db.models import Clip, Triplet


def _vimeo(root: Path, synth, folder_writer, n: int, seqs: list[str]) -> None:
    for i, seq in enumerate(seqs):
        folder_writer(root / "sequences" / seq, synth(n, size=(112, 64), seed=i, shift=3), pattern="im{}.png")
        for j in range(n):  # Vimeo names frames im1..imN, not from 0
            (root / "sequences" / seq / f"im{j}.png").rename(root / "sequences" / seq / f"tmp{j}.png")
        for j in range(n):
            (root / "sequences" / seq / f"tmp{j}.png").rename(root / "sequences" / seq / f"im{j + 1}.png")


def _rows(url: str | None = None) -> list[tuple]:
    with session_scope(url) as s:
        return [tuple(r) for r in s.execute(
            select(Clip.key, Clip.split, Clip.group_key, Triplet.frame0, Triplet.stride).join(Clip))]


def test_vimeo_septuplet_strides_and_lists(tmp_home: Path, tmp_path: Path, synth, folder_writer, make_config) -> None:
    root = tmp_path / "vimeo_septuplet"
    seqs = ["00001/0001", "00001/0002", "00002/0001"]
    _vimeo(root, synth, folder_writer, 7, seqs)
    (root / "sep_trainlist.txt").write_text("00001/0001\n00001/0002\n")
    (root / "sep_testlist.txt").write_text("00002/0001\n00003/0009\n")  # last one is missing
    cfg = make_config([{"kind": "vimeo_septuplet", "path": str(root)}],
                      sampling={"strides": [1, 2, 3], "max_per_clip": 60})
    report = collect(load_config(cfg), progress=False, plot=False)
    rows = _rows()
    per_clip = {}
    for key, split, group, f0, stride in rows:
        per_clip.setdefault(key, set()).add((f0, stride))
    assert set(per_clip) == {f"vimeo_septuplet:vimeo_septuplet/{s}" for s in seqs}
    # 7 frames, candidates every 2*stride frames: stride 1 at 0, 2, 4; stride 2 at 0; stride 3 at 0
    assert all(v == {(0, 1), (2, 1), (4, 1), (0, 2), (0, 3)} for v in per_clip.values())
    # both sequences of video 00001 share a group, hence a split
    splits = {key: (split, group) for key, split, group, *_ in rows}
    a, b = (splits[f"vimeo_septuplet:vimeo_septuplet/00001/{x}"] for x in ("0001", "0002"))
    assert a == b and a[1] == "vimeo_septuplet:vimeo_septuplet/00001"
    assert [e.source for e in report.errors] == ["vimeo_septuplet:vimeo_septuplet/00003/0009"]


def test_vimeo_triplet_without_lists(tmp_home: Path, tmp_path: Path, synth, folder_writer, make_config) -> None:
    root = tmp_path / "vimeo_triplet"
    _vimeo(root, synth, folder_writer, 3, ["00005/0001", "00006/0002"])
    cfg = make_config([{"kind": "vimeo_triplet", "path": str(root)}], sampling={"strides": [1, 2]})
    collect(load_config(cfg), progress=False, plot=False)
    assert sorted((k.rsplit("/", 2)[-2], f0, s) for k, _, _, f0, s in _rows()) == [("00005", 0, 1), ("00006", 0, 1)]


def test_shared_vimeo_tiny_septuplet(tmp_home: Path, shared_data: Path, make_config) -> None:
    tiny = shared_data / "triplets" / "vimeo90k_septuplet_tiny"
    cfg = make_config([{"kind": "vimeo_septuplet", "path": str(tiny)}],
                      sampling={"strides": [1, 2, 3], "max_per_clip": 60}, filters={"min_motion": 0.0})
    report = collect(load_config(cfg), progress=False, plot=False)
    assert report.clips_processed == 1 and not report.errors
    assert {(f0, s) for *_, f0, s in _rows()} == {(0, 1), (2, 1), (4, 1), (0, 2), (0, 3)}


def test_adobe240_frame_folder_target_fps(tmp_home: Path, tmp_path: Path, synth, folder_writer, make_config) -> None:
    folder_writer(tmp_path / "adobe" / "IMG_0001", synth(40, size=(96, 64), shift=1))
    cfg = make_config([{"kind": "adobe240", "path": str(tmp_path / "adobe"), "strides": [], "target_fps": [30, 60, 480]}],
                      sampling={"max_per_clip": 10})
    report = collect(load_config(cfg), progress=False, plot=False)
    with session_scope() as s:
        got = {(t.stride, t.effective_fps) for t in s.scalars(select(Triplet))}
        clip = s.scalars(select(Clip)).one()
    assert got == {(8, 30.0), (4, 60.0)}  # 240 fps frames: 30 fps = every 8th, 60 fps = every 4th
    assert clip.fps == 240.0 and clip.source == "adobe240"
    assert report.strides_skipped == {"target_fps_above_source": 1}  # 480 fps cannot come from 240


def test_tiers_never_upscale(tmp_home: Path, tmp_path: Path, synth, video_writer, make_config) -> None:
    video_writer(tmp_path / "v" / "clip.avi", synth(20, size=(384, 288), shift=3))
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "v")}],
                      sampling={"strides": [1], "max_per_clip": 4, "tiers": ["1080p", "720p", "256p", "native"]})
    report = collect(load_config(cfg), progress=False, plot=False)
    assert report.tiers_skipped == {"1080p": 1, "720p": 1}
    with session_scope() as s:
        sizes = {(t.tier, t.width, t.height) for t in s.scalars(select(Triplet))}
        motion = {t.tier: t.motion_mean for t in s.scalars(select(Triplet).where(Triplet.frame0 == 0))}
    assert sizes == {("256p", 341, 256), ("native", 384, 288)}
    assert motion["native"] == pytest.approx(motion["256p"] * 288 / 256, rel=1e-3)
    # every stored path is a PNG of the stored size under the data root
    import cv2

    from dynvfi_core.paths import data_root

    with session_scope() as s:
        for t in s.scalars(select(Triplet)):
            for rel in (t.path0, t.path_gt, t.path1):
                img = cv2.imread(str(data_root() / rel))
                assert rel.endswith(".png") and img.shape[:2] == (t.height, t.width)


@pytest.mark.parametrize("size", [(384, 288), (192, 144)])
def test_stored_motion_is_the_pan_in_pixels_of_each_tier(size, tmp_home: Path, tmp_path: Path, synth, video_writer,
                                                          make_config) -> None:
    # the texture pans 3 px per frame at the source size: frame 0 to frame 2 (stride 1) is 6 px
    # there, and 6 * 256 / short side at the 256p tier. The 144p clip is analysed at its own size
    # (below the 256p analysis size), so its motion is rescaled twice on the way to the database
    video_writer(tmp_path / "v" / "clip.avi", synth(20, size=size, shift=3))
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "v")}], filters={"min_short_side": 128},
                      sampling={"strides": [1], "max_per_clip": 4, "tiers": ["256p", "native"]})
    collect(load_config(cfg), progress=False, plot=False)
    with session_scope() as s:
        rows = {t.tier: (t.motion_mean, t.motion_p95) for t in s.scalars(select(Triplet).where(Triplet.frame0 == 0))}
    short = size[1]
    want = {"native": 6.0} | ({"256p": 6.0 * 256 / short} if short > 256 else {})
    assert set(rows) == set(want)
    for tier, px in want.items():
        mean, p95 = rows[tier]
        assert mean == pytest.approx(px, rel=0.05) and p95 == pytest.approx(px, rel=0.1), (tier, rows)


def test_local_listing_is_sorted_and_relative(tmp_path: Path, synth, video_writer, folder_writer, make_config) -> None:
    video_writer(tmp_path / "src" / "b.avi", synth(4))
    folder_writer(tmp_path / "src" / "a" / "shot", synth(4))
    (tmp_path / "src" / "notes.txt").write_text("not a clip")
    clips, errors = list_clips(load_config(make_config([{"kind": "local", "path": str(tmp_path / "src")}])).sources)
    assert [(c.key, c.media) for c in clips] == [("local:src/a/shot", "frames"), ("local:src/b.avi", "video")]
    assert not errors


def test_every_static_candidate_is_counted_once(tmp_home: Path, tmp_path: Path, synth, video_writer,
                                               make_config) -> None:
    # 20 static frames, stride 1, 4 slots: frame0 can be 0..17 every 2 frames (9 candidates);
    # slots are 18 // 4 = 4 frames long, so frame0 = 16 falls in a fifth slot and is not planned:
    # 8 candidates, none moves, so none fills its slot and each is rejected once as near-static
    video_writer(tmp_path / "v" / "static.avi", synth(20, size=(96, 64), static=True))
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "v")}],
                      sampling={"strides": [1], "max_per_clip": 4, "tiers": ["native"]})
    report = collect(load_config(cfg), progress=False, plot=False)
    assert report.triplets_total == 0
    assert dict(report.rejected) == {"near_static": 8}
