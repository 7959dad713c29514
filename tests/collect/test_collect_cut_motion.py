"""Fast continuous motion is not a scene cut; real cuts still are (motion-compensated confirmation).

References: PySceneDetect's own ContentDetector frame score (for the HSV difference), frames
whose motion and cuts are known by construction (synthetic pans), the bikes clip's five cuts
(SOURCES.md) and corpus clips verified by eye as continuous (collect/cut_eval.yaml).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scenedetect import ContentDetector, FrameTimecode
from sqlalchemy import select

from collect.config import load_config
from collect.cut_eval import evaluate, match
from collect.pipeline import collect
from db.engine import session_scope
from db.models import Triplet
from dynvfi_core.analysis import SceneCuts, hsv_difference

BIKES_CUTS = (30, 76, 137, 187, 242)


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """Random texture of ~10 px blobs: 9 px of motion changes most pixels (ContentDetector score
    ~55, twice its threshold), while DIS flow still tracks it (finer textures alias at DIS's
    coarse levels: a 3 px texture panning 9 px/frame is not compensated)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 10 + 1, w // 10 + 1, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _pan(n: int, shift: int, cut_at: int | None = None, size: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    """Frames of a texture panning ``shift`` px per frame; a different texture from ``cut_at`` on."""
    w, h = size
    scenes = [_texture(h, w + n * shift, seed) for seed in (1, 2)]
    frames = []
    for i in range(n):
        scene, start = (1, cut_at) if cut_at is not None and i >= cut_at else (0, 0)
        x = (i - start) * shift
        frames.append(np.ascontiguousarray(scenes[scene][:, x : x + w]))
    return frames


def test_hsv_difference_is_contentdetectors_score() -> None:
    a, b = _texture(64, 80, 3), _texture(64, 80, 4)
    det = ContentDetector(threshold=255.0, min_scene_len=0)
    det.process_frame(FrameTimecode(0, fps=25.0), a)
    det.process_frame(FrameTimecode(1, fps=25.0), b)
    assert hsv_difference(a, b) == pytest.approx(det._frame_score, abs=1e-6)
    # hand-computed: black vs white differs in V only (255), H and S stay 0 -> mean 85
    black, white = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)
    assert hsv_difference(black, white) == pytest.approx(85.0)


def test_fast_pan_is_not_a_cut_but_a_cut_still_is() -> None:
    # planted bug: motion_residual warping with the forward flow (dis.calc(g0, g1)) instead of
    # the backward one leaves the pan's jumps unexplained -> this test failed (cuts at 1..n-1)
    n, cut_at = 24, 12
    frames = _pan(n, shift=9, cut_at=cut_at)
    plain, compensated = SceneCuts(27.0, 25.0), SceneCuts(27.0, 25.0, residual=24.0)
    for i, f in enumerate(frames):
        plain.add(i, f)
        compensated.add(i, f)
    assert len(plain.cuts) >= n // 2, "the pan should look like cuts to ContentDetector alone"
    assert compensated.cuts == {cut_at}
    assert compensated.explained == plain.cuts - {cut_at}


def test_match_counts_hand_computed() -> None:
    s = match([29, 31, 77, 100], (30, 76, 137), tolerance=1)
    # 29 takes 30 (31 is as near but comes second), 77 takes 76, 31 and 100 are false, 137 missed
    assert (s.true_pos, s.false_cuts, s.missed) == (2, [31, 100], [137])


def test_cut_eval_bikes_and_a_fast_pan(tmp_path: Path, bikes_clip: Path, shared_data: Path) -> None:
    soldier = shared_data / "corpus" / "sequences" / "bimvfi_soldier"
    if not soldier.is_dir():
        pytest.skip("corpus not on this machine")
    (tmp_path / "data" / "videos").mkdir(parents=True)
    (tmp_path / "data" / "videos" / "bikes.mp4").symlink_to(bikes_clip)
    (tmp_path / "data" / "soldier").symlink_to(soldier, target_is_directory=True)
    spec = tmp_path / "spec.yaml"
    # splices: soldier's first 10 frames then bikes' and the reverse: a known cut at frame 10 of
    # each, next to (or inside) the fast pan
    spec.write_text("tolerance: 1\nclips:\n"
                    f"  - {{path: videos/bikes.mp4, cuts: {list(BIKES_CUTS)}}}\n"
                    "  - {path: soldier, cuts: [], motion: large}\n"
                    "splices: {frames: 10, clips: [soldier, videos/bikes.mp4]}\n")
    result = evaluate(spec, residual=24.0, root=tmp_path / "data")
    bikes, soldier = result["clips"]
    assert bikes["before"]["true_pos"] == bikes["after"]["true_pos"] == 5
    assert not bikes["before"]["false_cuts"] and not bikes["after"]["false_cuts"]
    # soldier: a fast pan over 11 frames that ContentDetector alone cut at 9 of its 10 frame pairs
    assert soldier["before"]["detected"] == [1, 2, 4, 5, 6, 7, 8, 9, 10] and soldier["after"]["detected"] == []
    assert [r["after"]["detected"] for r in result["splices"]] == [[10], [10]]
    before, after = result["totals"]["before"], result["totals"]["after"]
    assert before["fn"] == 0 and before["fp"] >= 9
    assert (after["tp"], after["fp"], after["fn"]) == (7, 0, 0)
    assert result["residual_range"]["true_cuts"][0] > 24.0 > result["residual_range"]["explained_jumps"][1]


@pytest.mark.parametrize("rel, frames", [("videos/cotracker_pillow.mp4", 147), ("sequences/bimvfi_soldier", 11)])
def test_continuous_fast_motion_keeps_its_pairs(tmp_home: Path, shared_data: Path, make_config, rel: str,
                                                frames: int) -> None:
    # planted bug: Filters.cut_residual default 0 (plain ContentDetector) -> 24 of pillow's and
    # 9 of soldier's stride-1 pairs were rejected as scene cuts and this test failed
    path = shared_data / "corpus" / rel
    if not path.exists():
        pytest.skip(f"corpus clip {rel} not on this machine")
    cfg = make_config([{"kind": "local", "path": str(path), "name": "fast"}],
                      sampling={"strides": [1], "step": 1, "max_per_clip": 1000, "tiers": ["256p"]},
                      filters={"min_short_side": 256, "min_motion": 0.0})
    url = f"sqlite:///{tmp_home / 'db.sqlite'}"
    report = collect(load_config(cfg), db_url=url, progress=False, plot=False)
    assert report.rejected["scene_cut"] == 0
    with session_scope(url) as s:
        stored = sorted(s.scalars(select(Triplet.frame0)))
    assert stored == list(range(frames - 2)), "every stride-1 pair of the continuous clip is kept"
