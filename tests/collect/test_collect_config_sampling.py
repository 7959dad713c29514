"""Config validation, tier sizes, stride normalisation and the slot plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from collect.config import Sampling, demo_config, load_config, parse_config
from collect.sampling import Stride, choose_strides, plan, tier_size
from collect.store import split_of
from dynvfi_core.errors import ConfigError


@pytest.mark.parametrize("data, message", [
    ({}, "non-empty list"),
    ({"sources": [{"kind": "youtube", "path": "x"}]}, "kind must be one of"),
    ({"sources": [{"kind": "local"}]}, "'path' is required"),
    ({"sources": [{"kind": "local", "path": "x", "tiers": ["4k"]}]}, "unknown tier"),
    ({"sources": [{"kind": "local", "path": "x", "strides": [0]}]}, "strides must be integers"),
    ({"sources": [{"kind": "local", "path": "x", "colour": 1}]}, "unknown key"),
    ({"sources": [{"kind": "local", "path": "x"}], "filters": {"min_motion": "low"}}, "filters.min_motion must be a valid number"),
    ({"sources": [{"kind": "local", "path": "x"}], "splits": {"train": -1}}, "splits"),
    ({"sources": [{"kind": "local", "path": "a/x"}, {"kind": "local", "path": "b/x"}]}, "share a name"),
])
def test_config_errors_are_one_line(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(data)
    assert "\n" not in str(info.value)


def test_yaml_paths_relative_to_file_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "c.yaml").write_text(
        "sampling: {strides: [2, 1, 2], tiers: [256p, 720p]}\n"
        "data_root: out\n"
        "sources:\n  - {kind: local, path: videos, max_per_clip: 5}\n  - {kind: adobe240, path: /abs/a240}\n")
    cfg = load_config(tmp_path / "cfg" / "c.yaml")
    local, adobe = cfg.sources
    assert local.path == str(tmp_path / "cfg" / "videos") and cfg.data_root == str(tmp_path / "cfg" / "out")
    assert local.sampling == Sampling(strides=(1, 2), max_per_clip=5, tiers=("720p", "256p"))
    assert adobe.fps == 240.0 and adobe.sampling.max_per_clip == 60
    over = cfg.with_overrides(tiers=("native",), max_per_clip=None)
    assert [s.sampling.tiers for s in over.sources] == [("native",), ("native",)]
    assert over.config_hash() != cfg.config_hash()
    assert cfg.with_overrides(tiers=None) is cfg
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_demo_config_uses_wheel_clips() -> None:
    cfg = demo_config()
    assert [Path(s.path).name for s in cfg.sources] == ["bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4"]
    assert all(Path(s.path).is_file() and s.sampling.tiers == ("256p",) for s in cfg.sources)


def test_tier_size_never_upscales() -> None:
    assert tier_size("720p", 1920, 1080) == (1280, 720)
    assert tier_size("256p", 1080, 1920) == (256, 455)  # portrait: the short side is the width
    assert tier_size("1080p", 1280, 720) is None
    assert tier_size("720p", 1280, 720) == (1280, 720)
    assert tier_size("native", 77, 33) == (77, 33)


def test_strides_from_target_fps() -> None:
    strides, skipped = choose_strides(Sampling(strides=(1,), target_fps=(30.0, 60.0, 120.0, 500.0)), 240.0)
    assert strides == [Stride(1, 240.0), Stride(2, 120.0), Stride(4, 60.0), Stride(8, 30.0)]
    assert skipped == {"target_fps_above_source": 1}
    strides, skipped = choose_strides(Sampling(strides=(2,), target_fps=(30.0,)), None)
    assert strides == [Stride(2, None)] and skipped == {"target_fps_unknown_source_fps": 1}


def test_plan_spreads_slots_over_the_clip() -> None:
    cands = plan([Stride(1, None), Stride(4, None)], frame_count=1000, max_per_clip=6, step=None)
    slots = {(c.stride, c.slot) for c in cands}
    assert slots == {(1, k) for k in range(3)} | {(4, k) for k in range(3)}
    firsts = sorted(min(c.frame0 for c in cands if (c.stride, c.slot) == s) for s in slots if s[0] == 1)
    assert firsts == [0, 332, 664]  # one slot per third of the clip, not all at its start
    assert all(c.last < 1000 for c in cands)
    assert [c.last for c in cands] == sorted(c.last for c in cands)
    # unknown length: one candidate per slot, every 2*stride frames
    assert [(c.frame0, c.slot) for c in plan([Stride(2, None)], None, 3, None)] == [(0, 0), (4, 1), (8, 2)]
    assert plan([Stride(5, None)], frame_count=8, max_per_clip=4, step=None) == []


def test_split_is_deterministic_and_weighted() -> None:
    splits = (("train", 0.8), ("val", 0.1), ("test", 0.1))
    got = [split_of(f"group{i}", splits) for i in range(2000)]
    assert got == [split_of(f"group{i}", splits) for i in range(2000)]
    assert 0.75 < got.count("train") / 2000 < 0.85 and got.count("test") > 100
