"""``split_unit: shot``: the shots between hard cuts are the split units, balanced within a clip,
deterministic, shard-independent and re-splittable in place; ``clip`` (the default) is unchanged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from collect.config import demo_config, load_config, parse_config
from collect.pipeline import collect
from collect.store import shot_of, shot_splits, split_of
from db.engine import session_scope
from db.models import Clip, Triplet
from dynvfi_core.errors import ConfigError

CUTS = (15, 30, 45, 60, 75)  # six shots of 15 frames
SPLITS = (("train", 0.6), ("val", 0.2), ("test", 0.2))


@pytest.fixture
def cut_clips(tmp_path: Path, synth, video_writer) -> Path:
    """Four multi-shot videos (enough that two shards both get work)."""
    root = tmp_path / "clips"
    for i in range(4):
        video_writer(root / f"cuts{i}.avi", synth(90, cuts=CUTS, seed=10 * i))
    return root


def _config(make_config, root: Path, **top: object) -> Path:
    return make_config([{"kind": "local", "path": str(root)}],
                       sampling={"strides": [1, 2], "max_per_clip": 200},
                       splits=dict(SPLITS), **top)


def _rows(home: Path) -> set[tuple]:
    with session_scope(f"sqlite:///{home / 'dynvfi.sqlite'}") as s:
        return {(c.key, c.split, t.frame0, t.stride, t.split, t.path_gt)
                for t, c in s.execute(select(Triplet, Clip).join(Clip))}


def _run(home: Path, monkeypatch: pytest.MonkeyPatch, cfg: Path, **kw):
    monkeypatch.setenv("DYNVFI_HOME", str(home))
    monkeypatch.delenv("DYNVFI_DB", raising=False)
    monkeypatch.delenv("DYNVFI_DATA", raising=False)
    return collect(load_config(cfg), progress=False, plot=False, **kw)


def test_shot_split_fills_all_splits_one_split_per_shot(tmp_path: Path, monkeypatch, cut_clips, make_config) -> None:
    cfg = _config(make_config, cut_clips, split_unit="shot")
    report = _run(tmp_path / "h", monkeypatch, cfg)
    rows = _rows(tmp_path / "h")
    assert len(rows) == report.triplets_total > 0
    per_clip: dict[str, dict[int, set[str]]] = {}
    for key, clip_split, f0, _, split, _ in rows:
        per_clip.setdefault(key, {}).setdefault(shot_of(f0, list(CUTS)), set()).add(split)
        assert clip_split == "mixed"
    for key, shots in per_clip.items():
        assert len(shots) == len(CUTS) + 1, key
        assert all(len(s) == 1 for s in shots.values()), f"{key}: a shot spans two splits"
        # six equal shots, weights 0.6/0.2/0.2: whole shots can follow the weights exactly
        assert Counter(next(iter(s)) for s in shots.values()) == {"train": 4, "val": 1, "test": 1}
    assert {r[4] for r in rows} == {"train", "val", "test"}
    with session_scope(f"sqlite:///{tmp_path / 'h' / 'dynvfi.sqlite'}") as s:
        clip = s.scalars(select(Clip)).first()
        assert clip.stats["cuts"] == list(CUTS)
        assert [k for k, _ in clip.stats["shot_splits"]] == list(range(len(CUTS) + 1))
    # a re-run is idempotent and a fresh run reproduces the assignment exactly
    again = _run(tmp_path / "h", monkeypatch, cfg)
    assert again.clips_processed == 0 and _rows(tmp_path / "h") == rows
    _run(tmp_path / "fresh", monkeypatch, cfg)
    assert _rows(tmp_path / "fresh") == rows


def test_shot_split_shards_equal_one_run(tmp_path: Path, monkeypatch, cut_clips, make_config) -> None:
    cfg = _config(make_config, cut_clips, split_unit="shot")
    whole = _run(tmp_path / "one", monkeypatch, cfg)
    first = _run(tmp_path / "two", monkeypatch, cfg, shard=(1, 2))
    second = _run(tmp_path / "two", monkeypatch, cfg, shard=(2, 2))
    assert 0 < first.clips_in_shard < whole.clips_in_shard
    assert first.clips_in_shard + second.clips_in_shard == whole.clips_in_shard
    assert _rows(tmp_path / "two") == _rows(tmp_path / "one")


def test_clip_unit_default_and_switching_resplits_in_place(tmp_path: Path, monkeypatch, cut_clips,
                                                           make_config) -> None:
    home = tmp_path / "h"
    clip_cfg = _config(make_config, cut_clips)
    assert load_config(clip_cfg).split_unit == "clip"
    _run(home, monkeypatch, clip_cfg)
    by_clip = _rows(home)
    for key, clip_split, _, _, split, _ in by_clip:
        assert split == clip_split == split_of(key, SPLITS)  # a local file is its own group
    shot_cfg = _config(make_config, cut_clips, name="shot.yaml", split_unit="shot")
    switched = _run(home, monkeypatch, shot_cfg)
    assert switched.clips_processed == 4 and switched.triplets_added == 0
    by_shot = _rows(home)
    assert {r[2:4] + r[5:] for r in by_shot} == {r[2:4] + r[5:] for r in by_clip}  # same triplets, no copies
    assert {r[4] for r in by_shot} == {"train", "val", "test"}
    _run(tmp_path / "fresh", monkeypatch, shot_cfg)
    assert by_shot == _rows(tmp_path / "fresh")  # re-split in place == collected by shot from scratch
    back = _run(home, monkeypatch, clip_cfg)
    assert back.clips_processed == 4 and _rows(home) == by_clip


def test_shot_splits_rule() -> None:
    # fewer shots than splits: the clip is one unit and gets its clip-level split
    assert shot_splits("g", {0: 5, 1: 9}, SPLITS) == dict.fromkeys((0, 1), split_of("g", SPLITS))
    for n in range(3, 12):
        for group in ("a", "b", "c"):
            got = shot_splits(group, dict.fromkeys(range(n), 10), (("train", 0.8), ("val", 0.1), ("test", 0.1)))
            assert set(got) == set(range(n)) and set(got.values()) == {"train", "val", "test"}
            assert got == shot_splits(group, dict.fromkeys(range(n), 10), (("train", 0.8), ("val", 0.1), ("test", 0.1)))
    # many equal shots: sample shares follow the weights
    counts = Counter(shot_splits("g", dict.fromkeys(range(50), 4), SPLITS).values())
    assert counts == {"train": 30, "val": 10, "test": 10}
    # which shots go where depends on the clip group
    assert len({tuple(sorted(shot_splits(g, dict.fromkeys(range(8), 1), SPLITS).items()))
                for g in "abcdefgh"}) > 1


def test_split_unit_config() -> None:
    cfg = parse_config({"split_unit": "shot",
                        "sources": [{"kind": "local", "path": "x"}, {"kind": "local", "path": "y", "split_unit": "clip"}]})
    assert [s.split_unit for s in cfg.sources] == ["shot", "clip"]
    assert parse_config({"sources": [{"kind": "local", "path": "x"}]}).sources[0].split_unit == "clip"
    assert {s.split_unit for s in demo_config().sources} == {"shot"}
    for bad in ({"split_unit": "frame"}, {"sources": [{"kind": "local", "path": "x", "split_unit": 1}]}):
        with pytest.raises(ConfigError, match="split_unit must be one of"):
            parse_config({"sources": [{"kind": "local", "path": "x"}], **bad})
