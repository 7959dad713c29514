"""``dynvfi heavy-compare`` offers the hand-supplied heavy models exactly where their files are."""

from __future__ import annotations

from pathlib import Path

from dynvfi_core.routing.heavy_study import CANDIDATES_DEFAULT, default_candidates


def test_no_hand_supplied_candidates_without_their_files(empty_home: Path):
    assert default_candidates() == list(CANDIDATES_DEFAULT)


def test_each_installed_file_adds_its_model(empty_home: Path):
    small = empty_home / "weights" / "ema-vfi-small" / "ours_small.pkl"
    small.parent.mkdir(parents=True)
    small.write_bytes(b"placed by the user")
    assert default_candidates() == [*CANDIDATES_DEFAULT, "ema-vfi:variant=small"]
    vfiformer = empty_home / "weights" / "vfiformer" / "net_220.pth"
    vfiformer.parent.mkdir(parents=True)
    vfiformer.write_bytes(b"placed by the user")
    assert default_candidates() == [*CANDIDATES_DEFAULT, "vfiformer", "ema-vfi:variant=small"]
