"""Ready-made triplet folders, fixed per-source splits, tier shares and the shipped corpus config.

References: the source image files themselves (stored frames must equal them, in order),
hand-computed tier sizes, and sha256 draws computed here with hashlib.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from sqlalchemy import select

from collect.config import load_config
from collect.pipeline import collect
from collect.sampling import choose_tiers
from db.engine import session_scope
from db.models import Clip, Triplet
from dynvfi_core.errors import InputError

REPO = Path(__file__).resolve().parents[2]
CORPUS_CONFIG = REPO / "collect" / "configs" / "corpus.yaml"


def _write_triplet(folder: Path, names: tuple[str, str, str], seed: int, still: bool = False) -> list[np.ndarray]:
    """Three distinct BGR frames (or three identical ones) under the given file names."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)] * 3 if still else \
        [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    for name, img in zip(names, frames, strict=True):
        cv2.imwrite(str(folder / name), img)
    return frames


def test_triplet_folders_imported_whole_in_order(tmp_home: Path, tmp_path: Path, make_config) -> None:
    # planted bug: TRIPLET_LAYOUTS entry ("frame_00", "frame_02", "frame_01_gt") (gt and frame1
    # swapped) -> the stored middle frame was frame_02 and this test failed
    root = tmp_path / "trip"
    ucf = _write_triplet(root / "101", ("frame_00.png", "frame_01_gt.png", "frame_02.png"), 1)
    other = _write_triplet(root / "set" / "a", ("frame0.png", "gt.png", "frame1.png"), 2)
    still = _write_triplet(root / "7", ("frame_00.png", "frame_01_gt.png", "frame_02.png"), 3, still=True)
    (root / "broken").mkdir()
    cv2.imwrite(str(root / "broken" / "frame0.png"), ucf[0])
    # a scene "cut" inside a fixed triplet (unrelated random frames) and a static one: both kept
    cfg = make_config([{"kind": "triplets", "path": str(root), "name": "t"}],
                      sampling={"strides": [2, 4], "max_per_clip": 50, "tiers": ["native"]})
    url = f"sqlite:///{tmp_home / 'db.sqlite'}"
    report = collect(load_config(cfg), db_url=url, progress=False, plot=False)
    assert [e.source for e in report.errors] == ["triplets:t/broken"]
    assert "incomplete triplet folder" in report.errors[0].message
    with session_scope(url) as s:
        rows = {c.key: (c.group_key, [(t.frame0, t.stride, t.effective_fps, t.path0, t.path_gt, t.path1)
                                      for t in s.scalars(select(Triplet).where(Triplet.clip_id == c.id))])
                for c in s.scalars(select(Clip))}
    assert sorted(rows) == ["triplets:t/101", "triplets:t/7", "triplets:t/set/a"]
    for key, frames in (("triplets:t/101", ucf), ("triplets:t/set/a", other), ("triplets:t/7", still)):
        group, triplets = rows[key]
        assert group == key, "each ready-made triplet is its own split group"
        assert len(triplets) == 1
        f0, stride, fps, *paths = triplets[0]
        assert (f0, stride, fps) == (0, 1, None)
        for rel, expected in zip(paths, frames, strict=True):
            assert np.array_equal(cv2.imread(str(tmp_home / "data" / rel)), expected)
    assert report.rejected["scene_cut"] == 0 and report.rejected["near_static"] == 0


def test_choose_tiers_skips_a_tier_of_the_same_size() -> None:
    # planted bug: dropping the "size in chosen.values()" test -> 256x256 stored twice, failed
    assert choose_tiers(("256p", "native"), 256, 256) == ({"256p": (256, 256)}, ["native"])
    # 854x480: 256p is 455x256 (854*256/480 = 455.5 -> 455), native stays
    assert choose_tiers(("720p", "256p", "native"), 854, 480) == ({"256p": (455, 256), "native": (854, 480)}, ["720p"])


def test_fixed_split_and_tier_share(tmp_home: Path, tmp_path: Path, synth, video_writer, make_config) -> None:
    # planted bugs: save() ignoring ClipSpec.split (hash split instead) and in_tier comparing
    # with >= instead of < (the complementary subset): each made this test fail
    video_writer(tmp_path / "clips" / "pan.avi", synth(60, size=(384, 288), seed=9))
    cfg = make_config([{"kind": "local", "path": str(tmp_path / "clips"), "name": "v", "split": "test"}],
                      sampling={"strides": [1, 2], "step": 1, "max_per_clip": 200, "tiers": ["256p", "native"],
                                "tier_share": {"native": 0.3}},
                      filters={"min_short_side": 256, "min_motion": 0.0})
    url = f"sqlite:///{tmp_home / 'db.sqlite'}"
    collect(load_config(cfg), db_url=url, progress=False, plot=False)
    with session_scope(url) as s:
        rows = [(t.tier, t.frame0, t.stride, t.split) for t in s.scalars(select(Triplet))]
    assert {r[3] for r in rows} == {"test"}
    small = {(f0, st) for tier, f0, st, _ in rows if tier == "256p"}
    large = {(f0, st) for tier, f0, st, _ in rows if tier == "native"}
    assert small == {(f0, st) for st in (1, 2) for f0 in range(60 - 2 * st)}
    key = "local:v/pan.avi"
    expected = {(f0, st) for f0, st in small
                if int(hashlib.sha256(f"tier:{key}#{f0}#{st}#native".encode()).hexdigest()[:15], 16) / 16**15 < 0.3}
    assert large == expected and 0 < len(large) < len(small)


def test_corpus_config_is_valid_and_fails_clearly_without_the_corpus(tmp_home: Path, tmp_path: Path) -> None:
    config = load_config(CORPUS_CONFIG)
    names = [s.name for s in config.sources]
    assert len(names) == len(set(names))
    # every clip source has a fixed split; 8+ strides and a larger tier never appear without 256p
    for s in config.sources:
        assert "256p" in s.sampling.tiers
        if s.kind == "local":
            assert s.split in ("train", "val", "test") and max(s.sampling.strides) >= 8
    # the same file elsewhere: its relative corpus paths resolve to nothing -> one clear error
    copy = tmp_path / "corpus.yaml"
    copy.write_text(CORPUS_CONFIG.read_text())
    with pytest.raises(InputError, match=r"^no clips found: local:sam2_dog: source path does not exist: .*sam2_dog\.mp4"):
        collect(load_config(copy), db_url=f"sqlite:///{tmp_home / 'db.sqlite'}", progress=False, plot=False)


def test_corpus_config_finds_every_source(shared_data: Path) -> None:
    if not (shared_data / "corpus").is_dir() or CORPUS_CONFIG.resolve().parents[3] / "shared" / "data" != shared_data:
        pytest.skip("corpus not at the path the shipped config expects")
    from collect.sources import list_clips

    clips, errors = list_clips(load_config(CORPUS_CONFIG).sources)
    assert not errors
    data = yaml.safe_load(CORPUS_CONFIG.read_text())
    videos_and_sequences = sum(1 for s in data["sources"] if s["kind"] == "local")
    # 28 videos/sequences + 221 UCF101 triplets + 1 CG triplet (corpus/SOURCES.md)
    assert videos_and_sequences == 28 and len(clips) == 28 + 221 + 1


def test_motion_classes_read_from_sources_md(tmp_path: Path) -> None:
    # planted bug: the regex without "/?" after the name -> the sequences row was missed, failed
    from collect.corpus_table import motion_classes

    md = tmp_path / "SOURCES.md"
    md.write_text(
        "| file | repo | motion | notes |\n|---|---|---|---|\n"
        "| videos/a_dog.mp4 | x `demo/01_dog.mp4` (2b9) | small (4.93 / 0.88) |  |\n"
        "| sequences/fast_pan/ | y | large (82.81 / 40.33) | film |\n"
        "| triplets/ucf/ | 221 ids | 16.8..32.5..55.9 | 3.2 (43.7) |\n")
    assert motion_classes(md) == {"a_dog.mp4": "small", "fast_pan": "large"}
