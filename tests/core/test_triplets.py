"""Layout auto-detection of ``discover`` on every supported benchmark layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dynvfi_core.errors import InputError
from dynvfi_core.imageio import write_image
from dynvfi_core.triplets import discover


def _frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        write_image(folder / n, np.full((8, 8, 3), i * 10, np.uint8))


def test_each_folder_layout(tmp_path: Path) -> None:
    _frames(tmp_path / "mb" / "Beanbags", ["frame10.png", "frame10i11.png", "frame11.png"])
    _frames(tmp_path / "ucf" / "7", ["frame_00.png", "frame_01_gt.png", "frame_02.png"])
    _frames(tmp_path / "vt" / "00001" / "0001", ["im1.png", "im2.png", "im3.png"])
    found = {t.layout: t for t in discover(tmp_path)}
    assert set(found) == {"middlebury", "ucf101", "vimeo_triplet"}
    assert found["middlebury"].gt.name == "frame10i11.png"
    assert found["ucf101"].frame1.name == "frame_02.png"
    assert found["vimeo_triplet"].id == "vt/00001/0001"


def test_septuplet_strides(tmp_path: Path) -> None:
    _frames(tmp_path / "seq", [f"im{i}.png" for i in range(1, 8)])
    found = discover(tmp_path)
    by = {}
    for t in found:
        by.setdefault(t.subset, []).append((t.frame0.name, t.gt.name, t.frame1.name))
    assert len(by["stride1"]) == 5 and len(by["stride2"]) == 3
    assert by["stride3"] == [("im1.png", "im4.png", "im7.png")]
    assert ("im3.png", "im5.png", "im7.png") in by["stride2"]


def test_vimeo_list_file_restricts_sequences(tmp_path: Path) -> None:
    for seq in ("00001/0001", "00001/0002"):
        _frames(tmp_path / "sequences" / seq, ["im1.png", "im2.png", "im3.png"])
    (tmp_path / "tri_testlist.txt").write_text("00001/0002\n")
    found = discover(tmp_path)
    assert [t.frame0.parent.name for t in found] == ["0002"]


def test_snu_film_lists_resolve_relative_paths(tmp_path: Path) -> None:
    root = tmp_path / "frames_root"
    seq = root / "data" / "SNU-FILM" / "test" / "GOPRO_test" / "A"
    _frames(seq, ["000001.png", "000002.png", "000003.png", "000005.png"])
    lists = tmp_path / "lists"
    lists.mkdir()
    rel = "data/SNU-FILM/test/GOPRO_test/A"
    (lists / "test-easy.txt").write_text(f"{rel}/000001.png {rel}/000002.png {rel}/000003.png\n")
    (lists / "test-hard.txt").write_text(f"{rel}/000001.png {rel}/000003.png {rel}/000005.png\n\n")
    found = discover(lists, root=root)
    assert [t.subset for t in found] == ["easy", "hard"]
    assert found[1].gt == root / rel / "000003.png"
    snu_root = root / "data" / "SNU-FILM"  # the official lists' prefix is dropped when needed
    assert discover(lists, root=snu_root)[0].frame0 == seq / "000001.png"
    with pytest.raises(InputError, match="missing"):
        discover(lists)  # without the root the frames cannot be found


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        discover(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no triplets found"):
        discover(tmp_path / "empty")
    bad = tmp_path / "bad.txt"
    bad.write_text("a b\n")
    with pytest.raises(InputError, match="expected 'frame0 gt frame1'"):
        discover(bad)


def test_shared_sample_sets(shared_data: Path) -> None:
    found = discover(shared_data / "triplets")
    layouts = {t.layout for t in found}
    assert layouts == {"ucf101", "vimeo_septuplet"}
    assert sum(t.layout == "ucf101" for t in found) == 48
